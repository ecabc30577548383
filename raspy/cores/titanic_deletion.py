"""Deletions: a request's end, by titanic.close (§5.4) or by retention, and its commit.

Its own module because deleting is one job however it starts: the request enters a
CLOSING state (titanic_lifecycle), its dispatch is held, its request, reply and queue
entry are deleted in one Persist, and the commit's result ends it (GONE; the closers
answered 200) or puts it back where it was (a failed deletion; closers answered 500).
A close while a deletion commits joins it. Nothing here runs on the accept path.
"""

from __future__ import annotations

from raspy.cores.titanic_commit import Commits, Delete
from raspy.cores.titanic_dispatch import Dispatcher
from raspy.cores.titanic_lifecycle import CLOSING, Entry, Requests, State, Trigger
from raspy.cores.titanic_output import (
    Answer,
    Caller,
    DeleteQueue,
    DeleteReply,
    DeleteRequest,
    Event,
    Noted,
    Output,
    Persist,
    Write,
)
from raspy.cores.titanic_retention import Retention
from raspy.protocol.titanic import Status


class Deletions:
    """Starts deletions and takes their commit results."""

    def __init__(
        self,
        requests: Requests,
        commits: Commits,
        dispatcher: Dispatcher,
        retention: Retention,
    ) -> None:
        self._requests = requests
        self._commits = commits
        self._dispatcher = dispatcher
        self._retention = retention

    def close(self, caller: Caller, uuid: str) -> list[Output]:
        """titanic.close of a well-formed UUID: idempotent."""
        entry = self._requests.get(uuid)
        closing = entry is not None and entry.state in CLOSING
        if entry is None or self._requests.fire(uuid, Trigger.CLOSE) is None:
            # unknown, or its UUID not given out yet (ACCEPTING): nothing to close
            return [Answer(caller, (Status.OK.value,))]
        entry.closers.append(caller)
        if closing:
            return []  # joins the deletion under way
        return self._delete(entry)

    def expire(self, uuid: str, out: list[Output]) -> bool:
        """Retention's purge of one request; True once it is gone, False while it
        is not (looked at again at the next check)."""
        entry = self._requests.get(uuid)
        if entry is None:
            return True  # closed or purged
        if entry.state in CLOSING:
            return False  # a deletion is committing: it may fail
        if self._requests.fire(uuid, Trigger.EXPIRE) is None:
            return False  # STORING: purged at a later check, after its commit
        out.extend(self._delete(entry))
        return False  # gone once its deletion commits, which may fail

    def committed(self, uuid: str, ok: bool, now: float, out: list[Output]) -> None:
        """The deletion's commit succeeded (ok) or failed."""
        trigger = Trigger.DELETE_COMMITTED if ok else Trigger.DELETE_FAILED
        entry = self._requests.fire(uuid, trigger)
        if entry is None:
            return
        closers, entry.closers = entry.closers, []
        if entry.state is State.GONE:
            self._dispatcher.forget(uuid)  # a reply still to come will be dropped
            self._retention.forget(uuid)
            out.append(Noted(Event.CLOSED if closers else Event.EXPIRED, uuid))
            out.extend(Answer(c, (Status.OK.value,)) for c in closers)
            return
        out.append(Noted(Event.FAILED, uuid, "delete_commit"))
        out.extend(Answer(c, (Status.ERROR.value,)) for c in closers)
        if entry.state is State.PENDING:
            self._dispatcher.resume(uuid, now)

    def _delete(self, entry: Entry) -> list[Output]:
        """Describe the deletion of a request that has just entered a CLOSING state."""
        self._dispatcher.hold(entry.uuid)
        writes: list[Write] = [DeleteRequest(entry.uuid), DeleteReply(entry.uuid)]
        if entry.order is not None:
            writes.append(DeleteQueue(entry.order, entry.uuid))
        return [Persist(self._commits.add(Delete(entry.uuid)), tuple(writes))]
