"""raspy-poller's exit when its device service outlives its stop (a read the kernel
does not end): the service runs on a daemon thread, so the process ends."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
from support.daemon import running_poller
from support.net import free_port_base
from support.stuck_board import STUCK_EXIT
from support.wait import wait_until

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


def test_a_sighup_is_logged_and_the_board_goes_on(tmp_path: Path) -> None:
    """SIGHUP reloads raspyd, so a household sends it to a board after a change of
    its config too; raspy-poller had no handler, and the signal's default action
    ended it without a line, and systemd (Restart=on-failure) does not restart a
    service that SIGHUP ended. It reads its config at start only: it says so."""
    log_path = tmp_path / "poller.log"
    endpoint = f"tcp://127.0.0.1:{free_port_base()}"  # no hub: it starts anyway
    args = ("--service", "fake", "--hostname", "shed")
    with running_poller(endpoint, log_path, *args) as process:
        wait_until(
            lambda: '"poller_started"' in log_path.read_text(encoding="utf-8"),
            what="the poller started",
            timeout_s=20,
        )
        process.send_signal(signal.SIGHUP)
        wait_until(
            lambda: '"config_not_reloaded"' in log_path.read_text(encoding="utf-8"),
            what="the SIGHUP logged",
        )
        assert process.poll() is None
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
