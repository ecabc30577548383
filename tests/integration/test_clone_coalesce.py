"""Coalesced readings in the Clone server over a real store (issue 17).

In-process readings under store.coalesced_prefixes are published at once, written
latest-per-key when the interval ends (the server's clock) and at a clean stop;
client writes stay durable; sequence numbers are reserved in blocks.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import zmq
from support.clock import FakeClock
from support.clonesrv import (
    CloneServer,
    clone_server,
    next_update,
    snapshot,
    subscriber,
)
from support.wait import wait_until

from raspy.actors.clone.server import read_tree
from raspy.config import StoreConfig
from raspy.protocol import clone
from raspy.storage.scenario_store import stored_tree
from raspy.storage.store import Store
from raspy.storage.tables import LAST_SEQ_KEY, KvRecord, Table, decode_kv, decode_seq

Context = zmq.Context[zmq.Socket[bytes]]
INTERVAL_S = 60.0
BLOCK = 10


def _open(path: Path, interval_s: float = INTERVAL_S) -> Store:
    config = StoreConfig(
        map_size_initial_mb=1, coalesce_interval_s=interval_s, seq_block=BLOCK
    )
    return Store.open(path, config)


@pytest.fixture
def wear_store(tmp_path: Path) -> Iterator[Store]:
    opened = _open(tmp_path / "data")
    yield opened
    opened.close()


@pytest.fixture
def wear_server(
    zmq_context: Context, wear_store: Store, clock: FakeClock
) -> Iterator[CloneServer]:
    with clone_server(zmq_context, wear_store, clock) as running:
        yield running


def _readings(server: CloneServer, *entries: tuple[bytes, bytes]) -> None:
    before = server.counter("clone.published")
    assert server.publisher.set_many(list(entries)) == []
    wait_until(
        lambda: server.counter("clone.published") == before + len(entries),
        what=f"{len(entries)} readings published",
    )


def _stored(store: Store, key: bytes) -> KvRecord | None:
    raw = store.get(Table.KV, key)
    return None if raw is None else decode_kv(raw)


def _mark(store: Store) -> int:
    raw = store.get(Table.KV_META, LAST_SEQ_KEY)
    return 0 if raw is None else decode_seq(raw)


def test_readings_are_published_at_once_and_stored_when_the_interval_ends(
    wear_server: CloneServer, wear_store: Store, clock: FakeClock
) -> None:
    """Issue 17: published at once, written as the latest value per key per interval;
    the numbers they use are reserved (a stored mark) before they go out."""
    _readings(wear_server, (b"/device/a/value", b"1"), (b"/device/b/value", b"2"))
    _readings(wear_server, (b"/device/a/value", b"3"))
    assert _stored(wear_store, b"/device/a/value") is None
    assert _mark(wear_store) == BLOCK  # seq 1 opened the block 1..10
    clock.advance(INTERVAL_S)
    # both counted on the loop's thread, one after the other
    wait_until(
        lambda: (
            (
                wear_server.counter("clone.coalesced.flushes"),
                wear_server.counter("clone.coalesced.written"),
            )
            == (1, 2)
        ),
        what="one flush of two readings",
    )
    assert _stored(wear_store, b"/device/a/value") == KvRecord(3, b"3", b"", None)
    assert _stored(wear_store, b"/device/b/value") == KvRecord(2, b"2", b"", None)


def test_a_flush_writes_the_readings_alone_not_the_mark_that_covers_them(
    wear_server: CloneServer, wear_store: Store, clock: FakeClock
) -> None:
    """Wear (issue 17): a flush writes only readings a synced mark already covers, so
    it rewrites no kv.meta record (a page of its own tree, copied to the card every
    interval for nothing); the mark on disk still covers every stored number."""
    _readings(wear_server, (b"/device/a/value", b"1"), (b"/device/b/value", b"2"))
    assert _mark(wear_store) == BLOCK
    ops_before = wear_store.stats()["ops"]
    clock.advance(INTERVAL_S)
    wait_until(
        lambda: wear_server.counter("clone.coalesced.flushes") == 1,
        what="one flush",
    )
    wait_until(
        lambda: wear_store.stats()["ops"] > ops_before, what="the flush's commit"
    )
    assert wear_store.stats()["ops"] - ops_before == 2  # the two readings, no mark
    assert _stored(wear_store, b"/device/b/value") == KvRecord(2, b"2", b"", None)
    assert _mark(wear_store) == BLOCK


def test_a_snapshot_holds_the_published_readings_not_yet_stored(
    zmq_context: Context, wear_server: CloneServer, wear_store: Store
) -> None:
    """§6.3: KVSYNC per key with its own sequence, then KTHXBAI with the last one
    published; the store has none of it yet."""
    _readings(wear_server, (b"/device/a/value", b"1"), (b"/device/b/value", b"2"))
    _readings(wear_server, (b"/device/a/value", b"3"), (b"/device/c/value", b""))
    assert wear_store.scan(Table.KV) == []
    assert snapshot(zmq_context, wear_server.endpoints.snapshot, b"/device/") == [
        clone.kvsync(b"/device/a/value", 3, b"3"),
        clone.kvsync(b"/device/b/value", 2, b"2"),
        clone.kthxbai(4, b"/device/"),
    ]


def test_a_client_write_to_a_reading_is_stored_before_published_and_stays(
    zmq_context: Context,
    wear_server: CloneServer,
    wear_store: Store,
    clock: FakeClock,
) -> None:
    """A KVSET with a UUID is acknowledged by its publication: durable whatever the
    subtree. The older coalesced value of that key is never written after it."""
    sub = subscriber(zmq_context, wear_server.endpoints.publisher, b"/device/")
    try:
        _readings(wear_server, (b"/device/a/setpoint", b"old"))
        next_update(sub)
        wear_server.publisher.set(b"/device/a/setpoint", b"21")
        frames = next_update(sub)
        assert (frames[0], clone.decode_seq(frames[1]), frames[4]) == (
            b"/device/a/setpoint",
            2,
            b"21",
        )
        assert _stored(wear_store, b"/device/a/setpoint") == KvRecord(
            2, b"21", b"", None
        )
        clock.advance(INTERVAL_S)
        wear_server.turn()
        assert _stored(wear_store, b"/device/a/setpoint") == KvRecord(
            2, b"21", b"", None
        )
        assert snapshot(zmq_context, wear_server.endpoints.snapshot, b"/device/") == [
            clone.kvsync(b"/device/a/setpoint", 2, b"21"),
            clone.kthxbai(2, b"/device/"),
        ]
    finally:
        sub.close(linger=0)


def test_a_clean_stop_writes_the_pending_readings_and_a_restart_starts_past_the_block(
    zmq_context: Context, tmp_path: Path, clock: FakeClock
) -> None:
    """Issue 17: nothing is lost at a clean stop; the next number is past the mark."""
    store = _open(tmp_path / "data")
    try:
        with clone_server(zmq_context, store, clock) as running:
            _readings(running, (b"/device/a/value", b"1"), (b"/device/x", b"2"))
        assert _stored(store, b"/device/a/value") == KvRecord(1, b"1", b"", None)
        assert _stored(store, b"/device/x") == KvRecord(2, b"2", b"", None)
        with clone_server(zmq_context, store, clock) as again:
            sub = subscriber(zmq_context, again.endpoints.publisher, b"/device/")
            try:
                _readings(again, (b"/device/a/value", b"5"))
                assert clone.decode_seq(next_update(sub)[1]) == BLOCK + 1
            finally:
                sub.close(linger=0)
    finally:
        store.close()


def test_with_coalescing_off_readings_are_stored_before_published(
    zmq_context: Context, tmp_path: Path, clock: FakeClock
) -> None:
    """store.coalesce_interval_s = 0: every update durable, numbers not skipped."""
    store = _open(tmp_path / "data", interval_s=0.0)
    try:
        with clone_server(zmq_context, store, clock) as running:
            _readings(running, (b"/device/a/value", b"1"))
            assert _stored(store, b"/device/a/value") == KvRecord(1, b"1", b"", None)
            assert _mark(store) == 1
    finally:
        store.close()


def test_a_failed_commit_loses_its_client_write_but_not_the_readings_beside_it(
    zmq_context: Context, tmp_path: Path, clock: FakeClock
) -> None:
    """A store failure drops the durable update (never published, counted) while
    the coalesced readings of the same turn go out once a stored mark covers them."""
    config = StoreConfig(
        map_size_initial_mb=1, coalesce_interval_s=INTERVAL_S, seq_block=BLOCK
    )
    store = Store.open(tmp_path / "data", replace(config, max_value_bytes=1000))
    try:
        with clone_server(zmq_context, store, clock) as running:
            sub = subscriber(zmq_context, running.endpoints.publisher, b"/")
            try:
                running.publisher.set(b"/scenario/big", b"x" * 2000)
                assert running.publisher.set_many([(b"/device/a/value", b"1")]) == []
                frames = next_update(sub)
                assert (frames[0], frames[4]) == (b"/device/a/value", b"1")
                wait_until(
                    lambda: running.counter("clone.commit_failed") == 1,
                    what="the failed commit counted",
                )
                assert _mark(store) >= clone.decode_seq(frames[1])
                assert snapshot(zmq_context, running.endpoints.snapshot, b"/") == [
                    clone.kvsync(b"/device/a/value", clone.decode_seq(frames[1]), b"1"),
                    clone.kthxbai(clone.decode_seq(frames[1]), b"/"),
                ]
            finally:
                sub.close(linger=0)
    finally:
        store.close()


def test_read_tree_shows_the_readings_not_yet_stored_and_hides_their_deletion(
    wear_server: CloneServer, wear_store: Store, clock: FakeClock
) -> None:
    """A device service reads its subtree at start to forget the devices gone: the
    store alone lacks what came (and went) within the last interval."""
    _readings(wear_server, (b"/device/a/value", b"1"), (b"/device/b/value", b"2"))
    clock.advance(INTERVAL_S)
    wait_until(
        lambda: wear_server.counter("clone.coalesced.flushes") == 1,
        what="one flush",
    )
    _readings(wear_server, (b"/device/c/value", b"3"), (b"/device/a/value", b""))
    _readings(wear_server, (b"/device/b/value", b"4"))
    assert stored_tree(wear_store, "/device/") == [
        ("/device/a/value", b"1"),
        ("/device/b/value", b"2"),
    ]
    assert read_tree(wear_server.ref, wear_store, "/device/") == [
        ("/device/b/value", b"4"),
        ("/device/c/value", b"3"),
    ]
    assert read_tree(None, wear_store, "/device/b") == [("/device/b/value", b"2")]


@pytest.mark.parametrize("second_ttl_s", [10.0, None])
def test_a_failed_commit_leaves_the_keys_expiry_as_the_store_has_it(
    zmq_context: Context, tmp_path: Path, clock: FakeClock, second_ttl_s: float | None
) -> None:
    """The core set (or ended) a key's expiry when it accepted the update, and a
    failed commit left it so: a permanent key whose ephemeral set failed was
    deleted at that set's ttl, the client never told of the new value; an
    ephemeral key whose permanent set failed never expired."""
    config = StoreConfig(map_size_initial_mb=1, coalesce_interval_s=0.0)
    store = Store.open(tmp_path / "data", replace(config, max_value_bytes=1000))
    first_ttl_s = None if second_ttl_s else 10.0
    try:
        with clone_server(zmq_context, store, clock) as running:
            running.publisher.set(b"/x/k", b"stored", ttl_s=first_ttl_s)
            wait_until(lambda: _stored(store, b"/x/k") is not None, what="stored")
            # too large for the store (not for the Clone server): its commit fails
            running.publisher.set(b"/x/k", b"y" * 2000, ttl_s=second_ttl_s)
            wait_until(
                lambda: running.counter("clone.commit_failed") == 1,
                what="the failed commit",
            )
            clock.advance(11)
            running.publisher.set(b"/x/after", b"1")  # a turn after the tick
            wait_until(lambda: _stored(store, b"/x/after") is not None, what="a turn")
            kept = _stored(store, b"/x/k")
    finally:
        store.close()
    # kept when it was stored permanent; when stored ephemeral, its stored ttl
    # counts again from the failure (as at a start, §6.6), and it has expired
    assert (kept is not None) == (first_ttl_s is None), kept
