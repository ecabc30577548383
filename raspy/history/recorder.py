"""The recorder core: samples in, rows to write out (one batch per flush).

Each (key, tier) has one open bucket in memory: the raw tier keeps the latest sample
of the step, the others add it to their min/sum/max. Every change marks the bucket's
row (key, step, slot) pending; take_pending() hands the rows of one flush over and
forgets them, so a flush rewrites each touched slot once, in place. Pure: the stored
row of a bucket opened before a restart comes from a passed-in lookup.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from raspy.history.tiers import Tier

# beyond this a number is no measurement (a misread register, a float's max), and
# the sum of a bucket's or a merged range's samples could overflow to infinity,
# which no row stores and no JSON reply carries: such a sample is skipped
MAX_VALUE: Final = 1e200


@dataclass(frozen=True, slots=True)
class Bucket:
    """One slot's content: raw (count 1: the sample's time and value) or the
    aggregate of `count` samples of the step starting at `t`."""

    t: float
    count: int
    total: float
    low: float
    high: float

    @staticmethod
    def of(t: float, value: float) -> Bucket:
        return Bucket(t, 1, value, value, value)

    @property
    def avg(self) -> float:
        return self.total / self.count

    def plus(self, value: float) -> Bucket:
        return Bucket(
            self.t,
            self.count + 1,
            self.total + value,
            min(self.low, value),
            max(self.high, value),
        )

    def point(self) -> list[float]:
        """[t, avg, min, max], as the history service answers."""
        return [self.t, self.avg, self.low, self.high]


@dataclass(frozen=True, slots=True)
class RowId:
    """Where a bucket is stored: the key, its tier's step and the slot."""

    key: str
    step_s: int
    slot: int


Lookup = Callable[[RowId], Bucket | None]


class Recorder:
    """See the module docstring. Not thread-safe: one owner (the history actor)."""

    def __init__(self, tiers: Sequence[Tier]) -> None:
        self.tiers = tuple(tiers)
        self._open: dict[tuple[str, int], Bucket] = {}
        self._pending: dict[RowId, Bucket] = {}
        self.dropped = 0  # samples not finite, beyond MAX_VALUE, or older than a slot

    def record(self, key: str, t: float, value: float, stored: Lookup) -> int:
        """Add one sample; `stored` is asked for a slot's row when the open bucket
        does not hold the sample's step (the raw tier: when it holds a later one):
        after a start (a bucket half-filled before a restart goes on where it was)
        and after the clock stepped back (the step's bucket goes on, also when the
        clock comes to it again, or a new one replaces an older lap; a slot holding
        a newer step than the sample keeps it). Returns the drops of this sample (added
        to `dropped` too)."""
        if not (math.isfinite(t) and math.isfinite(value) and abs(value) <= MAX_VALUE):
            self.dropped += 1
            return 1
        dropped = 0
        for tier in self.tiers:
            row = RowId(key, tier.step_s, tier.slot_of(t))
            start = tier.start_of(t)
            current = self._open.get((key, tier.step_s))
            opened = None if current is None else tier.start_of(current.t)
            # a bucket's next step may have been lived before the clock stepped
            # back, its samples stored: they go on (a raw step's latest sample wins)
            if opened is None or opened > start or (opened < start and not tier.raw):
                current = self._pending.get(row) or stored(row)
            if current is not None and tier.start_of(current.t) > start:
                dropped += 1  # the slot holds a later step: the clock is behind
                continue
            same_step = current is not None and tier.start_of(current.t) == start
            if tier.raw:  # the newest reading of the step, also one stamped
                bucket = Bucket.of(t, value)  # earlier in it (the clock went back)
            elif current is not None and same_step:
                bucket = current.plus(value)
            else:
                bucket = Bucket.of(float(start), value)
            self._open[(key, tier.step_s)] = bucket
            self._pending[row] = bucket
        self.dropped += dropped
        return dropped

    def forget(self, key: str) -> set[RowId]:
        """Drop what is held of `key` (open buckets, rows not yet written): its
        history is being deleted, and no flush may write part of it back. Returns
        the rows that were waiting for their write."""
        self._open = {k: b for k, b in self._open.items() if k[0] != key}
        dropped = {r for r in self._pending if r.key == key}
        self._pending = {r: b for r, b in self._pending.items() if r.key != key}
        return dropped

    def pending(self, row: RowId) -> Bucket | None:
        """The not yet written bucket of `row` (queries see it before the flush)."""
        return self._pending.get(row)

    def take_pending(self) -> list[tuple[RowId, Bucket]]:
        """The rows of one flush, in key order, and forget them."""
        rows = sorted(self._pending.items(), key=lambda item: _order(item[0]))
        self._pending = {}
        return rows

    def restore_pending(self, rows: Sequence[tuple[RowId, Bucket]]) -> None:
        """A flush failed: put its rows back, under any newer ones."""
        for row, bucket in rows:
            self._pending.setdefault(row, bucket)


def _order(row: RowId) -> tuple[int, int, str]:
    return (row.step_s, row.slot, row.key)
