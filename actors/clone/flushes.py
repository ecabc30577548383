"""The coalesced values' group commits (issue 17), under CommitPipeline (`commit.py`):
written latest per key once an interval, put back when a write fails; a flush that
found no room written again a value a transaction, once, so that one value the map
has no room for does not keep every other reading off the disk. A value the store
can never take is dropped; one refused for want of room is put back, and the next
interval tries it again (room may have been made), but no more than
REFUSED_FLUSHES_MAX times while the others of its flush are stored: each time costs
the flush one write (and sync) per value instead of one.
A base class of CommitPipeline, as CommitFailures is this one's.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Final

import structlog

from raspy.actors.clone.commit_failures import Batch, CommitFailures
from raspy.actors.clone.records import store_ops
from raspy.cores import clone as core_mod
from raspy.cores.clone_durability import SequenceBlocks
from raspy.errors import StoreError, StoreFullError, ValueTooLargeError

log = structlog.get_logger(component="clone")


@dataclass
class Alone:
    """A flush that found no room, written again a value a transaction (once): what
    fits is stored, so that one value the map has no room for does not keep every
    other off the disk; what does not is put back, or dropped if it never can."""

    waiting: int
    written: list[core_mod.Update] = field(default_factory=list)
    refused: list[tuple[core_mod.Update, BaseException]] = field(default_factory=list)


@dataclass
class Flush:
    """One group commit of coalesced values (`alone`: one value of an Alone)."""

    updates: list[core_mod.Update]
    alone: Alone | None = None


def no_room(error: BaseException) -> bool:
    """The store could not take the value: its map (or disk) is full, or it is over
    store.max_value_bytes."""
    return isinstance(error, StoreFullError | ValueTooLargeError)


# pages the map holds besides a value's bytes, whatever is deleted: its two meta
# pages, the main tree's root, the meta table's leaf (the schema version) and the
# leaf that holds the value's key (under a page) and points to its overflow pages
MAP_FLOOR_PAGES: Final = 4
# flushes that may find no room for a value while the other values were stored
# (a value that fits only a store emptier than this one): then it is dropped
REFUSED_FLUSHES_MAX: Final = 10


def never_fits(
    update: core_mod.Update, error: BaseException, max_map: int, page_bytes: int
) -> bool:
    """The store refused `update` for good: over its limits, or bigger than the map
    at its maximum (`max_map` bytes) can hold beside the pages it always holds. A
    full map or disk alone says nothing of later: room is made (values deleted,
    the disk freed) and the value fits."""
    if isinstance(error, ValueTooLargeError):
        return True
    size = len(update.key) + len(update.body) + len(update.props_frame)
    floor = MAP_FLOOR_PAGES * page_bytes
    return isinstance(error, StoreFullError) and size + floor > max_map


class CoalescedFlushes(CommitFailures):
    """next_flush, tick, flush and what a flush's outcome does; CommitPipeline sets
    the parts they use and hands each outcome to `_flushed` (I/O thread)."""

    blocks: SequenceBlocks
    _interval_s: float
    _next_flush: float | None
    _flushing: Flush | Alone | None
    _flush_failures: int  # a stop tries no flush again once one failed
    # per key: flushes that found no room for its value while others were stored
    _refused_flushes: dict[bytes, int]

    def _committed(self, job: Batch | Flush, error: BaseException | None) -> None:
        """CommitPipeline's: Store.submit's on_done, on the writer thread."""
        raise NotImplementedError

    def next_flush(self) -> float | None:
        """When tick() has coalesced values to write (the loop's clock); None: no
        values wait, or a flush is in flight (its end wakes the loop)."""
        if self._interval_s <= 0 or self._flushing is not None:
            return None
        if not self.buffer.pending_count:
            return None
        return self._next_flush

    def tick(self, now: float) -> None:
        """Write the coalesced values once per interval (one group commit)."""
        if self._interval_s <= 0:
            return
        if self._next_flush is None:
            self._next_flush = now + self._interval_s
        if now >= self._next_flush and self._flushing is None:
            self._next_flush = now + self._interval_s
            self.flush()

    def flush(self) -> None:
        """Submit the pending coalesced values now (unless a flush is in flight)."""
        if self._flushing is not None or not self.buffer.pending_count:
            return
        # only what a stored mark covers: a reading whose block's mark is still on
        # its way is published only once it is stored, and never if it fails
        # (CommitFailures._lost); written before, the store would hold a value no
        # subscriber was told
        taken = self.buffer.take(self.blocks.confirmed)
        if not taken:
            return
        flush = Flush(taken)
        self._flushing = flush
        self._submit_flush(flush)

    def _submit_flush(self, flush: Flush) -> None:
        try:
            ops = store_ops(
                flush.updates, max(self.blocks.wanted, flush.updates[-1].seq)
            )
            self._store.submit_then(ops, functools.partial(self._committed, flush))
        except (StoreError, ValueError) as exc:
            self._committed(flush, exc)

    def _flushed(self, flush: Flush, error: BaseException | None) -> None:
        if flush.alone is not None:
            self._written_alone(flush, flush.alone, error)
            return
        self._flushing = None
        if error is None:
            self._flush_written(flush.updates)
        elif no_room(error) and len(flush.updates) > 1:
            self._write_alone(flush.updates, error)
        else:
            self._refused([(update, error) for update in flush.updates])

    def _flush_written(self, updates: list[core_mod.Update]) -> None:
        for update in updates:
            self._refused_flushes.pop(update.key, None)
        self.buffer.written(updates)
        self._stats.incr("clone.coalesced.flushes")
        self._stats.incr("clone.coalesced.written", len(updates))

    def _flush_failed(
        self, updates: list[core_mod.Update], error: BaseException
    ) -> None:
        # pending again (what is still the latest of its key): the next flush, or a
        # clean stop, writes it; a key with no further reading is not lost
        kept = self._put_back(updates)
        self._flush_failures += 1
        self._stats.incr("clone.coalesced.flush_failed", len(updates))
        log.error(
            "clone_flush_failed",
            count=len(updates),
            kept=kept,
            reason=str(error),
        )

    def _write_alone(
        self, updates: list[core_mod.Update], error: BaseException
    ) -> None:
        """The flush found no room: each value that is still the latest of its key
        in a transaction of its own (the writer groups them again while they fit)."""
        live = self._latest(updates)
        if not live:
            self._flush_failed(updates, error)
            return
        alone = self._flushing = Alone(len(live))
        for update in live:
            self._submit_flush(Flush([update], alone))

    def _written_alone(
        self, flush: Flush, alone: Alone, error: BaseException | None
    ) -> None:
        if error is None:
            alone.written.extend(flush.updates)
        else:
            alone.refused.extend((update, error) for update in flush.updates)
        alone.waiting -= 1
        if alone.waiting:
            return
        self._flushing = None
        if alone.written:
            self._flush_written(alone.written)
            for update, refusal in alone.refused:  # it cost the flush its writes
                if no_room(refusal):
                    count = self._refused_flushes.get(update.key, 0) + 1
                    self._refused_flushes[update.key] = count
        self._refused(alone.refused)

    def _refused(self, refused: list[tuple[core_mod.Update, BaseException]]) -> None:
        """Drop what the store can never take, and what found no room in
        REFUSED_FLUSHES_MAX flushes that stored the others; put the rest back (a
        full map or disk may have room at the next interval, which writes it alone
        again)."""
        max_map, page_bytes = self._store.max_map_bytes, self._store.page_bytes
        dropped: list[tuple[core_mod.Update, str]] = []
        failed: list[tuple[core_mod.Update, BaseException]] = []
        for update, error in refused:
            if never_fits(update, error, max_map, page_bytes):
                dropped.append((update, str(error)))
            elif self._refused_flushes.get(update.key, 0) >= REFUSED_FLUSHES_MAX:
                del self._refused_flushes[update.key]
                reason = f"no room in {REFUSED_FLUSHES_MAX} flushes that stored others"
                dropped.append((update, f"{reason}: {error}"))
            else:
                failed.append((update, error))
        if dropped:  # what subscribers were told of these keys is not stored
            self._stats.incr("clone.coalesced.dropped", len(dropped))
            log.error(
                "clone_coalesced_dropped",
                count=len(dropped),
                keys=[update.key.decode("utf-8", "replace") for update, _ in dropped],
                bytes=[len(update.body) for update, _ in dropped],
                reason=dropped[0][1],
            )
        if failed:
            self._flush_failed([u for u, _ in failed], failed[0][1])
