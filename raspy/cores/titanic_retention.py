"""Retention: when a request has been kept long enough to be purged (retention_s).

Its own module because the expiry heap and the check timer are a job of their own,
apart from answering and dispatching. Entries are shared with TitanicCore; a purge is
only decided here, and the core describes the deletion (Persist). retention_s = 0
keeps every request until titanic.close.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable

from raspy.cores.titanic_entry import Entry, State
from raspy.cores.titanic_output import Output
from raspy.cores.titanic_settings import TitanicSettings


class Retention:
    """Accepted requests in order of creation, and the next time to look for old ones."""

    def __init__(self, entries: dict[str, Entry], settings: TitanicSettings) -> None:
        self._entries = entries  # TitanicCore's: the same dict, never copied
        self._retention_s = settings.retention_s
        self._check_s = settings.retention_check_s
        self._expiries: list[tuple[float, str]] = []  # (wall_ts, uuid)
        self._next_check_at: float | None = None  # monotonic s

    def start(self, now: float) -> None:
        """After loading from the store: the first check is due at once."""
        if self._retention_s > 0:
            self._next_check_at = now

    def track(self, entry: Entry) -> None:
        """A request was added to the known ones."""
        if self._retention_s > 0:
            heapq.heappush(self._expiries, (entry.created, entry.uuid))
            if self._next_check_at is None:
                self._next_check_at = 0.0

    def track_again(self, entry: Entry) -> None:
        """A purge failed: it is tried again at the next check."""
        if self._retention_s > 0:
            heapq.heappush(self._expiries, (entry.created, entry.uuid))

    def expired(self, entry: Entry, wall: float) -> bool:
        retention = self._retention_s
        return retention > 0 and wall >= entry.created + retention

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
        self, wall: float, delete: Callable[[Entry], list[Output]]
    ) -> list[Output]:
        """Delete every expired request, oldest first; one being stored waits."""
        out: list[Output] = []
        retention = self._retention_s
        expiries = self._expiries
        storing: list[tuple[float, str]] = []
        while expiries and expiries[0][0] + retention <= wall:
            item = heapq.heappop(expiries)
            entry = self._entries.get(item[1])
            if entry is None or entry.state is State.CLOSING:
                continue
            if entry.state is State.STORING:
                storing.append(item)  # purge it at a later check, after its commit
                continue
            out.extend(delete(entry))
        for item in storing:
            heapq.heappush(expiries, item)
        return out
