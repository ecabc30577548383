"""The LMDB Store on a real data dir: reads, writes, map growth, limits and the writer
thread's group commit (issue #4, docs/architecture.md "Storage", docs/style.md §6)."""

from __future__ import annotations

import stat
import threading
from collections.abc import Callable
from concurrent.futures import CancelledError, Future
from pathlib import Path

import pytest
from structlog.testing import capture_logs
from support.store_fixtures import (
    EVENT_TIMEOUT_S,
    MB,
    TINY,
    data_dir_fixture,  # noqa: F401  # fixture `data_dir`
    store_fixture,  # noqa: F401  # fixture `store`
)

from raspy import packing
from raspy.config import StoreConfig
from raspy.errors import (
    StoreError,
    StoreFullError,
    ValueTooLargeError,
)
from raspy.storage.schema import SCHEMA_VERSION
from raspy.storage.store import Delete, Put, Store, Table


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


def test_a_new_store_has_a_0700_data_dir_and_the_schema_version(data_dir: Path) -> None:
    """docs/architecture.md: data dir created 0700; issue #4: schema version in meta."""
    with Store.open(data_dir, TINY) as store:
        assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
        assert store.schema_version == SCHEMA_VERSION
        assert store.get(Table.META, b"schema_version") == packing.pack(SCHEMA_VERSION)


def test_committed_writes_are_read_back_by_get_scan_and_read_view(store: Store) -> None:
    """docs/style.md §6: get, scan(table, prefix, limit) as a list, read_view().iter_from."""
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
    """Issue #4: the map grows on MapFullError and the failed txn is retried; issue 18:
    or ahead of need, once 3/4 of it is used and no read txn is open."""
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
            "reason": event["reason"],
        }
        for i, event in enumerate(grown, start=1)
    ]
    assert {event["reason"] for event in grown} <= {"full", "ahead"}
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
    """docs/style.md §6: never acknowledge something not committed, nor write the cancelled."""
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
    """docs/architecture.md pitfalls: resizing needs no open read txn in this process, so
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


def test_submit_then_calls_back_after_the_commit_and_reports_a_refusal_at_once(
    store: Store,
) -> None:
    """The actors' path: no Future, the callback alone reports (after the sync)."""
    seen: list[tuple[BaseException | None, bytes | None]] = []
    done = threading.Event()

    def on_done(error: BaseException | None) -> None:
        seen.append((error, store.get(Table.KV, b"then")))
        done.set()

    store.submit_then([Put(Table.KV, b"then", b"v")], on_done)
    assert done.wait(EVENT_TIMEOUT_S)
    assert seen == [(None, b"v")]
    with pytest.raises(ValueTooLargeError):
        store.submit_then([Put(Table.KV, b"k" * 600, b"v")], on_done)
    assert len(seen) == 1
