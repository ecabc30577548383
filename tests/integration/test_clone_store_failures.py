"""Coalesced values a failed write did not store are not lost (issue 17): a real
Clone server over a real store that fails for real (its map at its maximum, a value
too large for it), then has room again.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import pytest
import zmq
from support.clock import FakeClock
from support.clone_pipeline import (
    drained,
    reading,
    refusing_pipeline,
    stored,
    taking_released,
)
from support.clonesrv import CloneServer, clone_server, next_update, subscriber
from support.wait import wait_until

from raspy.actors import messages as msgs
from raspy.config import StoreConfig
from raspy.errors import StoreFullError
from raspy.storage.store import Delete, Put, Store
from raspy.storage.tables import KvRecord, Table

pytestmark = pytest.mark.timeout(60)

Context = zmq.Context[zmq.Socket[bytes]]
INTERVAL_S = 60.0
FILL_BYTES = 20_000
BIG_READING = b"r" * 10_000  # no room for it in a map filled with FILL_BYTES values


def _fill(store: Store) -> list[bytes]:
    """Values under the cron table until the map, at its maximum, takes no more."""
    keys: list[bytes] = []
    for n in range(200):  # a 1 MB map is full long before
        key = b"fill%03d" % n
        try:
            store.commit([Put(Table.CRON, key, b"f" * FILL_BYTES)])
        except StoreFullError:
            return keys
        keys.append(key)
    raise AssertionError("the map never filled")


def _make_room(store: Store, keys: list[bytes]) -> None:
    """Delete a few fill values; LMDB reuses their pages a few commits later."""
    store.commit([Delete(Table.CRON, key) for key in keys[:4]])
    for n in range(3):
        store.commit([Put(Table.CRON, b"turn", b"%d" % n)])


def _readings(server: CloneServer, *entries: tuple[bytes, bytes]) -> None:
    before = server.counter("clone.published")
    assert server.publisher.set_many(list(entries)) == []
    wait_until(
        lambda: server.counter("clone.published") == before + len(entries),
        what=f"{len(entries)} readings published",
    )


def test_a_failed_flush_keeps_its_values_for_the_next_one(
    zmq_context: Context, tmp_path: Path, clock: FakeClock
) -> None:
    """A flush the store refused (here its map at the maximum, with room for none
    of its values) lost its values: a key with no further reading (a statistic, a
    quiet sensor) was never written, also not at a clean stop, and a restart showed
    it gone."""
    config = StoreConfig(
        map_size_initial_mb=1, map_size_max_mb=1, coalesce_interval_s=INTERVAL_S
    )
    store = Store.open(tmp_path / "data", config)
    try:
        with clone_server(zmq_context, store, clock) as running:
            _readings(
                running, (b"/device/big", BIG_READING), (b"/device/bulk", BIG_READING)
            )
            filled = _fill(store)
            clock.advance(INTERVAL_S)
            wait_until(
                lambda: running.counter("clone.coalesced.flush_failed") == 2,
                what="the flush failed",
            )
            assert stored(store, b"/device/bulk") is None
            _make_room(store, filled)
            clock.advance(INTERVAL_S)
            wait_until(
                lambda: running.counter("clone.coalesced.flushes") == 1,
                what="the next flush",
            )
            assert stored(store, b"/device/big") == KvRecord(1, BIG_READING, b"", None)
            assert stored(store, b"/device/bulk") == KvRecord(2, BIG_READING, b"", None)
            assert running.counter("clone.coalesced.dropped") == 0
    finally:
        store.close()


def test_a_reading_a_full_map_cannot_take_does_not_hold_back_the_others(
    zmq_context: Context, tmp_path: Path, clock: FakeClock
) -> None:
    """A flush is one transaction: one reading too big for what the map at its
    maximum has left failed it whole, at every interval, and no other reading was
    stored again. The others are written at each interval; that one stays pending
    (it is no bigger than the map: room may be made) and is written once there is
    room, with no further reading of its key."""
    config = StoreConfig(
        map_size_initial_mb=1, map_size_max_mb=1, coalesce_interval_s=INTERVAL_S
    )
    store = Store.open(tmp_path / "data", config)
    try:
        with clone_server(zmq_context, store, clock) as running:
            _readings(running, (b"/device/big", BIG_READING), (b"/device/up", b"1"))
            filled = _fill(store)
            clock.advance(INTERVAL_S)
            wait_until(
                lambda: running.counter("clone.coalesced.flushes") == 1,
                what="the readings that fit written",
            )
            assert stored(store, b"/device/up") == KvRecord(2, b"1", b"", None)
            wait_until(
                lambda: running.counter("clone.coalesced.flush_failed") == 1,
                what="the big reading kept",
            )
            assert stored(store, b"/device/big") is None
            _readings(running, (b"/device/up", b"2"))
            clock.advance(INTERVAL_S)  # still no room for the big one
            wait_until(
                lambda: running.counter("clone.coalesced.flush_failed") == 2,
                what="the big reading kept again",
            )
            assert stored(store, b"/device/up") == KvRecord(3, b"2", b"", None)
            _make_room(store, filled)
            clock.advance(INTERVAL_S)
            wait_until(
                lambda: running.counter("clone.coalesced.flushes") == 3,
                what="the next flush",
            )
            assert stored(store, b"/device/big") == KvRecord(1, BIG_READING, b"", None)
            assert running.counter("clone.coalesced.dropped") == 0
    finally:
        store.close()


def test_a_failed_flush_is_tried_again_at_a_clean_stop(
    zmq_context: Context, tmp_path: Path, clock: FakeClock
) -> None:
    """Issue 17: a clean stop loses nothing, also after a failed flush."""
    config = StoreConfig(
        map_size_initial_mb=1, map_size_max_mb=1, coalesce_interval_s=INTERVAL_S
    )
    store = Store.open(tmp_path / "data", config)
    try:
        with clone_server(zmq_context, store, clock) as running:
            _readings(running, (b"/device/big", BIG_READING))
            filled = _fill(store)
            clock.advance(INTERVAL_S)
            wait_until(
                lambda: running.counter("clone.coalesced.flush_failed") == 1,
                what="the flush failed",
            )
            _make_room(store, filled)
        assert stored(store, b"/device/big") == KvRecord(1, BIG_READING, b"", None)
    finally:
        store.close()


def test_a_failed_client_write_keeps_the_newer_reading_of_its_key_pending(
    zmq_context: Context, tmp_path: Path, clock: FakeClock
) -> None:
    """A durable set of a key takes that key's pending reading out (the store must
    never see the older value after it). When the durable set's commit failed, the
    reading subscribers had was written by no flush: the store kept the value
    before it, and a restart went back to that."""
    config = StoreConfig(map_size_initial_mb=1, coalesce_interval_s=INTERVAL_S)
    store = Store.open(tmp_path / "data", replace(config, max_value_bytes=1000))
    try:
        with clone_server(zmq_context, store, clock) as running:
            sub = subscriber(zmq_context, running.endpoints.publisher, b"/device/")
            try:
                running.publisher.set(b"/device/k/value", b"old")  # durable
                assert next_update(sub)[4] == b"old"
                assert running.publisher.set_many([(b"/device/k/value", b"new")]) == []
                assert next_update(sub)[4] == b"new"
                # too large for the store (not for the Clone server): it fails
                running.publisher.set(b"/device/k/value", b"x" * 2000)
                wait_until(
                    lambda: running.counter("clone.commit_failed") == 1,
                    what="the failed commit",
                )
            finally:
                sub.close(linger=0)
        assert stored(store, b"/device/k/value") == KvRecord(2, b"new", b"", None)
    finally:
        store.close()


def test_a_reading_whose_mark_was_not_stored_is_neither_published_nor_written(
    tmp_path: Path,
) -> None:
    """A coalesced update is published only once a stored mark covers its number;
    when that mark could not be stored it was counted lost and never published,
    but stayed pending: the next flush stored a value no subscriber was told, in
    place of the one they were."""
    with refusing_pipeline(tmp_path / "data", seq_block=1) as refused:
        store, refusing, pipeline, stats = (
            refused.store,
            refused.refusing,
            refused.pipeline,
            refused.stats,
        )
        pipeline.accept(reading(1, b"21.5"), coalesced=True)
        pipeline.submit()
        assert drained(pipeline) == [1]
        refusing.refuse = 1  # the mark for seq 2
        pipeline.accept(reading(2, b"22.0"), coalesced=True)
        pipeline.submit()
        assert drained(pipeline) == []
        assert stats.get("clone.coalesced.lost") == 1
        pipeline.finish(taking_released(pipeline), 5.0)
        assert stored(store, b"/device/t/value") == KvRecord(1, b"21.5", b"", None)


def test_a_reading_in_a_failed_flush_beside_a_failed_client_write_is_kept(
    tmp_path: Path,
) -> None:
    """The reading was in the flush under way when a client's durable set of its key
    came (nothing pending for the set to take out); the store refused both. The
    flush's failure left the reading to the newer set, and the set's failure had
    nothing to put back: what subscribers were shown was written by no one."""
    with refusing_pipeline(tmp_path / "data") as refused:
        store, refusing, pipeline = (
            refused.store,
            refused.refusing,
            refused.pipeline,
        )
        pipeline.accept(reading(1, b"21.5"), coalesced=True)
        pipeline.submit()
        assert drained(pipeline) == [1]
        refusing.refuse = 2  # the flush of the reading, then the client's set
        pipeline.flush()
        pipeline.accept(reading(2, b"set by a client"), coalesced=False)
        pipeline.submit()
        assert drained(pipeline) == []
        pipeline.finish(taking_released(pipeline), 5.0)
        assert stored(store, b"/device/t/value") == KvRecord(1, b"21.5", b"", None)


class _Breaking:
    """An in-process subscriber whose tell raises what no part expects: the Clone
    I/O thread fails on it (a bug there, as the supervisor sees it)."""

    def tell(self, message: object) -> None:
        raise RuntimeError("a bug in a subscriber")


def test_the_readings_of_the_interval_are_stored_when_the_io_thread_fails(
    zmq_context: Context, tmp_path: Path, clock: FakeClock
) -> None:
    """A failed I/O thread skipped every write of the pending coalesced values: up
    to coalesce_interval_s of published readings were gone when the supervisor
    started the server again. They are stored; nothing more is published."""
    store = Store.open(tmp_path / "data", StoreConfig(map_size_initial_mb=1))
    try:
        with clone_server(zmq_context, store, clock) as running:
            _readings(running, (b"/device/a/value", b"1"))
            running.ref.ask(msgs.CloneSubscribe(b"/boom/", cast(Any, _Breaking())))
            running.publisher.set(b"/boom/x", b"1")  # durable: its release fails
            wait_until(lambda: not running.ref.is_alive(), what="the server failed")
        assert stored(store, b"/device/a/value") == KvRecord(1, b"1", b"", None)
    finally:
        store.close()
