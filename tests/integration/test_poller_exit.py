"""raspy-poller's exit when its device service outlives its stop (a read the kernel
does not end): the service runs on a daemon thread, so the process ends."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from support.stuck_board import STUCK_EXIT

pytestmark = pytest.mark.timeout(60)

TESTS = Path(__file__).parents[1]  # where `support` is a package


def test_a_device_service_stuck_past_its_stop_does_not_keep_the_process() -> None:
    """The poller logged device_service_stop_timeout and returned 1, and the process
    went on: Python waits at exit for an actor's thread that is not a daemon, so it
    ended only when systemd killed it at the end of its stop timeout."""
    done = subprocess.run(
        [sys.executable, "-m", "support.stuck_board"],
        cwd=TESTS,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert (done.returncode, done.stdout) == (STUCK_EXIT, "stuck\n"), done.stderr
