"""TitanicCore: Titanic's durable request lifecycle (RFC 9; docs/protocols.md §5.4-§5.6).

Sans-IO: decoded bodies and events in, with time passed in; outputs say what to store,
what to dispatch and what to answer. No sockets, threads, store or logging here. A
write is only described (Persist); the shell commits it and calls on_committed(), and
nothing is acknowledged before that (§5.5.1 "accepted means stored").

A request's state changes only through the life cycle's transition table
(titanic_lifecycle: states, triggers, TRANSITIONS, owned by one Requests object); a
reply that arrives for a request that is no longer pending is dropped (§5.4 close
cancels). This module routes each input; the state and its queries are in its base
class (titanic_book); the parts, one job each, are in titanic_output (inputs and
outputs, re-exported here), titanic_settings, titanic_lifecycle, titanic_dispatch
(what goes out when, attempts in flight; its own jobs), titanic_retention (purging
old requests), titanic_commit (Persist tokens), titanic_startup (the store taken
back) and titanic_deletion (close and purge).

Quota (raspy extension, [limits]): requests not yet closed are bounded by count and
by request body bytes; over quota `titanic.request` answers 500 (RFC 9's only
"retry later") at once, stores nothing, and is noted as Event.OVER_QUOTA.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from raspy.cores.titanic_book import TitanicBook
from raspy.cores.titanic_commit import Accept, Delete, Orphans, StoreReply
from raspy.cores.titanic_lifecycle import REPLY_READY, Entry, State, Trigger
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
from raspy.cores.titanic_retention import stored_age
from raspy.cores.titanic_settings import TitanicSettings, request_size
from raspy.cores.titanic_startup import sort_stored
from raspy.errors import MalformedMessage
from raspy.protocol import mdp, mmi, titanic
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


class TitanicCore(TitanicBook):
    """Titanic's life cycle: each input routed to its parts (state in TitanicBook)."""

    # ------------------------------------------------------------ start-up

    def load(
        self,
        requests: Iterable[StoredRequest],
        queue: Iterable[tuple[int, str]],
        now: float,
        wall: float,
    ) -> list[Output]:
        """Rebuild state from the store (§5.5.3): every queued request is pending again.

        `queue` holds (order, uuid) entries; a request without one is done. A queue
        entry whose request is missing is deleted (the store invariant says it cannot
        exist). Call once, before any other input. The quota does not refuse what
        is stored already: it only holds back new requests; a request for a service
        not relayed (stored before on_request refused those) is refused now
        (titanic_startup). With retention, a stored request ages from `now` plus
        its age by its stamp and `wall`, when both look set (titanic_retention).
        """
        if self._loaded or len(self._requests):
            raise ValueError("TitanicCore.load() must come first and only once")
        self._loaded = True
        stored = sort_stored(requests, queue)
        self._next_order = max(self._next_order, stored.next_order)
        out: list[Output] = []
        for record, queued in stored.requests:
            size = request_size(record.service, record.body)
            state = State.DONE if queued is None else State.PENDING
            entry = Entry(record.uuid, record.created, queued, size, state)
            self._requests.add(entry)
            age = stored_age(record.created, wall)
            entry.expires = self._retention.track(record.uuid, now, age)
            if queued is not None:
                self._refusals.queue(record, queued, now, wall, out)
        self._retention.start(now)
        if stored.orphans:
            token = self._commits.add(Orphans(len(stored.orphans)))
            out.append(Persist(token, tuple(stored.orphans)))
        return out

    # ------------------------------------------------------------ the three services

    def on_request(
        self, caller: Caller, body: Sequence[bytes], wall: float
    ) -> list[Output]:
        """`titanic.request` (§5.5.1): describe the writes; answer after the commit."""
        try:
            request = titanic.decode_request(body)
        except MalformedMessage as exc:
            return self._refuse(caller, exc.reason)
        if len(request.service) > mdp.MAX_SERVICE_BYTES or mmi.is_mmi(request.service):
            # no worker can ever register for it (§3): it would be pending for ever
            return self._refuse(caller, "bad_service")
        if request.service in self._settings.not_relayed:
            return self._refuse(caller, "not_relayed")  # see TitanicSettings
        size = request_size(request.service, request.body)
        if size > self._settings.max_body_bytes:
            return self._refuse(caller, "too_large")
        settings = self._settings
        requests = self._requests
        if len(requests) >= settings.pending_requests:
            return self._over_quota(caller, "requests")
        if requests.total_bytes() + size > settings.pending_bytes:
            return self._over_quota(caller, "bytes")
        uuid = self._new_uuid()
        order = self._next_order
        self._next_order += 1
        requests.add(Entry(uuid, wall, order, size, State.ACCEPTING))
        token = self._commits.add(Accept(caller, uuid, request.service, request.body))
        writes = (
            PutRequest(uuid, request.service, request.body, wall),
            PutQueue(order, uuid),
        )
        return [Persist(token, writes)]

    def on_reply_query(
        self, caller: Caller, body: Sequence[bytes], now: float
    ) -> list[Output]:
        """`titanic.reply` (§5.4): 300 pending, 200 + reply when done, 400 unknown
        (or past retention at monotonic `now`, though not purged yet)."""
        try:
            uuid = titanic.decode_reply_query(body).uuid
        except MalformedMessage as exc:
            return self._refuse(caller, exc.reason)
        entry = self._requests.get(uuid)
        if entry is None or entry.state is State.ACCEPTING or entry.expires <= now:
            return [Answer(caller, (Status.UNKNOWN.value,))]
        if entry.state in REPLY_READY:
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
        return self._deletions.close(caller, uuid)

    # ------------------------------------------------------------ store results

    def on_committed(self, token: int, ok: bool, now: float) -> list[Output]:
        """The shell committed (ok) or failed the Persist with this token."""
        out = self._committed(token, ok, now)
        self._dispatcher.pump(now, out)
        return out

    def on_batch_committed(
        self, tokens: Sequence[int], ok: bool, now: float
    ) -> list[Output]:
        """on_committed for every token of one transaction; the dispatch pump once."""
        out: list[Output] = []
        for token in tokens:
            out.extend(self._committed(token, ok, now))
        self._dispatcher.pump(now, out)
        return out

    def _committed(self, token: int, ok: bool, now: float) -> list[Output]:
        commit = self._commits.pop(token)
        out: list[Output] = []
        match commit:
            case Accept():
                self._accept_committed(commit, ok, now, out)
            case StoreReply(uuid=uuid):
                self._reply_committed(uuid, ok, now, out)
            case Delete(uuid=uuid):
                self._deletions.committed(uuid, ok, now, out)
            case Orphans(count=count):
                if not ok:
                    out.append(Noted(Event.FAILED, "", f"orphans:{count}"))
            case None:
                raise ValueError(f"unknown commit token {token}")
        return out

    def _accept_committed(
        self, commit: Accept, ok: bool, now: float, out: list[Output]
    ) -> None:
        uuid = commit.uuid
        if not ok:
            self._requests.fire(uuid, Trigger.ACCEPT_FAILED)
            out.append(Noted(Event.FAILED, uuid, "accept_commit"))
            out.append(Answer(commit.caller, (Status.ERROR.value,)))
            return
        entry = self._requests.fire(uuid, Trigger.ACCEPT_COMMITTED)
        assert entry is not None
        assert entry.order is not None
        entry.expires = self._retention.track(uuid, now)  # ages from its commit
        # on_request refused a service not relayed: only a stored one can be (load)
        self._dispatcher.queue(uuid, commit.service, commit.body, entry.order)
        out.append(Noted(Event.ACCEPTED, uuid))
        out.append(Answer(commit.caller, (Status.OK.value, uuid.encode())))

    def _reply_committed(
        self, uuid: str, ok: bool, now: float, out: list[Output]
    ) -> None:
        trigger = Trigger.REPLY_COMMITTED if ok else Trigger.REPLY_FAILED
        entry = self._requests.fire(uuid, trigger)
        refusal = self._refused.pop(uuid, None)
        if entry is None:
            return
        if entry.state is State.DONE:
            entry.order = None
            self._dispatcher.forget(uuid)
            out.append(Noted(Event.DONE, uuid))
        elif entry.state is State.CLOSING_DONE:
            entry.order = None
            self._dispatcher.forget(uuid)
        elif entry.state is State.PENDING:
            out.append(Noted(Event.FAILED, uuid, "reply_commit"))
            if refusal is None:
                self._dispatcher.retry_later(uuid, now)
        if refusal is not None and not ok:
            self._refusals.retry_later(uuid, refusal[0], now)  # never dispatched
        # CLOSING_PENDING: its deletion is committing; a failed one resumes it

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
        return self.on_dispatch_replies(((slot, body, final),), now, wall)

    def on_dispatch_replies(
        self,
        replies: Sequence[tuple[int, Sequence[bytes], bool]],
        now: float,
        wall: float,
    ) -> list[Output]:
        """on_dispatch_reply for each (slot, body, final), in order; the pump once."""
        out: list[Output] = []
        for slot, body, final in replies:
            self._dispatch_reply(slot, body, final, now, wall, out)
        self._dispatcher.pump(now, out)
        return out

    def _dispatch_reply(
        self,
        slot: int,
        body: Sequence[bytes],
        final: bool,
        now: float,
        wall: float,
        out: list[Output],
    ) -> None:
        flight = self._dispatcher.receive(slot, body, final, now, out)
        if flight is None:
            return
        entry = self._requests.fire(flight.uuid, Trigger.REPLY_RECEIVED)
        if entry is None:
            out.append(Noted(Event.REPLY_DROPPED, flight.uuid, "not_pending"))
            return
        assert entry.order is not None
        token = self._commits.add(StoreReply(entry.uuid))
        writes = (
            PutReply(entry.uuid, tuple(flight.parts), wall),
            DeleteQueue(entry.order, entry.uuid),
        )
        out.append(Persist(token, writes))

    def on_tick(self, now: float, wall: float) -> list[Output]:
        """Timeouts (retry with backoff), backoffs that ended, and retention."""
        out: list[Output] = []
        self._dispatcher.expire(now, out)
        self._refusals.on_tick(now, wall, out)
        if self._retention.due(now):
            out.extend(self._retention.purge(now, self._deletions.expire))
        self._dispatcher.pump(now, out)
        return out

    # ------------------------------------------------------------ helpers

    def _refuse(self, caller: Caller, reason: str) -> list[Output]:
        # §5.3 raspy: a malformed request is answered 400, the only "do not retry"
        return [
            Noted(Event.REJECTED, "", reason),
            Answer(caller, (Status.UNKNOWN.value,)),
        ]

    def _over_quota(self, caller: Caller, what: str) -> list[Output]:
        # §5.3: 500 is the only code that means "retry later"; 400 would tell the
        # client to give the request up, and RFC 9 allows no code of our own
        return [
            Noted(Event.OVER_QUOTA, "", what),
            Answer(caller, (Status.ERROR.value,)),
        ]
