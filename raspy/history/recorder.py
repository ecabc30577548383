"""The recorder core: samples in, rows to write out (one batch per flush).

Each (key, tier) has one open bucket in memory: the raw tier keeps the latest sample
of the step, the others add it to their min/sum/max. Every change marks the bucket's
row (key, step, slot) pending; take_pending() hands the rows of one flush over and
forgets them, so a flush rewrites each touched slot once, in place. Pure: the stored
rows come from a passed-in lookup, asked for all the rows a sample needs at once (one
read transaction in the store, which writes its reader slot to the card). Every tier
looks its slot up whenever its step changes; the raw tier reads the slots of the next
tier's step ahead, with that tier's own lookup, so its steps cost no lookup of their own.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Final

from raspy.history.tiers import Tier
from raspy.records import frozen

# beyond this a number is no measurement (a misread register, a float's max), and
# the sum of a bucket's or a merged range's samples could overflow to infinity,
# which no row stores and no JSON reply carries: such a sample is skipped
MAX_VALUE: Final = 1e200


@frozen
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


@frozen
class RowId:
    """Where a bucket is stored: the key, its tier's step and the slot."""

    key: str
    step_s: int
    slot: int


Lookup = Callable[
    [Sequence[RowId]], Sequence[Bucket | None]
]  # rows -> stored, in order

# the raw steps read ahead in one lookup: the next tier's step (30 with the defaults),
# at most this many (and never more than the tier's slots: each step its own slot)
MAX_AHEAD_STEPS: Final = 360
_AHEAD_ALONE: Final = 30  # a raw tier with no tier after it


class Recorder:
    """See the module docstring. Not thread-safe: one owner (the history actor)."""

    def __init__(self, tiers: Sequence[Tier]) -> None:
        self.tiers = tuple(tiers)
        self._open: dict[tuple[str, int], Bucket] = {}
        self._pending: dict[RowId, Bucket] = {}
        self.dropped = 0  # samples not finite, beyond MAX_VALUE, or older than a slot
        # a raw tier's slots read ahead: (key, step_s) -> {slot: what it holds}, the
        # slots of a window of steps, kept up to date with what record() writes.
        # By slot, not by step: a write of any step (a later lap, the clock gone
        # back) changes the one entry that a lookup of its slot finds
        self._ahead: dict[tuple[str, int], dict[int, Bucket | None]] = {}
        # the other tiers' rows read ahead (read_ahead), as stored: taken by the
        # lookup of their step, dropped when the row is written meanwhile
        self._read: dict[RowId, Bucket | None] = {}
        self._ahead_steps = {
            tier.step_s: _ahead_steps(tier, self.tiers[index + 1 :])
            for index, tier in enumerate(self.tiers)
            if tier.raw
        }

    def record(self, key: str, t: float, value: float, stored: Lookup) -> int:
        """Add one sample. A tier whose open bucket does not hold the sample's step
        looks its slot up (the row not yet written, else the stored one): after a
        start (a bucket half-filled before a restart goes on where it was), after
        the clock stepped back (the step's bucket goes on, also when the clock comes
        to it again, or a new one replaces an older lap) and while it runs behind (a
        slot holding a newer step than the sample keeps it, each step anew: with the
        raw tier too, so a clock days behind never writes over newer points).
        Returns the drops of this sample (added to `dropped` too)."""
        if not (math.isfinite(t) and math.isfinite(value) and abs(value) <= MAX_VALUE):
            self.dropped += 1
            return 1
        steps = [(tier, tier.start_of(t)) for tier in self.tiers]
        opened = [self._open.get((key, tier.step_s)) for tier in self.tiers]
        moved = [
            tier
            for (tier, start), current in zip(steps, opened, strict=True)
            if current is None or tier.start_of(current.t) != start
        ]
        known = self._look_up(key, t, moved, stored) if moved else {}
        dropped = 0
        for (tier, start), open_bucket in zip(steps, opened, strict=True):
            row = RowId(key, tier.step_s, tier.slot_of(t))
            current = known[row] if tier in moved else open_bucket
            if current is not None and tier.start_of(current.t) > start:
                dropped += 1  # the slot holds a later step: the clock is behind
                continue
            same_step = current is not None and tier.start_of(current.t) == start
            if tier.raw:  # the newest reading of the step, also one stamped
                bucket = Bucket.of(t, value)  # earlier in it (the clock went back)
                ahead = self._ahead.get((key, tier.step_s))
                if ahead is not None and row.slot in ahead:
                    ahead[row.slot] = bucket
            elif current is not None and same_step:
                bucket = current.plus(value)
            else:
                bucket = Bucket.of(float(start), value)
            self._open[(key, tier.step_s)] = bucket
            self._pending[row] = bucket
            self._read.pop(row, None)
        self.dropped += dropped
        return dropped

    def _look_up(
        self, key: str, t: float, moved: Sequence[Tier], stored: Lookup
    ) -> dict[RowId, Bucket | None]:
        """What the slot of t holds in each tier `moved` (its open bucket is of
        another step); the rows not known here are asked of `stored` in one call, a
        raw tier's with the rest of its window (the steps of the next tier's step)."""
        known: dict[RowId, Bucket | None] = {}
        asked: list[RowId] = []
        windows: dict[int, list[RowId]] = {}  # raw step_s -> its window's rows asked
        for tier in moved:
            start = tier.start_of(t)
            row = RowId(key, tier.step_s, tier.slot_of(t))
            ahead = self._ahead.get((key, tier.step_s), {})
            if row in self._pending:
                known[row] = self._pending[row]
            elif tier.raw and row.slot in ahead:
                known[row] = ahead[row.slot]
            elif row in self._read:
                known[row] = self._read.pop(row)
            elif tier.raw:
                window = self._window(key, tier, start)
                windows[tier.step_s] = window
                asked += window
            else:
                asked.append(row)
        if not asked:
            return known
        found = dict(zip(asked, stored(asked), strict=True))
        for step_s, window in windows.items():  # a later step's row may be pending
            self._ahead[(key, step_s)] = {
                r.slot: self._pending.get(r, found[r]) for r in window
            }
        return found | known

    def _window(self, key: str, tier: Tier, start: int) -> list[RowId]:
        """The rows of the raw steps read ahead together with `start`'s."""
        steps = self._ahead_steps[tier.step_s]
        first = start - start % (steps * tier.step_s)
        return [
            RowId(key, tier.step_s, tier.slot_of(s))
            for s in range(first, first + steps * tier.step_s, tier.step_s)
        ]

    def read_ahead(self, t: float, stored: Lookup) -> int:
        """Read now, in one lookup, what every key's next step change will look up:
        in each tier the step of `t` if the key's open bucket is of an earlier one,
        else the step after it (a raw tier: that step's window). The owner calls it
        right after a flush's commit, which has just written LMDB's reader slot page
        (lock.mdb) anyway; a lookup of its own at the step change would write that
        page again. What was read ahead before and not used is dropped; a row
        written meanwhile (pending) is never taken from here. Returns the rows read."""
        if not math.isfinite(t):
            return 0
        asked: list[RowId] = []
        plain: list[RowId] = []  # the rows of tiers that are not raw, among asked
        windows: dict[tuple[str, int], list[RowId]] = {}
        kept: dict[tuple[str, int], dict[int, Bucket | None]] = {}  # raw slots held
        for key in sorted({key for key, _ in self._open}):
            for tier in self.tiers:
                now = tier.start_of(t)
                current = self._open.get((key, tier.step_s))
                ahead = self._ahead.get((key, tier.step_s), {})
                if tier.raw:
                    window_s = self._ahead_steps[tier.step_s] * tier.step_s
                    if tier.slot_of(now) in ahead:
                        now += window_s
                    window = self._window(key, tier, now)
                    windows[(key, tier.step_s)] = window
                    before = self._window(key, tier, now - window_s)
                    kept[(key, tier.step_s)] = {  # the window before stays, older go
                        r.slot: ahead[r.slot] for r in before if r.slot in ahead
                    }
                    asked += (r for r in window if r not in self._pending)
                    continue
                if current is not None and tier.start_of(current.t) >= now:
                    now += tier.step_s
                row = RowId(key, tier.step_s, tier.slot_of(now))
                if row not in self._pending:
                    asked.append(row)
                    plain.append(row)
        found = dict(zip(asked, stored(asked), strict=True)) if asked else {}
        self._read = {row: found[row] for row in plain}
        for at, window in windows.items():
            self._ahead[at] = kept[at] | {
                r.slot: self._pending.get(r, found.get(r)) for r in window
            }
        return len(asked)

    def forget(self, key: str) -> set[RowId]:
        """Drop what is held of `key` (open buckets, rows not yet written): its
        history is being deleted, and no flush may write part of it back. Returns
        the rows that were waiting for their write."""
        self._open = {k: b for k, b in self._open.items() if k[0] != key}
        self._ahead = {k: a for k, a in self._ahead.items() if k[0] != key}
        self._read = {r: b for r, b in self._read.items() if r.key != key}
        dropped = {r for r in self._pending if r.key == key}
        self._pending = {r: b for r, b in self._pending.items() if r.key != key}
        return dropped

    def holds(self, key: str) -> bool:
        """Whether a tier keeps a sample of `key` since the start or its forget."""
        return any((key, tier.step_s) in self._open for tier in self.tiers)

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


def _ahead_steps(raw: Tier, later: Sequence[Tier]) -> int:
    """How many steps of the raw tier one lookup reads: those of the next tier's
    step, so that the two go in one read (the defaults: 30 of 10 s in 5 min)."""
    steps = later[0].step_s // raw.step_s if later else _AHEAD_ALONE
    return max(1, min(steps, raw.slots, MAX_AHEAD_STEPS))


def _order(row: RowId) -> tuple[int, int, str]:
    return (row.step_s, row.slot, row.key)
