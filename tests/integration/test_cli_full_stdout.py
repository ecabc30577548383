"""A tool whose stdout is a file on a full disk (`raspy status > FILE`): one line
saying stdout could not be written and status 1, a runtime failure, as raspy-kv
says it (tests/integration/test_kv_cli_refusals.py); raspy and raspyd said
"internal error ... a bug in raspy" and 70."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full"),
]

_SCENARIO = "name: a\ntriggers: [{startup: true}]\nactions: [{log: hi}]\n"


def _into_full_disk(module: str, *args: str) -> tuple[int, str]:
    with Path("/dev/full").open("wb") as full:
        done = subprocess.run(
            [sys.executable, "-m", module, *args],
            stdin=subprocess.DEVNULL,
            stdout=full,
            stderr=subprocess.PIPE,
            timeout=50,
            check=False,
        )
    return done.returncode, done.stderr.decode()


@pytest.mark.parametrize(
    ("module", "args", "head"),
    [
        ("raspy.cli.raspy", ("keys", "{dir}/keys", "hub"), "raspy keys"),
        (
            "raspy.cli.raspy",
            ("scenario", "validate", "{file}"),
            "raspy scenario validate",
        ),
        ("raspy.cli.raspyd", ("--print-config",), "raspyd"),
        ("raspy.cli.raspyd", ("--check-config", "{config}"), "raspyd"),
    ],
)
def test_a_full_disk_behind_stdout_is_a_runtime_failure_not_a_bug(
    tmp_path: Path, module: str, args: tuple[str, ...], head: str
) -> None:
    (scenario := tmp_path / "a.yaml").write_text(_SCENARIO, encoding="utf-8")
    (config := tmp_path / "raspyd.toml").write_text("", encoding="utf-8")
    given = [arg.format(dir=tmp_path, file=scenario, config=config) for arg in args]
    assert _into_full_disk(module, *given) == (
        1,
        f"{head}: cannot write to stdout: No space left on device\n",
    )


@pytest.mark.parametrize(
    ("module", "args", "head"),
    [
        ("raspy.cli.raspy", ("--version",), "raspy"),
        ("raspy.cli.raspy", ("--help",), "raspy"),
        ("raspy.cli.raspy", ("call", "--help"), "raspy call"),
        ("raspy.cli.raspy", ("scenario", "list", "--help"), "raspy scenario list"),
        ("raspy.cli.raspyd", ("--version",), "raspyd"),
        ("raspy.cli.kv", ("--help",), "raspy-kv"),
        ("raspy.cli.poller", ("--version",), "raspy-poller"),
    ],
)
def test_help_and_version_on_a_full_disk_say_so(
    module: str, args: tuple[str, ...], head: str
) -> None:
    """argparse dropped the failed write: exit 0, and nothing printed anywhere."""
    assert _into_full_disk(module, *args) == (
        1,
        f"{head}: cannot write to stdout: No space left on device\n",
    )
