"""The install targets as `make -n` prints them: an upgrade (`git pull && sudo make
install-service`, again) must end with the new code running, so the unit is restarted
after the new package is in place; `systemctl enable --now` only starts a stopped one
and leaves a running raspyd on the old code, its files replaced under it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    shutil.which("make") is None, reason="make is not installed here"
)


def _dry_run(tmp_path: Path, target: str, *assignments: str) -> list[str]:
    """The commands `make -n target` would run, one a line (nothing is run)."""
    result = subprocess.run(
        [
            "make",
            "-n",
            "-C",
            str(REPO),
            target,
            f"PREFIX={tmp_path / 'opt'}",
            *assignments,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def _restarted_after_install(lines: list[str], unit: str) -> None:
    installed = next(i for i, line in enumerate(lines) if "pip install" in line)
    reloaded = lines.index("systemctl daemon-reload")
    assert f"systemctl restart {unit}" in lines, lines
    restarted = lines.index(f"systemctl restart {unit}")
    assert installed < reloaded < restarted
    assert f"systemctl enable {unit}" in lines  # started at each boot too


@pytest.mark.timeout(60)
def test_install_service_restarts_a_running_raspyd(tmp_path: Path) -> None:
    _restarted_after_install(
        _dry_run(tmp_path, "install-service", f"UNIT_DIR={tmp_path}"),
        "raspyd.service",
    )


@pytest.mark.timeout(60)
def test_install_poller_restarts_a_running_poller(tmp_path: Path) -> None:
    _restarted_after_install(
        _dry_run(
            tmp_path, "install-poller", "HUB=tcp://hub:5514", f"UNIT_DIR={tmp_path}"
        ),
        "raspy-poller.service",
    )
