"""raspy-poller's exit when its device service outlives its stop (a read the kernel
does not end): the service runs on a daemon thread, so the process ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq
from support.daemon import running_poller
from support.net import free_port_base
from support.stuck_board import STUCK_EXIT
from support.wait import wait_until

from raspy.actors import edge as edge_mod
from raspy.clock import SystemClock
from raspy.cores.broker import BrokerCore
from raspy.cores.broker_settings import BrokerSettings
from raspy.stats import Stats

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


@pytest.fixture
def hub(zmq_context: zmq.Context[zmq.Socket[bytes]]) -> Iterator[str]:
    """A broker in this process at a port base of its own (the board's Clone client
    finds nothing at the three ports after it, and starts anyway): it answers the
    board's looks at its hub at once. Without a hub the first look waits its 3 s
    before the board says it started."""
    ref, endpoint, _ = edge_mod.start_edge(
        zmq_context,
        edge_mod.EdgeSettings(f"tcp://127.0.0.1:{free_port_base()}", linger_ms=0),
        BrokerCore(BrokerSettings()),
        SystemClock(),
        Stats(),
    )
    try:
        yield endpoint
    finally:
        ref.stop()


def test_a_sighup_is_logged_and_the_board_goes_on(tmp_path: Path, hub: str) -> None:
    """SIGHUP reloads raspyd, so a household sends it to a board after a change of
    its config too; raspy-poller had no handler, and the signal's default action
    ended it without a line, and systemd (Restart=on-failure) does not restart a
    service that SIGHUP ended. It reads its config at start only: it says so."""
    log_path = tmp_path / "poller.log"
    args = ("--service", "fake", "--hostname", "shed")
    with running_poller(hub, log_path, *args) as process:
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


_CONFIG = '[devices]\n[[devices.fake]]\nname = "attic"\noid = "sensor.temperature"\n'


def _reading(fifo: Path) -> int | None:
    """A write end of `fifo` once the poller has it open to read its config: the
    poller then waits in that read, early in its start (None: not there yet)."""
    try:
        return os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:
        return None


def _in_config_read(fifo: Path) -> int:
    writer = wait_until(lambda: _reading(fifo), what="the config read", timeout_s=20)
    assert writer is not None
    return writer


def _held_at_config(
    tmp_path: Path,
) -> tuple[Path, Path, tuple[str, ...]]:
    """A config that is a FIFO: the poller's start waits in its read, so a signal
    sent then lands before the config is loaded, whatever the machine's speed."""
    fifo = tmp_path / "poller.toml"
    os.mkfifo(fifo)
    args = ("--service", "fake", "--hostname", "shed", "--config", str(fifo))
    return fifo, tmp_path / "poller.log", args


def _feed(writer: int) -> None:
    os.set_blocking(writer, True)
    os.write(writer, _CONFIG.encode())
    os.close(writer)


def test_a_sighup_while_the_config_is_read_is_noted_not_fatal(
    tmp_path: Path, hub: str
) -> None:
    """The SIGHUP handler came after the config and the store: a SIGHUP in the
    board's first moments (a reload sent to every board at once) took the default
    action and ended it without a line, for systemd a stop it does not restart."""
    fifo, log_path, args = _held_at_config(tmp_path)
    with running_poller(hub, log_path, *args) as process:
        writer = _in_config_read(fifo)
        process.send_signal(signal.SIGHUP)
        _feed(writer)
        wait_until(
            lambda: '"config_not_reloaded"' in log_path.read_text(encoding="utf-8"),
            what="the SIGHUP logged",
            timeout_s=20,
        )
        assert process.poll() is None
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0


def test_a_sigterm_while_the_config_is_read_stops_the_board_cleanly(
    tmp_path: Path,
) -> None:
    """With the handlers installed first, a SIGTERM at that time is taken too: the
    board starts nothing and ends with status 0, as it does at a later SIGTERM."""
    fifo, log_path, args = _held_at_config(tmp_path)
    endpoint = f"tcp://127.0.0.1:{free_port_base()}"
    with running_poller(endpoint, log_path, *args) as process:
        writer = _in_config_read(fifo)
        process.send_signal(signal.SIGTERM)
        _feed(writer)
        assert process.wait(timeout=15) == 0
    said = log_path.read_text(encoding="utf-8")
    assert '"poller_stopped_before_start"' in said, said
    assert '"device_service_started"' not in said, said
