"""The real raspyd's stop when one of its parts does not stop: the echo service is
made to hang in its on_stop (in a process of its own, as a fault put in by hand)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from support.daemon import Daemon
from support.wait import wait_until

# echo's on_stop waits RASPY_TEST_HANG_S seconds: longer than raspyd waits for a
# part to stop (raspy.child_set.STOP_TIMEOUT_S)
_HANGS_ON_STOP = """
import os, sys, threading
from raspy.actors import worker
from raspy.cli import raspyd

def hung_on_stop(self):
    threading.Event().wait(float(os.environ["RASPY_TEST_HANG_S"]))

worker.EchoWorkerActor.on_stop = hung_on_stop
end_delay_s = float(os.environ.get("RASPY_TEST_END_DELAY_S", "0"))
if end_delay_s:  # the process lives on a moment after its stop, as a slow exit would
    real_end = raspyd._end

    def slow_end(status):
        threading.Event().wait(end_delay_s)
        real_end(status)

    raspyd._end = slow_end
sys.exit(raspyd.main(sys.argv[1:]))
"""


def _events(daemon: Daemon, name: str) -> list[dict[str, object]]:
    return [
        event
        for line in daemon.log_text().splitlines()
        if line.startswith("{") and (event := json.loads(line))["event"] == name
    ]


@contextmanager
def _hanging_daemon(
    tmp_path: Path, hang_s: float, end_delay_s: float = 0.0
) -> Iterator[tuple[Daemon, subprocess.Popen[bytes]]]:
    """raspyd serving, its echo part hanging `hang_s` in its stop; killed at the end."""
    daemon = Daemon(tmp_path / "data", config_text="")
    with daemon.log_path.open("wb") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-c", _HANGS_ON_STOP, *daemon.args()[3:]],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env={
                **os.environ,
                "RASPY_TEST_HANG_S": str(hang_s),
                "RASPY_TEST_END_DELAY_S": str(end_delay_s),
            },
        )
    try:
        wait_until(
            lambda: _events(daemon, "daemon_started"),
            what="raspyd started",
            timeout_s=30,
        )
        yield daemon, proc
    finally:
        proc.kill()
        proc.wait(timeout=10)


@pytest.mark.timeout(60)
def test_a_second_sigterm_after_the_stop_does_not_kill_raspyd_by_the_signal(
    tmp_path: Path,
) -> None:
    """The handlers were given back (SIG_DFL) once the stop was done, while the
    interpreter still waited for the hung part's thread: a second SIGTERM then ended
    the process by the signal (status 143 to systemd), not with raspyd's own."""
    with _hanging_daemon(tmp_path, hang_s=8.0, end_delay_s=3.0) as (daemon, proc):
        proc.send_signal(signal.SIGTERM)
        wait_until(
            lambda: _events(daemon, "daemon_stopped"),
            what="the stop done",
            timeout_s=20,
        )
        assert proc.poll() is None  # alive for the end's delay: the signals land
        proc.send_signal(signal.SIGTERM)
        proc.send_signal(signal.SIGINT)
        status = proc.wait(timeout=30)
    assert status == 1  # the part that did not stop


@pytest.mark.timeout(60)
def test_a_part_that_does_not_stop_ends_raspyd_with_status_1_at_once(
    tmp_path: Path,
) -> None:
    """raspyd said `daemon_stopped`, then lived on as long as the hung part's thread
    (pykka's are not daemon threads: the interpreter waits for them), and exited 0;
    systemd killed it at its stop timeout. Now it ends right after the stop, 1."""
    with _hanging_daemon(tmp_path, hang_s=120.0) as (daemon, proc):
        proc.send_signal(signal.SIGTERM)
        status = proc.wait(timeout=20)  # STOP_TIMEOUT_S and the rest of the stop
    assert status == 1
    timed_out = _events(daemon, "component_stop_timed_out")
    assert [event["component"] for event in timed_out] == ["echo"]
    (stopped,) = _events(daemon, "daemon_stopped")
    assert stopped["components_still_running"] == ["echo"]
