"""raspy-poller's start beside a raspy-kv that reads its data dir without a reader
slot: refused, it exited 2, which its unit does not restart (RestartPreventExitStatus),
so the board stayed down for good. It waits for the read, as raspyd does. Real
flocks on a real store, a real raspy-poller process."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import zmq
from structlog.testing import capture_logs
from support.daemon import running_poller
from support.net import free_port_base
from support.wait import wait_until

from raspy.actors import edge as edge_mod
from raspy.clock import SystemClock
from raspy.cores.broker import BrokerCore
from raspy.cores.broker_settings import BrokerSettings
from raspy.stats import Stats
from raspy.storage.lock import ReadLock
from raspy.storage.store import Store

pytestmark = pytest.mark.timeout(60)

_ARGS = ("--service", "fake", "--hostname", "shed")


@pytest.fixture
def hub(zmq_context: zmq.Context[zmq.Socket[bytes]]) -> Iterator[str]:
    """A broker in this process, which answers the board's looks at its hub."""
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


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    with capture_logs(), Store.open(tmp_path / "board"):
        pass  # a store, and its lock file, as a board leaves them
    return tmp_path / "board"


def _said(log_path: Path, event: str) -> bool:
    return f'"{event}"' in log_path.read_text(encoding="utf-8")


@contextmanager
def _waiting_board(
    hub: str, log_path: Path, data_dir: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """raspy-poller started on a data dir a read holds, once it says it waits."""
    with running_poller(hub, log_path, *_ARGS, "--data-dir", str(data_dir)) as process:
        wait_until(
            lambda: _said(log_path, "start_waits_for_reader"),
            what="the wait for the read said",
            timeout_s=20,
        )
        yield process


def test_the_board_waits_for_the_read_then_starts(
    tmp_path: Path, hub: str, data_dir: Path
) -> None:
    log_path = tmp_path / "poller.log"
    reader = ReadLock(data_dir)
    try:
        with _waiting_board(hub, log_path, data_dir) as process:
            assert process.poll() is None, log_path.read_text(encoding="utf-8")
            reader.release()  # the read ends
            wait_until(
                lambda: _said(log_path, "poller_started"),
                what="the board started",
                timeout_s=20,
            )
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=15) == 0
    finally:
        reader.release()


def test_a_sigterm_while_it_waits_stops_the_board_cleanly(
    tmp_path: Path, hub: str, data_dir: Path
) -> None:
    log_path = tmp_path / "poller.log"
    reader = ReadLock(data_dir)
    try:
        with _waiting_board(hub, log_path, data_dir) as process:
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=15) == 0
    finally:
        reader.release()
    said = log_path.read_text(encoding="utf-8")
    assert '"poller_stopped_before_start"' in said, said
    assert '"device_service_started"' not in said, said
