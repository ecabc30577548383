"""What the Clone server's commit pipeline leaves when a write or its I/O thread
fails: a durable update is stored, or its writer told it is lost; a coalesced value
bigger than the map is dropped alone, not with every other, and one refused for want
of room kept for the next flush, written alone after the others' group until it is
stored; one whose block's mark was not stored is never written. Real LMDB."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from support.clone_pipeline import (
    drained,
    flushed,
    one_mb_pipeline,
    reading,
    refusing_pipeline,
    stored,
    taking_released,
)

from raspy.actors.clone.commit import CommitPipeline
from raspy.config import StoreConfig
from raspy.cores import clone as core_mod
from raspy.stats import Stats
from raspy.storage.store import Put, Store, Table
from raspy.storage.tables import KvRecord
from raspy.transport.wakeup import Wakeup

pytestmark = pytest.mark.timeout(60)

UUID = b"u" * 16


class _Told:
    """on_lost's calls: (key, uuid, reason) of each writer told its write is lost."""

    def __init__(self) -> None:
        self.lost: list[tuple[bytes, bytes, str]] = []

    def __call__(self, key: bytes, uuid: bytes, reason: str) -> None:
        self.lost.append((key, uuid, reason))


def _pipeline(store: Store, wake: Wakeup, told: _Told) -> CommitPipeline:
    pipeline = CommitPipeline(store, core_mod.CloneCore(), Stats(), wake, on_lost=told)
    pipeline.load(0.0)
    return pipeline


def test_a_durable_update_accepted_when_the_io_thread_fails_is_stored(
    tmp_path: Path,
) -> None:
    """The I/O thread failed between accepting an in-process write and its turn's
    submit: the write was neither stored nor its writer told anything."""
    store = Store.open(tmp_path / "data", StoreConfig(map_size_initial_mb=1))
    wake = Wakeup()
    try:
        told = _Told()
        pipeline = _pipeline(store, wake, told)
        pipeline.accept(reading(1, b"on", uuid=UUID))
        pipeline.write_pending(5.0)
        assert stored(store, b"/device/t/value") == KvRecord(1, b"on", b"", None)
        assert told.lost == []
    finally:
        wake.close()
        store.close()


def test_a_durable_update_that_fails_after_the_io_thread_failed_is_said_lost(
    tmp_path: Path,
) -> None:
    """Its write failed while (or after) the I/O thread failed: nothing released it
    any more, so its writer, which waits for KeyChanged or KeyRefused, heard
    nothing."""
    config = replace(StoreConfig(map_size_initial_mb=1), max_value_bytes=1000)
    store = Store.open(tmp_path / "data", config)
    wake = Wakeup()
    try:
        told = _Told()
        pipeline = _pipeline(store, wake, told)
        pipeline.accept(reading(1, b"x" * 2000, uuid=UUID))  # too large for the store
        pipeline.submit()
        pipeline.write_pending(5.0)
        assert told.lost == [(b"/device/t/value", UUID, "commit_failed")]
        assert stored(store, b"/device/t/value") is None
    finally:
        wake.close()
        store.close()


def test_a_reading_the_map_cannot_take_is_dropped_not_every_other(
    tmp_path: Path,
) -> None:
    """A flush is one transaction: one value bigger than the map's maximum made
    every flush fail, so no other reading was ever stored again (and each was put
    back for the next flush, which failed the same way)."""
    with one_mb_pipeline(tmp_path / "data") as (store, pipeline, stats):
        big = reading(1, b"b" * (3 << 19), key=b"/device/big/value")  # 1.5 MB
        pipeline.accept(big, coalesced=True)
        pipeline.accept(reading(2, b"21.5"), coalesced=True)
        pipeline.submit()
        assert drained(pipeline) == [1, 2]
        flushed(pipeline)
        assert stored(store, b"/device/t/value") == KvRecord(2, b"21.5", b"", None)
        assert stored(store, b"/device/big/value") is None
        assert stats.get("clone.coalesced.dropped") == 1
        assert pipeline.buffer.pending_count == 0  # not tried again and again
        pipeline.accept(reading(3, b"22.0"), coalesced=True)
        pipeline.submit()
        assert drained(pipeline) == [3]
        flushed(pipeline)
        assert stored(store, b"/device/t/value") == KvRecord(3, b"22.0", b"", None)
        assert stats.get("clone.coalesced.flush_failed") == 0


def test_a_lone_reading_bigger_than_the_map_is_dropped(tmp_path: Path) -> None:
    """The only reading of the interval, bigger than the map at its maximum: it was
    put back, and every interval after failed on it again (the map grown to its
    maximum for it), though no room made could ever take it."""
    with one_mb_pipeline(tmp_path / "data") as (store, pipeline, stats):
        big = reading(1, b"b" * (3 << 19), key=b"/device/big/value")  # 1.5 MB
        pipeline.accept(big, coalesced=True)
        pipeline.submit()
        assert drained(pipeline) == [1]
        flushed(pipeline)
        assert stored(store, b"/device/big/value") is None
        assert stats.get("clone.coalesced.dropped") == 1
        assert pipeline.buffer.pending_count == 0


def test_a_reading_a_few_pages_under_the_map_is_dropped(tmp_path: Path) -> None:
    """Under the map's maximum, but bigger than what it can hold beside the pages
    it always holds (its meta pages, the trees' roots): it was put back, and every
    interval after failed on it again."""
    with one_mb_pipeline(tmp_path / "data") as (store, pipeline, stats):
        size = store.max_map_bytes - 2 * store.page_bytes
        pipeline.accept(
            reading(1, b"b" * size, key=b"/device/big/value"), coalesced=True
        )
        pipeline.submit()
        assert drained(pipeline) == [1]
        flushed(pipeline)
        assert stats.get("clone.coalesced.dropped") == 1
        assert pipeline.buffer.pending_count == 0


def _flush_writes(store: Store, pipeline: CommitPipeline) -> dict[str, float]:
    """A flush submitted now and waited for: what the store's writer did for it."""
    before = store.stats()
    flushed(pipeline)
    after = store.stats()
    return {
        name: after[name] - before[name] for name in ("batches", "commits", "failed")
    }


def test_a_reading_that_fits_only_an_emptier_store_costs_one_write_an_interval(
    tmp_path: Path,
) -> None:
    """0.9 of the map, beside data that is there to stay: each interval the value
    went back into the group, the group failed, and every value was written again
    in a transaction (and a sync) of its own; after 10 intervals it was dropped for
    that cost. Now it is written alone after the group of the others, one refused
    write an interval, until a value of its key is stored (then it is in the group
    again)."""
    with one_mb_pipeline(tmp_path / "data", filled=True) as (
        store,
        pipeline,
        stats,
    ):
        big_key = b"/device/big/value"
        big = reading(1, b"b" * (store.max_map_bytes * 9 // 10), big_key)
        pipeline.accept(big, coalesced=True)
        for n in range(12):
            for i in range(3):  # three other readings
                key = b"/device/t%d/value" % i
                pipeline.accept(reading(2 + 3 * n + i, b"%d" % n, key), coalesced=True)
            pipeline.submit()
            drained(pipeline)
            writes = _flush_writes(store, pipeline)
            if n:  # the first found no room, then wrote each value alone
                assert writes == {
                    "batches": 2,  # the group, then the big value alone
                    "commits": 1,
                    "failed": 1,
                }
            for i in range(3):
                assert stored(store, b"/device/t%d/value" % i) == KvRecord(
                    2 + 3 * n + i, b"%d" % n, b"", None
                )
            assert stored(store, big_key) is None
            assert pipeline.buffer.pending_count == 1  # tried again next interval
        assert stats.get("clone.coalesced.dropped") == 0
        # a smaller value of the key: it fits, written alone; then forgotten
        pipeline.accept(reading(100, b"small", big_key), coalesced=True)
        pipeline.submit()
        drained(pipeline)
        assert _flush_writes(store, pipeline) == {
            "batches": 1,
            "commits": 1,
            "failed": 0,
        }
        assert stored(store, big_key) == KvRecord(100, b"small", b"", None)
        assert pipeline.buffer.pending_count == 0
        pipeline.accept(reading(101, b"last", b"/device/t0/value"), coalesced=True)
        pipeline.accept(reading(102, b"b", big_key), coalesced=True)
        pipeline.submit()
        drained(pipeline)
        # one group again
        assert _flush_writes(store, pipeline) == {
            "batches": 1,
            "commits": 1,
            "failed": 0,
        }
        assert stored(store, big_key) == KvRecord(102, b"b", b"", None)
        assert stored(store, b"/device/t0/value") == KvRecord(101, b"last", b"", None)
        assert stats.get("clone.coalesced.dropped") == 0


def test_a_key_written_by_the_value_told_stays_alone_while_its_newer_one_waits(
    tmp_path: Path,
) -> None:
    """A key whose value found no room, written with the value subscribers were
    told (its newest, 0.9 of the map again, waits behind a client's write): it was
    forgotten as refused, so the next flush put its big value back in the group,
    which failed once more before each value was written alone."""
    with one_mb_pipeline(tmp_path / "data", filled=True) as (store, pipeline, _):
        big_key, other = b"/device/big/value", b"/device/t0/value"
        size = store.max_map_bytes * 9 // 10
        pipeline.accept(reading(1, b"b" * size, big_key), coalesced=True)
        pipeline.accept(reading(2, b"20", other), coalesced=True)
        pipeline.submit()
        drained(pipeline)
        flushed(pipeline)  # no room for the big one: its key goes alone from now on
        assert stored(store, big_key) is None
        pipeline.accept(reading(3, b"small", big_key), coalesced=True)
        pipeline.submit()
        assert drained(pipeline) == [3]  # told
        pipeline.accept(reading(4, b"on", key=b"/house/switch", uuid=UUID))
        pipeline.submit()  # a client's write on its way
        pipeline.accept(reading(5, b"c" * size, big_key), coalesced=True)
        pipeline.submit()  # waits behind it
        flushed(pipeline)
        assert stored(store, big_key) == KvRecord(3, b"small", b"", None)
        pipeline.accept(reading(6, b"21", other), coalesced=True)
        pipeline.submit()
        drained(pipeline)
        assert _flush_writes(store, pipeline) == {
            "batches": 2,
            "commits": 1,
            "failed": 1,
        }
        assert stored(store, other) == KvRecord(6, b"21", b"", None)


def test_a_reading_a_full_disk_refuses_is_stored_once_the_disk_is_freed(
    tmp_path: Path,
) -> None:
    """A full disk on which the small readings still fit the store's pages and a
    bigger one does not: the bigger one was dropped for good after 10 intervals,
    though the disk may be freed a minute later. It waits, alone after the others'
    group, for as long as the disk is full."""
    with refusing_pipeline(tmp_path / "data") as refused:
        store, refusing, pipeline, stats = (
            refused.store,
            refused.refusing,
            refused.pipeline,
            refused.stats,
        )
        pipeline.accept(
            reading(1, b"i" * 5000, key=b"/device/cam/value"), coalesced=True
        )
        pipeline.submit()
        drained(pipeline)
        refusing.room = 1000  # the disk is full
        for n in range(15):
            pipeline.accept(reading(2 + n, b"%d" % n), coalesced=True)
            pipeline.submit()
            drained(pipeline)
            writes = _flush_writes(store, pipeline)
            if n:  # the others' group: one transaction
                assert writes == {
                    "batches": 1,
                    "commits": 1,
                    "failed": 0,
                }
            assert stored(store, b"/device/t/value") == KvRecord(
                2 + n, b"%d" % n, b"", None
            )
            assert stored(store, b"/device/cam/value") is None
        assert stats.get("clone.coalesced.dropped") == 0
        assert pipeline.buffer.pending_count == 1
        refusing.room = None  # the disk freed
        flushed(pipeline)
        assert stored(store, b"/device/cam/value") == KvRecord(
            1, b"i" * 5000, b"", None
        )
        assert pipeline.buffer.pending_count == 0


def test_a_reading_refused_for_want_of_room_for_now_is_kept_pending(
    tmp_path: Path,
) -> None:
    """The flush found no room, and the first of its readings, written alone, found
    none either while the second fitted: the first was dropped for good, though
    a full map (or disk) has room again later. Subscribers were told it, and the
    store, a clean stop and a restart kept the value before it."""
    with refusing_pipeline(tmp_path / "data") as refused:
        store, refusing, pipeline, stats = (
            refused.store,
            refused.refusing,
            refused.pipeline,
            refused.stats,
        )
        pipeline.accept(reading(1, b"21.5", key=b"/device/a/value"), coalesced=True)
        pipeline.accept(reading(2, b"7", key=b"/device/b/value"), coalesced=True)
        pipeline.submit()
        assert drained(pipeline) == [1, 2]
        refusing.refuse = 2  # the flush, then the first reading alone: full, for now
        flushed(pipeline)
        assert stored(store, b"/device/b/value") == KvRecord(2, b"7", b"", None)
        assert stored(store, b"/device/a/value") is None
        assert stats.get("clone.coalesced.dropped") == 0
        assert pipeline.buffer.pending_count == 1  # the next interval tries it again
        flushed(pipeline)  # room again
        assert stored(store, b"/device/a/value") == KvRecord(1, b"21.5", b"", None)
        assert pipeline.buffer.pending_count == 0


def test_a_reading_whose_mark_failed_is_not_written_by_the_flush_under_way(
    tmp_path: Path,
) -> None:
    """The interval's flush came in the turn that accepted the reading, so it took
    the reading before its block's mark was stored; the mark failed, so no
    subscriber was told the reading, yet the flush wrote it: the store held a value
    that nobody was shown, and a snapshot or a restart showed it."""
    with refusing_pipeline(tmp_path / "data", seq_block=1) as refused:
        store, refusing, pipeline = (
            refused.store,
            refused.refusing,
            refused.pipeline,
        )
        pipeline.accept(reading(1, b"21.5"), coalesced=True)
        pipeline.submit()
        assert drained(pipeline) == [1]
        refusing.refuse = 1  # the mark for seq 2
        pipeline.accept(reading(2, b"22.0"), coalesced=True)
        pipeline.submit()
        pipeline.flush()  # the turn's tick: the interval is up
        store.written()  # whatever that flush submitted is written
        assert drained(pipeline) == []
        pipeline.finish(taking_released(pipeline), 5.0)
        assert stored(store, b"/device/t/value") == KvRecord(1, b"21.5", b"", None)


def _refused_once(tmp_path: Path) -> tuple[Store, Wakeup, CommitPipeline, bytes]:
    """A pipeline that has learned to write one key's value alone: 0.9 of the map,
    beside data there to stay, refused for want of room while another was stored."""
    config = StoreConfig(map_size_initial_mb=1, map_size_max_mb=1)
    store = Store.open(tmp_path / "data", replace(config, max_value_bytes=2 << 20))
    store.commit([Put(Table.HISTORY, b"h%04d" % i, b"r" * 100) for i in range(2000)])
    wake = Wakeup()
    pipeline = CommitPipeline(store, core_mod.CloneCore(), Stats(), wake)
    pipeline.load(0.0)
    big_key = b"/device/big/value"
    pipeline.accept(
        reading(1, b"b" * (store.max_map_bytes * 9 // 10), big_key), coalesced=True
    )
    pipeline.accept(reading(2, b"1", b"/device/t/value"), coalesced=True)
    pipeline.submit()
    drained(pipeline)
    flushed(pipeline)
    assert pipeline._refused_keys == {big_key}
    return store, wake, pipeline, big_key


def _one_group(store: Store, pipeline: CommitPipeline, big_key: bytes) -> None:
    """A small value of the key, with another: one group commit, not the group and
    the key's value alone."""
    pipeline.accept(reading(100, b"small", big_key), coalesced=True)
    pipeline.accept(reading(101, b"2", b"/device/t/value"), coalesced=True)
    pipeline.submit()
    drained(pipeline)
    assert _flush_writes(store, pipeline) == {"batches": 1, "commits": 1, "failed": 0}
    assert stored(store, big_key) == KvRecord(100, b"small", b"", None)


def test_a_key_a_durable_update_supersedes_is_forgotten(tmp_path: Path) -> None:
    """A key was forgotten only once a coalesced value of it was written or
    dropped: deleted (a durable update) instead, it stayed remembered for good,
    one more key each time, and a later value of it went alone."""
    store, wake, pipeline, big_key = _refused_once(tmp_path)
    try:
        pipeline.accept(reading(3, b"", big_key))  # deleted: a durable update
        pipeline.submit()
        assert drained(pipeline) == [3]
        assert pipeline.buffer.pending_count == 0  # its value, put back, taken out
        assert pipeline._refused_keys == set()
        _one_group(store, pipeline, big_key)
    finally:
        wake.close()
        store.close()


def test_a_key_superseded_while_its_value_is_being_stored_is_forgotten(
    tmp_path: Path,
) -> None:
    """The durable update came while the key's value, alone, was being stored: it
    found no room, was not put back (no longer the latest), and the key stayed
    remembered."""
    store, wake, pipeline, big_key = _refused_once(tmp_path)
    try:
        pipeline.accept(reading(3, b"3", b"/device/t/value"), coalesced=True)
        pipeline.submit()
        drained(pipeline)
        pipeline.flush()  # the other's group, and the big value (put back) alone
        pipeline.accept(reading(4, b"", big_key))  # deleted meanwhile
        pipeline.submit()
        drained(pipeline)
        flushed(pipeline)  # waits for the flush in flight
        assert stored(store, big_key) is None
        assert pipeline.buffer.pending_count == 0
        assert pipeline._refused_keys == set()
        _one_group(store, pipeline, big_key)
    finally:
        wake.close()
        store.close()
