"""Retention: when a request has been kept long enough to be purged (retention_s).

Its own module because the expiry heap and the check timer are a job of their own,
apart from answering and dispatching. It knows UUIDs and deadlines only: the core's
purge callback fires EXPIRE through the life cycle and describes the deletion
(Persist). retention_s = 0 keeps every request until titanic.close.

A request ages on the monotonic clock, as Clone's ttl and the scenario's waits do: a
Pi has no battery clock, and its wall clock runs from 1970 or from the last shutdown
until NTP steps it, so a request accepted then must not look years old a moment
later. A stored request taken back at start-up has its wall-clock age added
(stored_age) only when its stamp and the clock both look set; otherwise it ages from
the start, never from its stamp (docs/protocols.md §5.5, retention).

A request closed before its deadline is forgotten (forget); its heap item is left
where it is and skipped, and the heap is built again from the deadlines kept once
most of its items are stale, so memory follows the requests known, not the rate of
requests times retention_s.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from typing import Final

from raspy.cores.titanic_output import Output
from raspy.cores.titanic_settings import TitanicSettings

# 2023-01-01 00:00 UTC, before any raspy: a wall clock earlier than this has not been
# set yet (a Pi without a battery clock starts at 1970 until NTP)
CLOCK_SET_FLOOR: Final = 1_672_531_200.0


def stored_age(created: float, wall: float) -> float:
    """How long ago a stored request was accepted, as its stamp and the clock say,
    when both look right: a stamp or a clock before CLOCK_SET_FLOOR (not set yet),
    or a stamp later than the clock (set back since), counts as accepted now."""
    if CLOCK_SET_FLOOR <= created <= wall < math.inf:
        return wall - created
    return 0.0


class Retention:
    """Accepted requests in order of their deadline, and the next time to look."""

    def __init__(self, settings: TitanicSettings) -> None:
        self._retention_s = settings.retention_s
        self._check_s = settings.retention_check_s
        self._slack = settings.heap_slack
        self._expiries: list[tuple[float, str]] = []  # (monotonic deadline, uuid)
        self._deadlines: dict[str, float] = {}  # uuid -> its deadline, while tracked
        self._next_check_at: float | None = None  # monotonic s

    def start(self, now: float) -> None:
        """After loading from the store: the first check is due at once."""
        if self._retention_s > 0:
            self._next_check_at = now

    def track(self, uuid: str, now: float, age: float = 0.0) -> float:
        """A request `age` s old at monotonic `now` was added to the known ones: its
        monotonic deadline (infinite with retention off)."""
        retention = self._retention_s
        if retention <= 0:
            return math.inf
        expires = now + retention - age
        self._deadlines[uuid] = expires
        heapq.heappush(self._expiries, (expires, uuid))
        if self._next_check_at is None:
            self._next_check_at = 0.0
        return expires

    def forget(self, uuid: str) -> None:
        """The request is gone (closed, or purged): nothing to check for it."""
        deadlines = self._deadlines
        if deadlines.pop(uuid, None) is None:
            return
        if len(self._expiries) > 2 * len(deadlines) + self._slack:
            self._expiries = [(at, uuid) for uuid, at in deadlines.items()]
            heapq.heapify(self._expiries)

    def heap_size(self) -> int:
        """Items in the heap, stale ones included (for tests and the soak)."""
        return len(self._expiries)

    def next_check_at(self) -> float | None:
        """When the next check is due: not before the earliest deadline, nor
        before retention_check_s after the last check; None with nothing tracked."""
        if self._next_check_at is None or not self._drop_stale_top():
            return None
        return max(self._next_check_at, self._expiries[0][0])

    def due(self, now: float) -> bool:
        """Whether a check is due now; if so, the one after is scheduled."""
        if self._next_check_at is not None and self._next_check_at <= now:
            self._next_check_at = now + self._check_s
            return True
        return False

    def purge(
        self, now: float, expire: Callable[[str, list[Output]], bool]
    ) -> list[Output]:
        """Expire every request whose deadline has come, oldest first.

        `expire(uuid, out)` says True once the request is gone; until then (its
        reply or its deletion is being committed, and a deletion may fail) it is
        looked at again at the next check.
        """
        out: list[Output] = []
        expiries = self._expiries
        deadlines = self._deadlines
        later: list[tuple[float, str]] = []
        while expiries and expiries[0][0] <= now:
            item = heapq.heappop(expiries)
            at, uuid = item
            if deadlines.get(uuid) != at:
                continue  # forgotten (a stale item)
            if expire(uuid, out):
                deadlines.pop(uuid, None)
            else:
                later.append(item)
        for item in later:
            heapq.heappush(expiries, item)
        return out

    def _drop_stale_top(self) -> bool:
        """Pop the stale items at the top; whether a live one is left."""
        expiries = self._expiries
        deadlines = self._deadlines
        while expiries:
            at, uuid = expiries[0]
            if deadlines.get(uuid) == at:
                return True
            heapq.heappop(expiries)
        return False
