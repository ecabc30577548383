"""The real raspyd under its unit's seccomp sandbox (tests/support/unit_sandbox.py:
SystemCallFilter= and RestrictAddressFamilies=, loaded as systemd loads them): it
starts, serves, reads the clock's health and stops with 0. Under main's unit it died
at its first bind (SIGABRT from ZeroMQ), and else at its first clock read (SIGSYS)."""

from __future__ import annotations

import ctypes
import shutil
import sys
from pathlib import Path

import pytest
from support import unit_sandbox
from support.daemon import Daemon
from support.wait import wait_until

import raspy

UNIT = Path(raspy.__file__).parent / "defaults" / "raspyd.service"


def _sandbox_tools() -> bool:
    try:
        ctypes.CDLL("libseccomp.so.2")
    except OSError:
        return False
    return shutil.which("systemd-analyze") is not None


class SandboxedDaemon(Daemon):
    """raspyd exec'd by unit_sandbox.py once the unit's filters are loaded."""

    def args(self) -> list[str]:
        return [sys.executable, unit_sandbox.__file__, str(UNIT), *super().args()]


@pytest.mark.skipif(
    not _sandbox_tools(),
    reason="needs systemd-analyze and libseccomp (Debian: apt-get install systemd)",
)
@pytest.mark.timeout(120)
def test_raspyd_starts_reads_the_clock_and_stops_under_its_units_sandbox(
    tmp_path: Path,
) -> None:
    daemon = SandboxedDaemon(tmp_path / "data").start()
    try:
        # start() waited for the broker to answer for the echo service
        # the clock part's first sample is logged, whichever it is
        wait_until(
            lambda: (
                '"clock_synchronised"' in daemon.log_text()
                or '"clock_not_synchronised"' in daemon.log_text()
            ),
            what="the clock's health read",
            timeout_s=30,
        )
        assert '"clock_health_unknown"' not in daemon.log_text()
        assert daemon.terminate(timeout_s=30) == 0, daemon.log_text()[-2000:]
    finally:
        daemon.kill()
