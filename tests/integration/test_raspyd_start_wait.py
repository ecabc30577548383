"""raspyd's start beside a raspy-kv that reads the data dir without a reader slot
(raspy.cli.start_wait): waited for, bounded, with systemd's start timeout pushed
back; a writer holding the data dir is no reader and is not waited for. Real flocks
on a real store, a real notify socket."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from structlog.testing import capture_logs
from support.net import free_port_base

from raspy.cli import start_wait
from raspy.errors import StoreBeingReadError, StoreLockedError
from raspy.sdnotify import Notifier
from raspy.storage import damage
from raspy.storage import lock as lock_mod
from raspy.storage.ops import Put
from raspy.storage.store import Store
from raspy.storage.tables import Table

pytestmark = pytest.mark.timeout(30)

log = structlog.get_logger(component="raspyd")


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    with capture_logs(), Store.open(tmp_path / "data"):
        pass  # a store, and its lock file, as raspyd leaves them
    (tmp_path / "data" / lock_mod.LOCK_NAME).write_text("4242\n")  # long gone
    return tmp_path / "data"


@pytest.fixture
def notify(tmp_path: Path) -> Iterator[tuple[socket.socket, Notifier]]:
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(str(tmp_path / "notify"))
    server.setblocking(False)
    notifier = Notifier({"NOTIFY_SOCKET": str(tmp_path / "notify")})
    try:
        yield server, notifier
    finally:
        notifier.close()
        server.close()


def _received(server: socket.socket) -> list[bytes]:
    seen: list[bytes] = []
    while True:
        try:
            seen.append(server.recv(4096))
        except BlockingIOError:
            return seen


def _open(data_dir: Path) -> Store:
    with capture_logs():
        return Store.open(data_dir)


def test_a_read_that_outlasts_the_wait_is_said_and_nothing_is_started(
    data_dir: Path, notify: tuple[socket.socket, Notifier]
) -> None:
    server, notifier = notify
    reader = lock_mod.ReadLock(data_dir)
    try:
        with capture_logs() as logs, pytest.raises(StoreBeingReadError) as refused:
            start_wait.start_after_slotless_reads(
                lambda: _open(data_dir),
                data_dir,
                notifier,
                lambda _timeout_s: False,
                log,
                limit_s=1.0,
            )
    finally:
        reader.release()
    assert str(refused.value) == start_wait.gave_up(data_dir, 1.0)
    assert str(refused.value) == (
        f"data dir {data_dir} was still being read by a raspy-kv without a reader"
        " slot (its lock.mdb missing or read-only) after 1 s; raspyd did not start,"
        " as it would write over the pages being read: let that raspy-kv end, or"
        " stop it, then start raspyd again"
    )
    assert logs == [
        {
            "event": "start_waits_for_reader",
            "component": "raspyd",
            "data_dir": str(data_dir),
            "limit_s": 1.0,
            "why": "data dir is being read by a raspy-kv without a reader slot;"
            " starting once it ends",
            "log_level": "warning",
        }
    ]
    # the first try asks systemd for time at once; the next only 10 s later
    assert _received(server) == [
        b"EXTEND_TIMEOUT_USEC=70000000\nSTATUS=waiting: " + start_wait.WHY.encode()
    ]
    with _open(data_dir):  # nothing was left holding the data dir
        pass


def test_the_start_goes_on_once_the_read_ends(
    data_dir: Path, notify: tuple[socket.socket, Notifier]
) -> None:
    _, notifier = notify
    reader = lock_mod.ReadLock(data_dir)
    waits: list[float] = []

    def stopped(timeout_s: float) -> bool:
        waits.append(timeout_s)
        reader.release()  # the read ends while raspyd waits
        return False

    with capture_logs():
        store = start_wait.start_after_slotless_reads(
            lambda: _open(data_dir), data_dir, notifier, stopped, log
        )
    assert store is not None
    store.close()
    assert waits == [0.5]


def test_a_stop_while_it_waits_starts_nothing(
    data_dir: Path, notify: tuple[socket.socket, Notifier]
) -> None:
    _, notifier = notify
    reader = lock_mod.ReadLock(data_dir)
    try:
        with capture_logs():
            started = start_wait.start_after_slotless_reads(
                lambda: _open(data_dir), data_dir, notifier, lambda _t: True, log
            )
    finally:
        reader.release()
    assert started is None


def test_a_writer_holding_the_data_dir_is_named_at_once_not_waited_for(
    data_dir: Path, notify: tuple[socket.socket, Notifier]
) -> None:
    """The lock taken exclusively: another raspyd, named by the pid it wrote."""
    server, notifier = notify
    writer = lock_mod.DataDirLock(data_dir)
    try:
        with capture_logs() as logs, pytest.raises(StoreLockedError) as refused:
            start_wait.start_after_slotless_reads(
                lambda: _open(data_dir), data_dir, notifier, lambda _t: False, log
            )
    finally:
        writer.release()
    assert type(refused.value) is StoreLockedError
    assert str(refused.value) == lock_mod.in_use(data_dir, str(os.getpid()))
    assert logs == []
    assert _received(server) == []


def test_only_readers_holding_the_data_dir_are_told_from_a_writer(
    data_dir: Path,
) -> None:
    """It named the pid the last writer left in the lock file (a raspyd long gone,
    or a pid since reused) as the one holding it."""
    reader = lock_mod.ReadLock(data_dir)
    try:
        with pytest.raises(StoreBeingReadError) as refused:
            lock_mod.DataDirLock(data_dir)
    finally:
        reader.release()
    assert str(refused.value) == (
        f"data dir {data_dir} is being read by a raspy-kv without a reader slot (its"
        " lock.mdb missing or read-only); no writer holds it"
    )


_READ_TOO_LONG = """
import sys
from pathlib import Path
from raspy.cli import raspyd, start_wait
from raspy.errors import StoreBeingReadError

def still_read(start, data_dir, *args, **kwargs):
    raise StoreBeingReadError(start_wait.gave_up(Path(data_dir), 600.0))

start_wait.start_after_slotless_reads = still_read
sys.exit(raspyd.main(sys.argv[1:]))
"""


@pytest.mark.timeout(60)
def test_raspyd_given_up_on_a_read_exits_1_for_systemd_to_start_it_again(
    tmp_path: Path,
) -> None:
    """A read that outlasts the wait is no usage error: exit 1, which the units
    restart (raspy-poller.service prevents a restart after 2, and the board stayed
    down for good). The wait itself is 10 minutes: here it is said to have ended."""
    data_dir = tmp_path / "d"
    done = subprocess.run(
        [
            sys.executable, "-c", _READ_TOO_LONG,
            "--data-dir", str(data_dir), "--port-base", str(free_port_base()),
            "--allow-root", "--log-level", "error",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert done.stderr == f"raspyd: {start_wait.gave_up(data_dir, 600.0)}\n"


def test_the_stores_page_walk_and_record_check_ask_systemd_for_more_time(
    tmp_path: Path, notify: tuple[socket.socket, Notifier]
) -> None:
    """A store of many sensors' full history takes seconds to check before READY
    (3 s for 54 MB on a fast machine; a Pi is slower): the walk and the record
    check ask systemd to push the start timeout back as they go, at most every
    EXTEND_EVERY_S (a clock that moves 4 s at each look: every third look)."""
    server, notifier = notify
    records = 5 * damage.PROGRESS_EVERY
    with capture_logs(), Store.open(tmp_path / "data") as store:
        store.commit([Put(Table.CRON, b"c%05d" % i, b"\xc0") for i in range(records)])
    looks: list[float] = []

    def clock() -> float:
        looks.append(4.0 * len(looks))
        return looks[-1]

    progress = start_wait.StartProgress(notifier, "starting: checking the store", clock)
    with capture_logs():
        Store.open(tmp_path / "data", check_records=True, progress=progress).close()
    walked_only: list[float] = []
    with capture_logs():  # without the record check: the page walk's looks alone
        Store.open(tmp_path / "data", progress=lambda: walked_only.append(1.0)).close()
    assert len(walked_only) > 1  # a page at a time
    assert len(looks) >= len(walked_only) + records // damage.PROGRESS_EVERY
    sent = _received(server)
    assert len(sent) == (len(looks) + 2) // 3
    assert set(sent) == {
        b"EXTEND_TIMEOUT_USEC=70000000\nSTATUS=starting: checking the store"
    }
