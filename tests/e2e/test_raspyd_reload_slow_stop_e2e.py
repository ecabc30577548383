"""A SIGHUP reload that meets a part slow to stop (Titanic busy in a handler).

raspyd's main loop waited for the reload (up to 30 s, the unit's WatchdogSec) without
pinging: a reload whose stops time out (3 s each, after Titanic's prepare) could
get raspyd killed by systemd while it was only waiting, as designed, on a busy part.
And each start refused while the old actor ran counted as a crash: with a short
backoff, Titanic (critical) was given up in a second and raspyd exited.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from support.daemon import Daemon, mmi_service
from support.wait import wait_until

from raspy.cli.raspyd_serve import FAULT_ENV

# The fault hook, taught to keep Titanic busy: its thread blocks in a handler for
# 12 s (a slow store write), so that a reload's stop of it times out.
_TITANIC_BUSY = """
import sys
from pykka.messages import ProxyCall
from raspy.actors import runtime
from raspy.cli import raspyd

def inject_fault(self, part):
    block = ProxyCall(attr_path=("actor_stopped", "wait"), args=(12,), kwargs={})
    self.ref_of(part).tell(block)

runtime.Runtime.inject_fault = inject_fault
sys.exit(raspyd.main(sys.argv[1:]))
"""


def _says(message: bytes, line: bytes) -> bool:
    return line in message.split(b"\n")


def _until(server: socket.socket, line: bytes, seen: list[bytes]) -> None:
    """Take the datagrams sent to `server` into `seen` up to one that says `line`
    (the socket's timeout bounds each wait)."""
    while not (seen and _says(seen[-1], line)):
        seen.append(server.recv(4096))


@pytest.mark.timeout(90)
def test_the_watchdog_is_fed_while_a_reload_waits_on_a_slow_stop(
    tmp_path: Path,
) -> None:
    daemon = Daemon(tmp_path / "data", config_text="")
    assert daemon.config_path is not None
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.settimeout(30)
    server.bind(str(tmp_path / "notify"))
    env = {
        **os.environ,
        FAULT_ENV: "titanic",
        "NOTIFY_SOCKET": str(tmp_path / "notify"),
        "WATCHDOG_USEC": "2000000",  # pinged every second
    }
    with daemon.log_path.open("wb") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-c", _TITANIC_BUSY, *daemon.args()[3:]],
            stdout=subprocess.DEVNULL,
            stderr=log_file,
            env=env,
        )
    try:
        started: list[bytes] = []
        _until(server, b"READY=1", started)
        daemon.config_path.write_text("[titanic]\nretention_s = 60.0\n")
        proc.send_signal(signal.SIGHUP)
        reload: list[bytes] = []
        _until(server, b"RELOADING=1", reload)
        during: list[bytes] = []
        _until(server, b"READY=1", during)
    finally:
        proc.kill()
        proc.wait(timeout=10)
        server.close()
    log = daemon.log_text()
    assert '"config_reloaded"' in log
    # the reload waited on Titanic's stop: 3 s for its prepare, 3 s for the stop
    assert '"component_stop_timed_out"' in log
    pings = [m for m in during if _says(m, b"WATCHDOG=1")]
    assert len(pings) >= 3, during


@pytest.mark.timeout(90)
def test_titanic_is_started_again_once_its_old_actor_ends_whatever_the_backoff(
    tmp_path: Path,
) -> None:
    daemon = Daemon(
        tmp_path / "data",
        config_text=(
            "[supervisor]\nrestart_initial_s = 0.05\nrestart_max_s = 0.1\n"
            "max_restarts = 1\n"
        ),
    )
    assert daemon.config_path is not None
    with daemon.log_path.open("wb") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-c", _TITANIC_BUSY, *daemon.args()[3:]],
            stdout=subprocess.DEVNULL,
            stderr=log_file,
            env={**os.environ, FAULT_ENV: "titanic"},
        )
    daemon.process = proc
    try:
        wait_until(daemon._ready, what="raspyd serving", timeout_s=60)
        text = daemon.config_path.read_text()
        daemon.config_path.write_text(f"{text}[titanic]\nretention_s = 60.0\n")
        proc.send_signal(signal.SIGHUP)
        wait_until(
            lambda: '"config_reloaded"' in daemon.log_text(),
            what="the reload (its stop of Titanic timed out: 6 s)",
            timeout_s=30,
        )
        assert '"component_stop_timed_out"' in daemon.log_text()
        wait_until(  # its old actor's workers answered MMI meanwhile: not a sign
            lambda: (
                proc.poll() is not None or '"component_restarted"' in daemon.log_text()
            ),
            what="Titanic started again once its old actor ended (or raspyd's exit)",
            timeout_s=30,
        )
        assert proc.poll() is None, daemon.log_text()[-2000:]
        assert mmi_service(daemon.endpoint, b"titanic.request") == b"200"
    finally:
        proc.kill()
        proc.wait(timeout=10)
    assert '"component_failed"' not in daemon.log_text()
