"""Retention: when a request has been kept long enough to be purged (retention_s).

Its own module because the expiry heap and the check timer are a job of their own,
apart from answering and dispatching. It knows UUIDs and creation times only: the
core's purge callback fires EXPIRE through the life cycle and describes the deletion
(Persist). retention_s = 0 keeps every request until titanic.close.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable

from raspy.cores.titanic_output import Output
from raspy.cores.titanic_settings import TitanicSettings


class Retention:
    """Accepted requests in order of creation, and the next time to look for old ones."""

    def __init__(self, settings: TitanicSettings) -> None:
        self._retention_s = settings.retention_s
        self._check_s = settings.retention_check_s
        self._expiries: list[tuple[float, str]] = []  # (wall_ts, uuid)
        self._next_check_at: float | None = None  # monotonic s

    def start(self, now: float) -> None:
        """After loading from the store: the first check is due at once."""
        if self._retention_s > 0:
            self._next_check_at = now

    def track(self, uuid: str, created: float) -> None:
        """A request was added to the known ones."""
        if self._retention_s > 0:
            heapq.heappush(self._expiries, (created, uuid))
            if self._next_check_at is None:
                self._next_check_at = 0.0

    def expired(self, created: float, wall: float) -> bool:
        retention = self._retention_s
        return retention > 0 and wall >= created + retention

    def next_check_at(self) -> float | None:
        """When the next check is due, if there is anything to check."""
        if self._next_check_at is not None and self._expiries:
            return self._next_check_at
        return None

    def due(self, now: float) -> bool:
        """Whether a check is due now; if so, the one after is scheduled."""
        if self._next_check_at is not None and self._next_check_at <= now:
            self._next_check_at = now + self._check_s
            return True
        return False

    def purge(
        self, wall: float, expire: Callable[[str, list[Output]], bool]
    ) -> list[Output]:
        """Expire every old request, oldest first.

        `expire(uuid, out)` says True once the request is gone; until then (its
        reply or its deletion is being committed, and a deletion may fail) it is
        looked at again at the next check.
        """
        out: list[Output] = []
        retention = self._retention_s
        expiries = self._expiries
        later: list[tuple[float, str]] = []
        while expiries and expiries[0][0] + retention <= wall:
            item = heapq.heappop(expiries)
            if not expire(item[1], out):
                later.append(item)
        for item in later:
            heapq.heappush(expiries, item)
        return out
