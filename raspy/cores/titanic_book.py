"""TitanicBook: TitanicCore's state, its parts built from the settings, and the queries
on them (counts, quota use, a request's state, the next deadline).

The base class of TitanicCore (titanic.py), which routes each input, so that the
per-message path reaches the parts directly, with no call through another object.
Sans-IO as the core: no sockets, threads, store or logging here.
"""

from __future__ import annotations

from collections.abc import Callable

from raspy.cores.titanic_commit import Commits
from raspy.cores.titanic_deletion import Deletions
from raspy.cores.titanic_dispatch import Dispatcher
from raspy.cores.titanic_lifecycle import Requests, State
from raspy.cores.titanic_retention import Retention
from raspy.cores.titanic_settings import TitanicSettings
from raspy.cores.titanic_startup import Refusals
from raspy.protocol import titanic


class TitanicBook:
    """Titanic's state: known requests, dispatch queue, in-flight attempts, timers."""

    def __init__(
        self,
        settings: TitanicSettings | None = None,
        new_uuid: Callable[[], str] = titanic.new_uuid,
    ) -> None:
        self._settings = settings or TitanicSettings()
        self._new_uuid = new_uuid
        self._requests = Requests()
        self._next_order = 0
        self._commits = Commits()
        self._dispatcher = Dispatcher(self._settings)
        self._retention = Retention(self._settings)
        self._loaded = False
        self._deletions = Deletions(
            self._requests, self._commits, self._dispatcher, self._retention
        )
        self._refusals = Refusals(
            self._settings, self._requests, self._commits, self._dispatcher
        )
        self._refused = self._refusals.waiting  # popped on every reply commit

    # ------------------------------------------------------------ queries

    def pending_count(self) -> int:
        """Requests given out whose reply is not stored yet."""
        return self._requests.unanswered_count()

    def known_count(self) -> int:
        """Requests given out and not yet closed (or purged)."""
        return self._requests.visible_count()

    def quota_usage(self) -> tuple[int, int]:
        """(requests, body bytes) held against the quota, accepts in commit included."""
        return len(self._requests), self._requests.total_bytes()

    def in_flight_count(self) -> int:
        return self._dispatcher.in_flight_count()

    def tracked_services(self) -> int:
        """Services the dispatcher keeps state for (bounded by the live ones and
        those with requests pending); for tests and the soak."""
        return self._dispatcher.tracked_services()

    def heap_items(self) -> dict[str, int]:
        """Items in the retention and ready heaps, stale ones included (for tests
        and the soak: they follow the requests known, not the traffic)."""
        return {
            "retention": self._retention.heap_size(),
            "ready": self._dispatcher.ready_items(),
        }

    def state_of(self, uuid: str) -> State:
        """The life-cycle state of a request (GONE if unknown); for tests and stats."""
        entry = self._requests.get(uuid)
        return State.GONE if entry is None else entry.state

    def next_deadline(self) -> float | None:
        """The earliest monotonic time at which on_tick has work, if any."""
        candidates = (
            self._dispatcher.next_deadline(),
            self._retention.next_check_at(),
            self._refusals.next_deadline(),
        )
        return min((at for at in candidates if at is not None), default=None)
