"""Start-up: the stored requests as TitanicCore takes them back (§5.5.3).

Its own module because rebuilding from the store is a job apart from serving the
three services: queue entries are matched to their requests (a queue entry without
one is an orphan, to delete), and a stored request for a service not relayed (an older
raspy took those; on_request refuses them now) is never sent: its refusal is stored
as its reply, as its service would have answered a network client, and stored again
a while later if that commit fails. Nothing here runs on the accept path.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from raspy.cores.titanic_commit import Commits, StoreReply
from raspy.cores.titanic_dispatch import Dispatcher
from raspy.cores.titanic_lifecycle import Requests, Trigger
from raspy.cores.titanic_output import (
    DeleteQueue,
    Event,
    Noted,
    Output,
    Persist,
    PutReply,
    StoredRequest,
    Write,
)
from raspy.cores.titanic_settings import NOT_RELAYED_REPLY, TitanicSettings
from raspy.records import frozen

# a stored request not relayed whose refusal could not be stored: the next try
REFUSAL_RETRY_S: Final = 5.0


@frozen
class Stored:
    """What the store holds, sorted out: requests in queue order (order None: done,
    the done ones first), queue entries to delete, the next queue order free."""

    requests: list[tuple[StoredRequest, int | None]]
    orphans: list[Write]
    next_order: int


def sort_stored(
    requests: Iterable[StoredRequest], queue: Iterable[tuple[int, str]]
) -> Stored:
    """Match the (order, uuid) queue entries to the requests: a request without one
    is done; a queue entry whose request is missing (the store invariant says it
    cannot exist), or a second one for the same request, is an orphan."""
    orders: dict[str, int] = {}
    orphans: list[Write] = []
    next_order = 0
    by_uuid = {r.uuid: r for r in requests}
    for order, uuid in sorted(queue):
        if uuid in by_uuid and uuid not in orders:
            orders[uuid] = order
        else:
            orphans.append(DeleteQueue(order, uuid))
        next_order = max(next_order, order + 1)
    ordered = sorted(by_uuid, key=lambda u: (orders.get(u, -1), u))
    return Stored([(by_uuid[u], orders.get(u)) for u in ordered], orphans, next_order)


class Refusals:
    """Stored requests for a service not relayed, until their refusal is stored."""

    def __init__(
        self,
        settings: TitanicSettings,
        requests: Requests,
        commits: Commits,
        dispatcher: Dispatcher,
    ) -> None:
        self._not_relayed = settings.not_relayed
        self._requests = requests
        self._commits = commits
        self._dispatcher = dispatcher
        # uuid -> (queue order, when to store the refusal again; None: committing).
        # The core pops from it on every reply commit (no call on that path).
        self.waiting: dict[str, tuple[int, float | None]] = {}

    def queue(
        self,
        record: StoredRequest,
        order: int,
        now: float,
        wall: float,
        out: list[Output],
    ) -> None:
        """A stored pending request into the dispatch queue, or refused."""
        uuid, service = record.uuid, record.service
        if service not in self._not_relayed:
            self._dispatcher.queue(uuid, service, record.body, order)
            return
        out.append(Noted(Event.NOT_RELAYED, uuid, service.decode("utf-8", "replace")))
        self._store(uuid, order, now, wall, out)

    def retry_later(self, uuid: str, order: int, now: float) -> None:
        """The refusal's commit failed: stored again REFUSAL_RETRY_S later (a close
        under way may still fail and leave the request pending)."""
        self.waiting[uuid] = (order, now + REFUSAL_RETRY_S)

    def next_deadline(self) -> float | None:
        """The earliest time a refusal is to be stored again, if any."""
        return min(
            (at for _, at in self.waiting.values() if at is not None), default=None
        )

    def on_tick(self, now: float, wall: float, out: list[Output]) -> None:
        """Store again the refusals whose time has come."""
        for uuid, (order, at) in list(self.waiting.items()):
            if at is not None and at <= now:
                self._store(uuid, order, now, wall, out)

    def _store(
        self, uuid: str, order: int, now: float, wall: float, out: list[Output]
    ) -> None:
        """Store the refusal as the request's reply. One whose deletion is under way
        (a failed one leaves it pending) is tried again later; one gone is
        forgotten."""
        entry = self._requests.get(uuid)
        if entry is None:
            self.waiting.pop(uuid, None)
            return
        if self._requests.fire(uuid, Trigger.REPLY_RECEIVED) is None:
            self.retry_later(uuid, order, now)
            return
        self.waiting[uuid] = (order, None)
        token = self._commits.add(StoreReply(uuid))
        writes = (PutReply(uuid, NOT_RELAYED_REPLY, wall), DeleteQueue(order, uuid))
        out.append(Persist(token, writes))
