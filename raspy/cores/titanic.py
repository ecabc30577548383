"""TitanicCore: Titanic's durable request lifecycle (RFC 9; docs/protocols.md §5.4-§5.6).

Sans-IO: decoded bodies and events in, with time passed in; outputs say what to store,
what to dispatch and what to answer. No sockets, threads, store or logging here. A
write is only described (Persist); the shell commits it and calls on_committed(), and
nothing is acknowledged before that (§5.5.1 "accepted means stored").

Invariant: a reply that arrives for an entry that is no longer pending is dropped
(§5.4 close cancels). This module routes each input; the parts, one job each, are in
titanic_output (inputs and outputs, re-exported here), titanic_settings, titanic_entry
(one request's record), titanic_dispatch (what goes out when, attempts in flight),
titanic_retention (purging old requests) and titanic_commit (Persist tokens).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from raspy.cores.titanic_commit import Accept, Commits, Delete, Orphans, StoreReply
from raspy.cores.titanic_dispatch import Dispatcher
from raspy.cores.titanic_entry import Entry, State, Where
from raspy.cores.titanic_output import (
    Answer,
    AnswerStored,
    Caller,
    CloseSlot,
    DeleteQueue,
    DeleteReply,
    DeleteRequest,
    Dispatch,
    Event,
    Noted,
    OpenSlot,
    Output,
    Persist,
    PutQueue,
    PutReply,
    PutRequest,
    StoredRequest,
    Write,
)
from raspy.cores.titanic_retention import Retention
from raspy.cores.titanic_settings import TitanicSettings
from raspy.errors import MalformedMessage
from raspy.protocol import titanic
from raspy.protocol.titanic import Status

__all__ = [
    "Answer",
    "AnswerStored",
    "Caller",
    "CloseSlot",
    "DeleteQueue",
    "DeleteReply",
    "DeleteRequest",
    "Dispatch",
    "Event",
    "Noted",
    "OpenSlot",
    "Output",
    "Persist",
    "PutQueue",
    "PutReply",
    "PutRequest",
    "StoredRequest",
    "TitanicCore",
    "TitanicSettings",
    "Write",
]


class TitanicCore:
    """Titanic's state: known requests, dispatch queue, in-flight attempts, timers."""

    def __init__(
        self,
        settings: TitanicSettings | None = None,
        new_uuid: Callable[[], str] = titanic.new_uuid,
    ) -> None:
        self._settings = settings or TitanicSettings()
        self._new_uuid = new_uuid
        self._entries: dict[str, Entry] = {}
        self._next_order = 0
        self._commits = Commits()
        self._dispatcher = Dispatcher(self._entries, self._settings)
        self._retention = Retention(self._entries, self._settings)
        self._loaded = False

    # ------------------------------------------------------------ queries

    def pending_count(self) -> int:
        return sum(1 for e in self._entries.values() if e.state is not State.DONE)

    def known_count(self) -> int:
        return len(self._entries)

    def in_flight_count(self) -> int:
        return self._dispatcher.in_flight_count()

    def next_deadline(self) -> float | None:
        """The earliest monotonic time at which on_tick has work, if any."""
        candidates: list[float] = []
        dispatch_at = self._dispatcher.next_deadline()
        if dispatch_at is not None:
            candidates.append(dispatch_at)
        retention_at = self._retention.next_check_at()
        if retention_at is not None:
            candidates.append(retention_at)
        return min(candidates) if candidates else None

    # ------------------------------------------------------------ start-up

    def load(
        self,
        requests: Iterable[StoredRequest],
        queue: Iterable[tuple[int, str]],
        now: float,
    ) -> list[Output]:
        """Rebuild state from the store (§5.5.3): every queued request is pending again.

        `queue` holds (order, uuid) entries; a request without one is done. A queue
        entry whose request is missing is deleted (the store invariant says it cannot
        exist). Call once, before any other input.
        """
        if self._loaded or self._entries:
            raise ValueError("TitanicCore.load() must come first and only once")
        self._loaded = True
        orders: dict[str, int] = {}
        orphans: list[Write] = []
        by_uuid = {r.uuid: r for r in requests}
        for order, uuid in sorted(queue):
            if uuid in by_uuid and uuid not in orders:
                orders[uuid] = order
            else:
                orphans.append(DeleteQueue(order, uuid))
            self._next_order = max(self._next_order, order + 1)
        for uuid in sorted(by_uuid, key=lambda u: (orders.get(u, -1), u)):
            record = by_uuid[uuid]
            queued = orders.get(uuid)
            entry = Entry(uuid, record.service, record.body, record.created, queued)
            if queued is None:
                entry.state = entry.prev = State.DONE
                entry.body = ()
            self._add(entry)
            if queued is not None:
                self._dispatcher.make_ready(entry)
        self._retention.start(now)
        if not orphans:
            return []
        token = self._commits.add(Orphans(len(orphans)))
        return [Persist(token, tuple(orphans))]

    # ------------------------------------------------------------ the three services

    def on_request(
        self, caller: Caller, body: Sequence[bytes], wall: float
    ) -> list[Output]:
        """`titanic.request` (§5.5.1): describe the writes; answer after the commit."""
        try:
            request = titanic.decode_request(body)
        except MalformedMessage as exc:
            return self._refuse(caller, exc.reason)
        size = sum(len(frame) for frame in body)
        if size > self._settings.max_body_bytes:
            return self._refuse(caller, "too_large")
        uuid = self._new_uuid()
        order = self._next_order
        self._next_order += 1
        entry = Entry(uuid, request.service, request.body, wall, order)
        token = self._commits.add(Accept(caller, entry))
        writes = (
            PutRequest(uuid, request.service, request.body, wall),
            PutQueue(order, uuid),
        )
        return [Persist(token, writes)]

    def on_reply_query(
        self, caller: Caller, body: Sequence[bytes], wall: float
    ) -> list[Output]:
        """`titanic.reply` (§5.4): 300 pending, 200 + reply when done, 400 unknown."""
        try:
            uuid = titanic.decode_reply_query(body).uuid
        except MalformedMessage as exc:
            return self._refuse(caller, exc.reason)
        entry = self._entries.get(uuid)
        if entry is None or self._retention.expired(entry, wall):
            return [Answer(caller, (Status.UNKNOWN.value,))]
        state = entry.prev if entry.state is State.CLOSING else entry.state
        if state is State.DONE:
            return [AnswerStored(caller, uuid)]
        return [Answer(caller, (Status.PENDING.value,))]

    def on_close(self, caller: Caller, body: Sequence[bytes]) -> list[Output]:
        """`titanic.close` (§5.4): idempotent; deletes request, reply, queue entry."""
        try:
            uuid = titanic.decode_close(body).uuid
        except MalformedMessage as exc:
            if exc.reason == "bad_uuid":
                # §5.2: not 32 hex characters is an unknown UUID, and closing an
                # unknown UUID answers 200 (§5.4, idempotent).
                return [Answer(caller, (Status.OK.value,))]
            return self._refuse(caller, exc.reason)
        entry = self._entries.get(uuid)
        if entry is None:
            return [Answer(caller, (Status.OK.value,))]
        if entry.state is State.CLOSING:
            entry.closers.append(caller)
            return []
        return self._delete(entry, caller)

    # ------------------------------------------------------------ store results

    def on_committed(self, token: int, ok: bool, now: float) -> list[Output]:
        """The shell committed (ok) or failed the Persist with this token."""
        commit = self._commits.pop(token)
        out: list[Output] = []
        match commit:
            case Accept(caller=caller, entry=entry):
                if not ok:
                    out.append(Noted(Event.FAILED, entry.uuid, "accept_commit"))
                    out.append(Answer(caller, (Status.ERROR.value,)))
                    return out
                self._add(entry)
                self._dispatcher.make_ready(entry)
                out.append(Noted(Event.ACCEPTED, entry.uuid))
                out.append(Answer(caller, (Status.OK.value, entry.uuid.encode())))
                self._dispatcher.pump(now, out)
            case StoreReply(uuid=uuid):
                self._reply_committed(uuid, ok, now, out)
            case Delete(uuid=uuid):
                self._delete_committed(uuid, ok, now, out)
            case Orphans(count=count):
                if not ok:
                    out.append(Noted(Event.FAILED, "", f"orphans:{count}"))
            case None:
                raise ValueError(f"unknown commit token {token}")
        return out

    def _reply_committed(
        self, uuid: str, ok: bool, now: float, out: list[Output]
    ) -> None:
        entry = self._entries.get(uuid)
        if entry is None:
            return
        if entry.state is State.CLOSING:
            entry.reply_stored = entry.reply_stored or ok
            return
        if ok:
            entry.state = State.DONE
            entry.reply_stored = True
            entry.body = ()
            entry.order = None
            out.append(Noted(Event.DONE, uuid))
            return
        out.append(Noted(Event.FAILED, uuid, "reply_commit"))
        entry.state = State.PENDING
        self._dispatcher.retry_later(entry, now)

    def _delete_committed(
        self, uuid: str, ok: bool, now: float, out: list[Output]
    ) -> None:
        entry = self._entries.get(uuid)
        if entry is None:
            return
        closers, entry.closers = entry.closers, []
        if ok:
            del self._entries[uuid]
            if entry.where is Where.FLIGHT:
                entry.where = Where.NOWHERE  # its reply will be dropped
            out.append(Noted(Event.CLOSED if closers else Event.EXPIRED, uuid))
            out.extend(Answer(c, (Status.OK.value,)) for c in closers)
            return
        out.append(Noted(Event.FAILED, uuid, "delete_commit"))
        out.extend(Answer(c, (Status.ERROR.value,)) for c in closers)
        if entry.prev is State.DONE or entry.reply_stored:
            entry.state = State.DONE
            entry.order = None
            entry.body = () if entry.reply_stored else entry.body
        else:
            entry.state = State.PENDING
            if entry.where is Where.NOWHERE:
                self._dispatcher.retry_later(entry, now)
        if not closers:
            self._retention.track_again(entry)  # a failed purge

    # ------------------------------------------------------------ dispatcher

    def on_service(self, service: bytes, available: bool, now: float) -> list[Output]:
        """A service got its first live worker, or lost its last (from the broker)."""
        out: list[Output] = []
        self._dispatcher.set_available(service, available, now, out)
        return out

    def on_dispatch_reply(
        self,
        slot: int,
        body: Sequence[bytes],
        final: bool,
        now: float,
        wall: float,
    ) -> list[Output]:
        """A PARTIAL (final=False) or FINAL for the attempt on `slot` (§5.5.5).

        PARTIAL bodies are kept and stored followed by the FINAL body.
        """
        out: list[Output] = []
        flight = self._dispatcher.receive(slot, body, final, now, out)
        if flight is None:
            return out
        entry = self._entries.get(flight.uuid)
        if entry is None or entry.state is not State.PENDING:
            out.append(Noted(Event.REPLY_DROPPED, flight.uuid, "not_pending"))
        else:
            entry.state = State.STORING
            assert entry.order is not None
            token = self._commits.add(StoreReply(entry.uuid))
            writes = (
                PutReply(entry.uuid, tuple(flight.parts), wall),
                DeleteQueue(entry.order, entry.uuid),
            )
            out.append(Persist(token, writes))
        self._dispatcher.pump(now, out)
        return out

    def on_tick(self, now: float, wall: float) -> list[Output]:
        """Timeouts (retry with backoff), backoffs that ended, and retention."""
        out: list[Output] = []
        self._dispatcher.expire(now, out)
        if self._retention.due(now):
            out.extend(self._retention.purge(wall, self._purge))
        self._dispatcher.pump(now, out)
        return out

    # ------------------------------------------------------------ helpers

    def _refuse(self, caller: Caller, reason: str) -> list[Output]:
        # §5.3 raspy: a malformed request is answered 400, the only "do not retry"
        return [
            Noted(Event.REJECTED, "", reason),
            Answer(caller, (Status.UNKNOWN.value,)),
        ]

    def _add(self, entry: Entry) -> None:
        self._entries[entry.uuid] = entry
        self._retention.track(entry)

    def _purge(self, entry: Entry) -> list[Output]:
        return self._delete(entry, None)

    def _delete(self, entry: Entry, caller: Caller | None) -> list[Output]:
        entry.prev = entry.state
        entry.state = State.CLOSING
        if caller is not None:
            entry.closers.append(caller)
        self._dispatcher.withdraw(entry)
        writes: list[Write] = [DeleteRequest(entry.uuid), DeleteReply(entry.uuid)]
        if entry.order is not None:
            writes.append(DeleteQueue(entry.order, entry.uuid))
        return [Persist(self._commits.add(Delete(entry.uuid)), tuple(writes))]
