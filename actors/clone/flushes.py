"""The coalesced values' group commits (issue 17), under CommitPipeline (`commit.py`):
written latest per key once an interval, put back when a write fails.

A flush that finds no room writes its values again a transaction each, once, so that
one value the map (or disk) has no room for does not keep every other reading off
the disk. A key whose value found no room while others were stored is remembered:
from then on each flush writes its value alone, after the group of the others, so it
costs one transaction an interval and the others go on in one, until it is stored
(room was made: values deleted, the disk freed), dropped, or superseded (a durable
update of its key, a delete say), and forgotten. What finds no room is
put back for the next interval, never dropped for it: only a value the store can
never take (over its limits, or bigger than the map at its maximum holds) is dropped,
once: the value told, it stands in no more for a newer one waiting to be published.
A base class of CommitPipeline, as CommitFailures is this one's.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Final

import structlog

from raspy.actors.clone.commit_failures import Batch, CommitFailures
from raspy.actors.clone.records import kv_ops
from raspy.cores import clone as core_mod
from raspy.cores.clone_durability import SequenceBlocks
from raspy.errors import StoreError, StoreFullError, ValueTooLargeError

log = structlog.get_logger(component="clone")


@dataclass
class Round:
    """One flush: its group commit and the values written alone beside it, settled
    once every one of its writes is answered."""

    waiting: int
    written: list[core_mod.Update] = field(default_factory=list)
    refused: list[tuple[core_mod.Update, BaseException]] = field(default_factory=list)


@dataclass
class Flush:
    """One write of a Round: its `group` (the values no room was lacking for before,
    written again alone if it finds none), or one value alone."""

    updates: list[core_mod.Update]
    round: Round
    group: bool = False


def no_room(error: BaseException) -> bool:
    """The store could not take the value: its map (or disk) is full, or it is over
    store.max_value_bytes."""
    return isinstance(error, StoreFullError | ValueTooLargeError)


# pages the map holds besides a value's bytes, whatever is deleted: its two meta
# pages, the main tree's root, the meta table's leaf (the schema version) and the
# leaf that holds the value's key (under a page) and points to its overflow pages
MAP_FLOOR_PAGES: Final = 4


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
    published_seq: int  # every update up to it was published
    _interval_s: float
    _next_flush: float | None
    _flushing: Round | None
    _flush_failures: int  # a stop tries no flush again once one failed
    # keys whose value found no room while others were stored: written alone
    _refused_keys: set[bytes]

    def _committed(self, job: Batch | Flush, error: BaseException | None) -> None:
        """CommitPipeline's: Store.submit's on_done, on the writer thread."""
        raise NotImplementedError

    def _durable_on_their_way(self) -> set[bytes]:
        """CommitPipeline's: the keys of durable updates submitted, not released."""
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
        """Submit the pending coalesced values now (unless a flush is in flight): the
        group of those no room was lacking for before, then each of the others in a
        transaction of its own."""
        if self._flushing is not None or not self.buffer.pending_count:
            return
        # only what was published (so a stored mark covers it): a reading whose
        # block's mark is still on its way is published only once it is stored, and
        # never if it fails (CommitFailures._lost), and one waiting behind a write
        # on its way is published after it; written before, the store would hold a
        # value no subscriber was told, which a snapshot would serve (§6.3: it
        # reads the store as the tree at the last number published)
        upto = min(self.blocks.confirmed, self.published_seq)
        taken = self.buffer.take(upto)
        if self.buffer.pending_count:  # a key's latest not published yet
            taken += self.buffer.stand_ins(upto, self._durable_on_their_way())
        if not taken:
            return
        known = self._refused_keys
        group = [update for update in taken if update.key not in known]
        alone = [update for update in taken if update.key in known]
        flushing = self._flushing = Round(len(alone) + bool(group))
        if group:
            self._submit_flush(Flush(group, flushing, group=True))
        for update in alone:
            self._submit_flush(Flush([update], flushing))

    def _submit_flush(self, flush: Flush) -> None:
        try:
            # no mark: flush() takes only updates a synced mark covers
            ops = kv_ops(flush.updates)
            self._store.submit_then(
                ops, functools.partial(self._committed, flush), alone=not flush.group
            )
        except (StoreError, ValueError) as exc:
            self._committed(flush, exc)

    def _flushed(self, flush: Flush, error: BaseException | None) -> None:
        flushing = flush.round
        if error is None:
            flushing.written.extend(flush.updates)
        elif flush.group and no_room(error) and len(flush.updates) > 1:
            self._write_alone(flush, error)
        else:
            flushing.refused.extend((update, error) for update in flush.updates)
        flushing.waiting -= 1
        if flushing.waiting:
            return
        self._flushing = None
        if flushing.written:
            self._flush_written(flushing.written)
            # no room for these while the others were stored: the value, not the
            # store, is what lacks room, so it goes alone from now on
            for update, refusal in flushing.refused:
                if no_room(refusal):
                    self._refused_keys.add(update.key)
        self._refused(flushing.refused)

    def _write_alone(self, flush: Flush, error: BaseException) -> None:
        """The group found no room: each of its values that is still what
        subscribers were told last of its key, the store does not have and no
        durable update of the key is on its way to replace, in a transaction of its
        own, so that what fits is stored (a newer value not published yet is
        written by a later flush)."""
        on_their_way = self._durable_on_their_way()
        live = [
            update
            for update in flush.updates
            if (shown := self.buffer.shown(update.key)) is not None
            and shown.seq == update.seq
            and update.key not in on_their_way
        ]
        if not live:
            flush.round.refused.extend((update, error) for update in flush.updates)
            return
        flush.round.waiting += len(live)
        for update in live:
            self._submit_flush(Flush([update], flush.round))

    def _flush_written(self, updates: list[core_mod.Update]) -> None:
        # a key stored, so room was made for it; not one whose newer value waits (a
        # value told stood in for it): that one goes alone until it is stored
        self._refused_keys.difference_update(
            update.key for update in updates if not self.buffer.has_pending(update.key)
        )
        self.buffer.written(updates)
        self._stats.incr("clone.coalesced.flushes")
        self._stats.incr("clone.coalesced.written", len(updates))

    def _flush_failed(
        self, updates: list[core_mod.Update], error: BaseException
    ) -> None:
        # pending again (what is still the latest of its key): the next flush, or a
        # clean stop, writes it; a key with no further reading is not lost
        kept = self._put_back(updates)
        # a value no longer the latest of its key is not put back: unless a newer
        # one waits, nothing of the key is left to write alone (a durable update
        # took its place while the flush was stored, which came after supersede)
        self._refused_keys.difference_update(
            update.key for update in updates if not self.buffer.has_pending(update.key)
        )
        self._flush_failures += 1
        self._stats.incr("clone.coalesced.flush_failed", len(updates))
        log.error(
            "clone_flush_failed",
            count=len(updates),
            kept=kept,
            reason=str(error),
        )

    def _refused(self, refused: list[tuple[core_mod.Update, BaseException]]) -> None:
        """Drop what the store can never take; put the rest back (a full map or disk
        may have room at the next interval, which tries it again)."""
        max_map, page_bytes = self._store.max_map_bytes, self._store.page_bytes
        dropped: list[tuple[core_mod.Update, str]] = []
        failed: list[tuple[core_mod.Update, BaseException]] = []
        for update, error in refused:
            if never_fits(update, error, max_map, page_bytes):
                self._refused_keys.discard(update.key)
                self.buffer.unstorable(update)  # nor tried as a stand-in again
                dropped.append((update, str(error)))
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
