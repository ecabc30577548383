"""The LMDB Store on a real data dir (issue #4, ARCHITECTURE.md "Storage", STYLE §6)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import CancelledError, Future
from pathlib import Path

import pytest
from structlog.testing import capture_logs
from support.store_holder import holding_store

from raspy import packing
from raspy.config import StoreConfig
from raspy.errors import (
    StoreError,
    StoreFullError,
    StoreLockedError,
    ValueTooLargeError,
)
from raspy.storage.lock import DataDirLock
from raspy.storage.store import Delete, Put, Store, Table
from raspy.storage.tables import LAST_SEQ_KEY, decode_seq, encode_kv, encode_seq

MB = 1024 * 1024
TINY = StoreConfig(map_size_initial_mb=1, map_size_max_mb=16)
EVENT_TIMEOUT_S = 10.0


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def store(data_dir: Path) -> Iterator[Store]:
    opened = Store.open(data_dir, TINY)
    yield opened
    opened.close()


class WriterGate:
    """Holds the writer thread inside the first job's on_done until released, so
    that everything submitted meanwhile queues up for the next transaction."""

    def __init__(self, store: Store) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        store.submit([Put(Table.CRON, b"gate", b"\x00")], self._hold)
        assert self.entered.wait(EVENT_TIMEOUT_S), "writer never reached the gate"

    def _hold(self, error: BaseException | None) -> None:
        self.entered.set()
        assert self.release.wait(EVENT_TIMEOUT_S), "gate never released"


def test_a_new_store_has_a_0700_data_dir_and_schema_version_1(data_dir: Path) -> None:
    """ARCHITECTURE.md: data dir created 0700; issue #4: schema version in meta."""
    with Store.open(data_dir, TINY) as store:
        assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
        assert store.schema_version == 1
        assert store.get(Table.META, b"schema_version") == packing.pack(1)


def test_committed_writes_are_read_back_by_get_scan_and_read_view(store: Store) -> None:
    """STYLE §6: get, scan(table, prefix, limit) as a list, read_view().iter_from."""
    store.commit(
        [Put(Table.KV, k, k.upper()) for k in (b"/a/1", b"/a/2", b"/a/3", b"/b")]
    )
    store.commit([Delete(Table.KV, b"/a/2"), Delete(Table.KV, b"/missing")])
    assert store.get(Table.KV, b"/a/1") == b"/A/1"
    assert store.get(Table.KV, b"/a/2") is None
    assert store.scan(Table.KV, b"/a/") == [(b"/a/1", b"/A/1"), (b"/a/3", b"/A/3")]
    assert store.scan(Table.KV, limit=2) == [(b"/a/1", b"/A/1"), (b"/a/3", b"/A/3")]
    with store.read_view() as view:
        assert view.iter_from(Table.KV, b"/a/", b"/a/1", 10) == [(b"/a/3", b"/A/3")]
        assert view.iter_from(Table.KV, b"/b", None, 10) == [(b"/b", b"/B")]
        assert view.iter_from(Table.KV, b"", b"/a/3", 1) == [(b"/b", b"/B")]
        assert view.count(Table.KV) == 3


def test_a_read_view_keeps_its_snapshot_while_the_writer_commits(store: Store) -> None:
    """Issue #4: readers never block the writer and see consistent snapshots."""
    store.commit([Put(Table.KV, b"k", b"old")])
    with store.read_view() as view:
        store.commit([Put(Table.KV, b"k", b"new"), Put(Table.KV, b"k2", b"x")])
        assert (view.get(Table.KV, b"k"), view.get(Table.KV, b"k2")) == (b"old", None)
    assert store.get(Table.KV, b"k") == b"new"


def test_the_map_grows_from_a_tiny_initial_size_and_keeps_every_write(
    data_dir: Path,
) -> None:
    """Issue #4: the map grows on MapFullError and the failed txn is retried."""
    value = b"v" * 4000
    with capture_logs() as logs, Store.open(data_dir, TINY) as store:
        futures = [
            store.submit([Put(Table.KV, b"%05d" % i, value)]) for i in range(1000)
        ]
        for future in futures:
            future.result(timeout=EVENT_TIMEOUT_S)
        assert store.scan(Table.KV) == [(b"%05d" % i, value) for i in range(1000)]
        stats = store.stats()
    grown = [e for e in logs if e["event"] == "store_map_grown"]
    assert len(grown) >= 2
    assert grown == [
        {
            "event": "store_map_grown",
            "log_level": "info",
            "component": "store",
            "path": str(data_dir),
            "size": 2**i * MB,
            "previous": 2 ** (i - 1) * MB,
        }
        for i in range(1, len(grown) + 1)
    ]
    assert (stats["map_size"], stats["map_grows"]) == (grown[-1]["size"], len(grown))


def test_past_the_maximum_map_a_write_fails_naming_the_limit_and_reads_go_on(
    data_dir: Path,
) -> None:
    """Issue #4: past the maximum the write fails with a typed error naming the limit;
    nothing of it is written, and reads keep working."""
    config = StoreConfig(map_size_initial_mb=1, map_size_max_mb=2)
    with Store.open(data_dir, config) as store:
        store.commit([Put(Table.KV, b"first", b"1")])
        with pytest.raises(StoreFullError) as caught:
            store.commit(
                [Put(Table.KV, b"%03d" % i, b"x" * 100_000) for i in range(30)]
            )
        assert str(caught.value) == (
            f"store in {data_dir} is full: the map reached its maximum of 2 MB "
            "(store.map_size_max_mb)"
        )
        assert store.scan(Table.KV) == [(b"first", b"1")]
        assert store.stats()["failed"] == 1


def test_a_failing_batch_is_split_so_other_submitters_still_commit(
    data_dir: Path,
) -> None:
    """Brief: one bad op-group does not fail the others in the same group commit."""
    config = StoreConfig(map_size_initial_mb=1, map_size_max_mb=2)
    with Store.open(data_dir, config) as store:
        gate = WriterGate(store)
        big = store.submit(
            [Put(Table.KV, b"%03d" % i, b"x" * 100_000) for i in range(30)]
        )
        small = store.submit([Put(Table.KV, b"small", b"ok")])
        gate.release.set()
        assert small.result(timeout=EVENT_TIMEOUT_S) is None
        assert isinstance(big.exception(timeout=EVENT_TIMEOUT_S), StoreFullError)
        assert store.scan(Table.KV) == [(b"small", b"ok")]


@pytest.mark.parametrize(
    ("op", "message"),
    [
        pytest.param(
            Put(Table.KV, b"k" * 512, b""),
            "key of 512 bytes for kv: LMDB keys are 1 to 511 bytes",
            id="key",
        ),
        pytest.param(
            Delete(Table.KV, b""),
            "key of 0 bytes for kv: LMDB keys are 1 to 511 bytes",
            id="empty",
        ),
        pytest.param(
            Put(Table.SCENARIO, b"s", b"x" * 1001),
            "value of 1001 bytes for "
            "scenario key 's' is over store.max_value_bytes (1000)",
            id="value",
        ),
    ],
)
def test_oversize_keys_and_values_are_refused_before_anything_is_written(
    data_dir: Path, op: Put | Delete, message: str
) -> None:
    """Issue #4: keys over LMDB's limit and values over the configured size are
    refused with a typed error before anything is written."""
    with Store.open(data_dir, StoreConfig(max_value_bytes=1000)) as store:
        with pytest.raises(ValueTooLargeError) as caught:
            store.submit([Put(Table.SCENARIO, b"fine", b"1"), op])
        assert str(caught.value) == message
        with pytest.raises(ValueTooLargeError):
            store.commit([op])
        assert store.scan(Table.SCENARIO) == []
        assert store.stats()["submits"] == 0


def test_group_commit_writes_concurrent_submits_in_fewer_transactions(
    store: Store,
) -> None:
    """Issue #4: everything submitted while the previous commit ran goes into the next
    transaction; a write is acknowledged only once its transaction is committed."""
    gate = WriterGate(store)
    futures: list[Future[None]] = []
    seen_on_ack: dict[bytes, bytes | None] = {}
    lock = threading.Lock()

    def on_done(key: bytes) -> Callable[[BaseException | None], None]:
        def done(error: BaseException | None) -> None:
            seen_on_ack[key] = store.get(Table.KV, key)  # committed before the ack

        return done

    def submitter(thread: int) -> None:
        for i in range(25):
            key = b"t%02d-%02d" % (thread, i)
            future = store.submit([Put(Table.KV, key, key)], on_done(key))
            with lock:
                futures.append(future)

    threads = [threading.Thread(target=submitter, args=(t,)) for t in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=EVENT_TIMEOUT_S)
    gate.release.set()
    for future in futures:
        assert future.result(timeout=EVENT_TIMEOUT_S) is None
    keys = sorted(b"t%02d-%02d" % (t, i) for t in range(16) for i in range(25))
    assert seen_on_ack == {key: key for key in keys}
    stats = store.stats()
    assert (stats["submits"], stats["ops"]) == (401, 401)
    assert stats["commits"] == 2


def test_without_group_commit_each_submit_is_its_own_transaction(
    data_dir: Path,
) -> None:
    """Brief: group_commit = false commits every submit separately (benchmark baseline)."""
    config = StoreConfig(map_size_initial_mb=1, group_commit=False)
    with Store.open(data_dir, config) as store:
        gate = WriterGate(store)
        futures = [store.submit([Put(Table.KV, b"%02d" % i, b"x")]) for i in range(20)]
        gate.release.set()
        for future in futures:
            future.result(timeout=EVENT_TIMEOUT_S)
        assert store.stats()["commits"] == 21


def test_a_future_cancelled_before_its_transaction_is_not_written(store: Store) -> None:
    """STYLE §6: never acknowledge something not committed, nor write the cancelled."""
    gate = WriterGate(store)
    errors: list[BaseException | None] = []
    future = store.submit([Put(Table.KV, b"no", b"x")], errors.append)
    assert future.cancel()
    gate.release.set()
    store.commit([Put(Table.KV, b"yes", b"x")])
    assert store.scan(Table.KV) == [(b"yes", b"x")]
    assert [type(e) for e in errors] == [CancelledError]


def test_close_flushes_pending_writes_and_later_calls_fail(data_dir: Path) -> None:
    """Brief: close() flushes pending writes, stops the writer, releases the lock."""
    store = Store.open(data_dir, TINY)
    futures = [store.submit([Put(Table.KV, b"%03d" % i, b"x")]) for i in range(200)]
    store.close()
    assert all(f.done() and f.exception() is None for f in futures)
    with pytest.raises(StoreError) as caught:
        store.submit([Put(Table.KV, b"late", b"x")])
    assert str(caught.value) == f"store in {data_dir} is closed"
    with Store.open(data_dir, TINY) as again:
        assert len(again.scan(Table.KV)) == 200


def test_a_second_writer_in_this_process_is_refused(
    store: Store, data_dir: Path
) -> None:
    """Issue #4: two writers may not open the same data dir; the second gets a clear
    error."""
    with pytest.raises(StoreLockedError) as caught:
        Store.open(data_dir, TINY)
    assert str(caught.value) == (
        f"data dir {data_dir} is in use by another process (pid {os.getpid()})"
    )


def test_a_second_writer_in_another_process_is_refused_naming_its_pid(
    data_dir: Path,
) -> None:
    """Issue #4: a data dir held by another process is refused; a reader still works."""
    with holding_store(data_dir, Table.KV.value, b"held") as holder_pid:
        with pytest.raises(StoreLockedError) as caught:
            Store.open(data_dir, TINY)
        assert str(caught.value) == (
            f"data dir {data_dir} is in use by another process (pid {holder_pid})"
        )
        with Store.open(data_dir, readonly=True) as reader:
            assert reader.get(Table.KV, b"held") == b"1"
    with Store.open(data_dir, TINY) as store:  # the lock went with the process
        assert store.get(Table.KV, b"held") == b"1"


GROWER = """
import sys
from raspy import log
from raspy.config import StoreConfig
from raspy.storage.store import Store, Put, Table
log.configure("warning")
with Store.open(sys.argv[1], StoreConfig(map_size_initial_mb=1)) as store:
    store.commit([Put(Table.KV, b"%05d" % i, b"g" * 4000) for i in range(1000)])
    print(int(store.stats()["map_size"]))
"""


def test_a_reader_adopts_a_map_grown_by_another_process(data_dir: Path) -> None:
    """ARCHITECTURE.md pitfalls: start small and grow; readers elsewhere follow."""
    with Store.open(data_dir, TINY) as store:
        store.commit([Put(Table.KV, b"a", b"1")])
    with Store.open(data_dir, TINY, readonly=True) as reader:
        assert reader.stats()["map_size"] == 1 * MB
        grower = subprocess.run(
            [sys.executable, "-c", GROWER, str(data_dir)],
            check=True,
            capture_output=True,
        )
        grown_to = int(grower.stdout)
        assert grown_to > 1 * MB
        assert len(reader.scan(Table.KV)) == 1001
        assert reader.stats()["map_size"] == grown_to


def test_a_reader_shares_the_writers_environment_and_cannot_write(
    store: Store, data_dir: Path
) -> None:
    """LMDB: never open one environment twice in a process; readers are read-only."""
    store.commit([Put(Table.KV, b"k", b"v")])
    with Store.open(data_dir, readonly=True) as reader:
        assert reader.get(Table.KV, b"k") == b"v"
        with pytest.raises(StoreError) as caught:
            reader.submit([Put(Table.KV, b"k", b"w")])
        assert str(caught.value) == f"store in {data_dir} was opened read-only"
    assert store.get(Table.KV, b"k") == b"v"


def test_a_store_from_a_newer_raspy_is_refused_unchanged(data_dir: Path) -> None:
    """Issue #4: a store written by a newer raspy is refused with a message that says
    which versions are involved."""
    with Store.open(data_dir, TINY) as store:
        store.commit([Put(Table.META, b"schema_version", packing.pack(7))])
    before = (data_dir / "data.mdb").read_bytes()
    message = (
        "store schema version 7 is newer than this raspy supports (1); upgrade raspy, "
        "or restore a dump into a new data dir"
    )
    for readonly in (False, True):
        with pytest.raises(StoreError) as caught:
            Store.open(data_dir, TINY, readonly=readonly)
        assert str(caught.value) == message
    assert (data_dir / "data.mdb").read_bytes() == before
    DataDirLock(data_dir).release()  # the refused writer let go of the lock


def test_a_version_0_store_is_migrated_to_1_by_its_registered_step(
    data_dir: Path,
) -> None:
    """Issue #4: an older store is migrated by a registered step (0 -> 1: kv.meta
    last_seq is raised to the highest kv seq, so no sequence number is reused)."""
    with Store.open(data_dir, TINY) as store:
        store.commit(
            [
                Put(Table.KV, b"/a", encode_kv(3, b"x", {}, None)),
                Put(Table.KV, b"/b", encode_kv(8, b"y", {}, None)),
                Delete(Table.META, b"schema_version"),  # as written before version 1
                Delete(Table.KV_META, LAST_SEQ_KEY),
            ]
        )
    with Store.open(data_dir, TINY, readonly=True) as old:
        assert old.schema_version == 0
    with capture_logs() as logs, Store.open(data_dir, TINY) as store:
        assert store.schema_version == 1
        assert store.get(Table.META, b"schema_version") == packing.pack(1)
        assert decode_seq(store.get(Table.KV_META, LAST_SEQ_KEY) or b"") == 8
    assert logs[0] == {
        "event": "store_schema_migrated",
        "log_level": "info",
        "component": "store",
        "path": str(data_dir),
        "from_version": 0,
        "to_version": 1,
    }


def test_the_migration_never_lowers_a_higher_last_seq(data_dir: Path) -> None:
    """ARCHITECTURE.md: a sequence number is never reused."""
    with Store.open(data_dir, TINY) as store:
        store.commit(
            [
                Put(Table.KV, b"/a", encode_kv(3, b"x", {}, None)),
                Put(Table.KV_META, LAST_SEQ_KEY, encode_seq(50)),
                Delete(Table.META, b"schema_version"),
            ]
        )
    with Store.open(data_dir, TINY) as store:
        assert store.get(Table.KV_META, LAST_SEQ_KEY) == encode_seq(50)


def test_commit_from_the_writer_thread_is_refused_instead_of_deadlocking(
    store: Store,
) -> None:
    """Brief: on_done runs on the writer thread; it may read but never block on it."""
    errors: list[BaseException] = []

    def on_done(error: BaseException | None) -> None:
        try:
            store.commit([Put(Table.KV, b"inner", b"x")])
        except RuntimeError as exc:
            errors.append(exc)

    store.submit([Put(Table.KV, b"outer", b"x")], on_done).result(
        timeout=EVENT_TIMEOUT_S
    )
    assert [str(e) for e in errors] == [
        "Store.commit() from the writer thread would deadlock"
    ]


def test_the_map_grows_only_after_open_read_views_close(data_dir: Path) -> None:
    """ARCHITECTURE.md pitfalls: resizing needs no open read txn in this process, so
    growth waits for read views (here closed from another thread) and then goes on."""
    with Store.open(data_dir, TINY) as store:
        store.commit([Put(Table.KV, b"before", b"1")])
        view = store.read_view()
        future = store.submit(
            [Put(Table.KV, b"%04d" % i, b"g" * 4000) for i in range(400)]
        )
        assert view.iter_from(Table.KV, b"", None, 10) == [(b"before", b"1")]
        closer = threading.Thread(target=view.close)
        closer.start()
        closer.join(timeout=EVENT_TIMEOUT_S)
        assert future.result(timeout=EVENT_TIMEOUT_S) is None
        assert len(store.scan(Table.KV)) == 401
        assert store.stats()["map_grows"] >= 1


READER = """
import sys
from raspy import log
from raspy.storage.store import Store, Table
log.configure("warning")
store = Store.open(sys.argv[1], readonly=True)
view = store.read_view()
print("reading", flush=True)
sys.stdin.readline()
"""


def test_a_reader_slot_left_by_a_killed_process_is_cleared_at_open(
    store: Store, data_dir: Path
) -> None:
    """ARCHITECTURE.md pitfalls: a process killed inside a read txn keeps its reader
    slot (while another process keeps the environment open) until reader_check();
    every Store.open calls it (and the writer every minute)."""
    store.commit([Put(Table.KV, b"k", b"v")])
    with subprocess.Popen(
        [sys.executable, "-c", READER, str(data_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    ) as reader:
        assert reader.stdout is not None
        assert reader.stdout.readline() == b"reading\n"
        reader.kill()
        reader.wait(timeout=EVENT_TIMEOUT_S)
    with capture_logs() as logs, Store.open(data_dir, readonly=True):
        pass
    assert logs[0] == {
        "event": "store_stale_readers_cleared",
        "log_level": "warning",
        "component": "store",
        "path": str(data_dir),
        "count": 1,
    }
