"""raspyd's options that do not go together, as a process: each is refused with one
line and exit 2, where one was dropped in silence (`--print-config --markdown
--config /nope` printed the reference, exit 0; `--print-config --check-config F`
only checked F)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(30)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (
            ["--print-config", "--markdown", "--config", "{tmp}/nope.toml"],
            "--markdown prints the reference, the same for every config: "
            "--config goes without it",
        ),
        (
            ["--print-config", "--markdown", "--data-dir", "{tmp}/var"],
            "--markdown prints the reference, the same for every config: "
            "--data-dir goes without it",
        ),
        (
            ["--print-config", "--check-config", "{tmp}/ok.toml"],
            "--print-config and --check-config do not go together (one at a time)",
        ),
        (
            ["--check-config", "{tmp}/ok.toml", "--config", "{tmp}/nope.toml"],
            "--check-config FILE is the config it checks: --config goes without it",
        ),
        (
            ["--check-config", "{tmp}/ok.toml", "--markdown"],
            "--markdown goes with --print-config",
        ),
        (
            ["--check-config", "{tmp}/ok.toml", "--init"],
            "--init makes a store as raspyd starts: it goes without --check-config "
            "and --print-config",
        ),
        (
            ["--print-config", "--init"],
            "--init makes a store as raspyd starts: it goes without --check-config "
            "and --print-config",
        ),
    ],
)
def test_options_that_do_not_go_together_are_refused(
    tmp_path: Path, args: list[str], says: str
) -> None:
    (tmp_path / "ok.toml").write_text("log_level = 'info'\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "raspy.cli.raspyd"]
        + [arg.replace("{tmp}", str(tmp_path)) for arg in args],
        capture_output=True,
        text=True,
        timeout=25,
        check=False,
    )
    assert (done.returncode, done.stdout, done.stderr) == (2, "", f"raspyd: {says}\n")
    assert not (tmp_path / "var").exists()
