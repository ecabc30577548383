"""The MQTT password written in raspyd's config never reaches what raspyd prints:
`--print-config` (pasted into a bug report) and a refusal of its type (a start's
stderr, which the journal keeps, and `--check-config`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from raspy import config as config_mod

SECRET = "12345678"  # noqa: S105  # a test password


def _raspyd(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "raspy.cli.raspyd", *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_print_config_does_not_print_the_mqtt_password(tmp_path: Path) -> None:
    config = tmp_path / "raspyd.toml"
    config.write_text(f'[mqtt]\nusername = "hub"\npassword = "{SECRET}"\n')
    result = _raspyd("--print-config", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert SECRET not in result.stdout + result.stderr
    assert "# password = (set, not shown: a secret)" in result.stdout.splitlines()
    # what is printed still loads, the password left at its default
    loaded = config_mod.load(result.stdout, "printed")
    assert (loaded.mqtt.username, loaded.mqtt.password) == ("hub", "")


@pytest.mark.parametrize(
    ("written", "kind"),
    [(SECRET, "an integer"), (f'["{SECRET}"]', "a list"), ("12345678.5", "a number")],
)
def test_a_password_of_the_wrong_type_is_refused_without_its_value(
    tmp_path: Path, written: str, kind: str
) -> None:
    """A numeric password written without quotes: the reason named it whole."""
    config = tmp_path / "raspyd.toml"
    config.write_text(f'[mqtt]\nusername = "hub"\npassword = {written}\n')
    for flags in (
        ["--check-config", str(config)],
        ["--print-config", "--config", str(config)],
    ):
        result = _raspyd(*flags)
        assert result.returncode == 2
        assert SECRET not in result.stdout + result.stderr
        assert result.stderr == (
            f"raspyd: {config}: mqtt.password: expected a string, got {kind}"
            " (not shown: a secret)\n"
        )
