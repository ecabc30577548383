"""TitanicCore: Titanic's durable request lifecycle (RFC 9; protocols.md §5.4-§5.6).

Sans-IO: decoded bodies and events in, with time passed in; outputs say what to store,
what to dispatch and what to answer. No sockets, threads, store or logging here. A
write is only described (Persist); the shell commits it and calls on_committed(), and
nothing is acknowledged before that (§5.5.1 "accepted means stored").

Invariants: an entry has at most one attempt in flight (§5.5.2); pending entries are
dispatched oldest first, only to available services; a reply that arrives for an entry
that is no longer pending is dropped (§5.4 close cancels). Attempts in flight per
service start at 4, grow by one per reply up to dispatch_window and halve on a timeout.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Final

from raspy.config import TitanicConfig
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

_MAX_SLOTS: Final = 4096  # dispatcher client ids alive at once (bounds edge routes)
_DEFAULTS: Final = TitanicConfig()
_START_WINDOW: Final = 4  # attempts in flight to a service before any reply came back


@dataclass(frozen=True, slots=True)
class TitanicSettings:
    """Limits and timers; every default comes from raspy.config.TitanicConfig."""

    max_body_bytes: int = _DEFAULTS.max_body_bytes
    max_reply_bytes: int = _DEFAULTS.max_reply_bytes
    retention_s: float = _DEFAULTS.retention_s  # 0: keep until titanic.close
    dispatch_timeout_s: float = _DEFAULTS.dispatch_timeout_s
    retry_initial_s: float = _DEFAULTS.retry_initial_s
    retry_max_s: float = _DEFAULTS.retry_max_s
    dispatch_window: int = _DEFAULTS.dispatch_window  # most in flight per service
    retention_check_s: float = 1.0

    @classmethod
    def from_config(cls, c: TitanicConfig) -> TitanicSettings:
        return cls(
            max_body_bytes=c.max_body_bytes,
            max_reply_bytes=c.max_reply_bytes,
            retention_s=c.retention_s,
            dispatch_timeout_s=c.dispatch_timeout_s,
            retry_initial_s=c.retry_initial_s,
            retry_max_s=c.retry_max_s,
            dispatch_window=max(1, c.dispatch_window),
        )


# ---------------------------------------------------------------- internal state


class _State(Enum):
    PENDING = "pending"  # accepted, not answered yet
    STORING = "storing"  # reply being committed
    DONE = "done"  # reply stored
    CLOSING = "closing"  # deletion being committed (close or retention)


class _Where(Enum):
    NOWHERE = 0
    READY = 1  # in its service's ready heap
    WAITING = 2  # in the backoff heap
    FLIGHT = 3  # an attempt is out


class _Entry:
    __slots__ = (
        "attempts",
        "backoff_s",
        "body",
        "closers",
        "created",
        "order",
        "prev",
        "reply_stored",
        "service",
        "state",
        "ticket",
        "uuid",
        "where",
    )

    def __init__(
        self,
        uuid: str,
        service: bytes,
        body: tuple[bytes, ...],
        created: float,
        order: int | None,
    ) -> None:
        self.uuid = uuid
        self.service = service
        self.body = body
        self.created = created
        self.order = order  # queue counter while pending, None once done
        self.state = _State.PENDING
        self.prev = _State.PENDING  # state before CLOSING, for a failed deletion
        self.where = _Where.NOWHERE
        self.ticket = 0  # bumped on every (re)schedule; stale heap items are skipped
        self.attempts = 0
        self.backoff_s = 0.0
        self.closers: list[Caller] = []
        self.reply_stored = False


@dataclass(slots=True)
class _Flight:
    seq: int
    uuid: str
    service: bytes
    parts: list[bytes]
    size: int = 0


@dataclass(frozen=True, slots=True)
class _Accept:
    caller: Caller
    entry: _Entry


@dataclass(frozen=True, slots=True)
class _StoreReply:
    uuid: str


@dataclass(frozen=True, slots=True)
class _Delete:
    uuid: str


@dataclass(frozen=True, slots=True)
class _Orphans:
    count: int


_Commit = _Accept | _StoreReply | _Delete | _Orphans


class TitanicCore:
    """Titanic's state: known requests, dispatch queue, in-flight attempts, timers."""

    def __init__(
        self,
        settings: TitanicSettings | None = None,
        new_uuid: Callable[[], str] = titanic.new_uuid,
    ) -> None:
        self._settings = settings or TitanicSettings()
        self._new_uuid = new_uuid
        self._entries: dict[str, _Entry] = {}
        self._next_order = 0
        self._next_token = 1
        self._commits: dict[int, _Commit] = {}
        self._available: set[bytes] = set()
        self._ready: dict[
            bytes, list[tuple[int, str, int]]
        ] = {}  # (order, uuid, ticket)
        self._waiting: list[
            tuple[float, int, str, int]
        ] = []  # (at, order, uuid, ticket)
        self._flights: dict[int, _Flight] = {}  # slot -> attempt
        self._deadlines: list[tuple[float, int, int]] = []  # (at, slot, flight seq)
        self._flying: dict[bytes, int] = {}  # service -> attempts in flight
        self._windows: dict[bytes, int] = {}  # service -> attempts allowed in flight
        self._free_slots: list[int] = []
        self._next_slot = 0
        self._next_flight = 1
        self._expiries: list[tuple[float, str]] = []  # (wall_ts, uuid) for retention
        self._next_retention_at: float | None = None
        self._loaded = False

    # ------------------------------------------------------------ queries

    def pending_count(self) -> int:
        return sum(1 for e in self._entries.values() if e.state is not _State.DONE)

    def known_count(self) -> int:
        return len(self._entries)

    def in_flight_count(self) -> int:
        return len(self._flights)

    def next_deadline(self) -> float | None:
        """The earliest monotonic time at which on_tick has work, if any."""
        candidates: list[float] = []
        deadlines = self._deadlines
        while deadlines and not self._flight_current(deadlines[0][1], deadlines[0][2]):
            heapq.heappop(deadlines)
        if deadlines:
            candidates.append(deadlines[0][0])
        waiting = self._waiting
        while waiting and not self._ticket_current(waiting[0][2], waiting[0][3]):
            heapq.heappop(waiting)
        if waiting:
            candidates.append(waiting[0][0])
        if self._next_retention_at is not None and self._expiries:
            candidates.append(self._next_retention_at)
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
            entry = _Entry(uuid, record.service, record.body, record.created, queued)
            if queued is None:
                entry.state = entry.prev = _State.DONE
                entry.body = ()
            self._add(entry)
            if queued is not None:
                self._make_ready(entry)
        if self._settings.retention_s > 0:
            self._next_retention_at = now
        if not orphans:
            return []
        token = self._token(_Orphans(len(orphans)))
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
        entry = _Entry(uuid, request.service, request.body, wall, order)
        token = self._token(_Accept(caller, entry))
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
        if entry is None or self._expired(entry, wall):
            return [Answer(caller, (Status.UNKNOWN.value,))]
        state = entry.prev if entry.state is _State.CLOSING else entry.state
        if state is _State.DONE:
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
        if entry.state is _State.CLOSING:
            entry.closers.append(caller)
            return []
        return self._delete(entry, caller)

    # ------------------------------------------------------------ store results

    def on_committed(self, token: int, ok: bool, now: float) -> list[Output]:
        """The shell committed (ok) or failed the Persist with this token."""
        commit = self._commits.pop(token, None)
        out: list[Output] = []
        match commit:
            case _Accept(caller=caller, entry=entry):
                if not ok:
                    out.append(Noted(Event.FAILED, entry.uuid, "accept_commit"))
                    out.append(Answer(caller, (Status.ERROR.value,)))
                    return out
                self._add(entry)
                self._make_ready(entry)
                out.append(Noted(Event.ACCEPTED, entry.uuid))
                out.append(Answer(caller, (Status.OK.value, entry.uuid.encode())))
                self._pump(now, out)
            case _StoreReply(uuid=uuid):
                self._reply_committed(uuid, ok, now, out)
            case _Delete(uuid=uuid):
                self._delete_committed(uuid, ok, now, out)
            case _Orphans(count=count):
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
        if entry.state is _State.CLOSING:
            entry.reply_stored = entry.reply_stored or ok
            return
        if ok:
            entry.state = _State.DONE
            entry.reply_stored = True
            entry.body = ()
            entry.order = None
            out.append(Noted(Event.DONE, uuid))
            return
        out.append(Noted(Event.FAILED, uuid, "reply_commit"))
        entry.state = _State.PENDING
        self._retry_later(entry, now)

    def _delete_committed(
        self, uuid: str, ok: bool, now: float, out: list[Output]
    ) -> None:
        entry = self._entries.get(uuid)
        if entry is None:
            return
        closers, entry.closers = entry.closers, []
        if ok:
            del self._entries[uuid]
            if entry.where is _Where.FLIGHT:
                entry.where = _Where.NOWHERE  # its reply will be dropped
            out.append(Noted(Event.CLOSED if closers else Event.EXPIRED, uuid))
            out.extend(Answer(c, (Status.OK.value,)) for c in closers)
            return
        out.append(Noted(Event.FAILED, uuid, "delete_commit"))
        out.extend(Answer(c, (Status.ERROR.value,)) for c in closers)
        if entry.prev is _State.DONE or entry.reply_stored:
            entry.state = _State.DONE
            entry.order = None
            entry.body = () if entry.reply_stored else entry.body
        else:
            entry.state = _State.PENDING
            if entry.where is _Where.NOWHERE:
                self._retry_later(entry, now)
        if self._settings.retention_s > 0 and not closers:
            # a failed purge is tried again at the next retention check
            heapq.heappush(self._expiries, (entry.created, uuid))

    # ------------------------------------------------------------ dispatcher

    def on_service(self, service: bytes, available: bool, now: float) -> list[Output]:
        """A service got its first live worker, or lost its last (from the broker)."""
        out: list[Output] = []
        if available:
            self._available.add(service)
            self._pump(now, out)
        else:
            self._available.discard(service)
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
        flight = self._flights.get(slot)
        out: list[Output] = []
        if flight is None:
            out.append(Noted(Event.REPLY_DROPPED, "", "unknown_slot"))
            return out
        flight.parts.extend(body)
        flight.size += sum(len(frame) for frame in body)
        if flight.size > self._settings.max_reply_bytes:
            self._end_flight(slot, flight, retire=True, out=out)
            out.append(Noted(Event.FAILED, flight.uuid, "reply_too_large"))
            entry = self._entries.get(flight.uuid)
            if entry is not None and entry.state is _State.PENDING:
                self._retry_later(entry, now)
            self._pump(now, out)
            return out
        if not final:
            return out
        self._end_flight(slot, flight, retire=False, out=out)
        # the service keeps up: one more attempt may be in flight (up to the limit)
        window = self._window(flight.service)
        self._windows[flight.service] = min(window + 1, self._settings.dispatch_window)
        entry = self._entries.get(flight.uuid)
        if entry is None or entry.state is not _State.PENDING:
            out.append(Noted(Event.REPLY_DROPPED, flight.uuid, "not_pending"))
        else:
            entry.state = _State.STORING
            assert entry.order is not None
            token = self._token(_StoreReply(entry.uuid))
            writes = (
                PutReply(entry.uuid, tuple(flight.parts), wall),
                DeleteQueue(entry.order, entry.uuid),
            )
            out.append(Persist(token, writes))
        self._pump(now, out)
        return out

    def on_tick(self, now: float, wall: float) -> list[Output]:
        """Timeouts (retry with backoff), backoffs that ended, and retention."""
        out: list[Output] = []
        deadlines = self._deadlines
        while deadlines and deadlines[0][0] <= now:
            _, slot, seq = heapq.heappop(deadlines)
            if not self._flight_current(slot, seq):
                continue
            flight = self._flights[slot]
            self._end_flight(slot, flight, retire=True, out=out)
            # a slow service gets fewer attempts queued at once, so that requests
            # waiting in the broker's queue do not time out and run twice
            self._windows[flight.service] = max(1, self._window(flight.service) // 2)
            entry = self._entries.get(flight.uuid)
            if entry is not None and entry.state is _State.PENDING:
                self._retry_later(entry, now)
                reason = f"timeout attempt={entry.attempts} after_s={entry.backoff_s:g}"
                out.append(Noted(Event.RETRIED, entry.uuid, reason))
        waiting = self._waiting
        while waiting and waiting[0][0] <= now:
            _, _, uuid, ticket = heapq.heappop(waiting)
            if self._ticket_current(uuid, ticket):
                self._make_ready(self._entries[uuid])
        if self._next_retention_at is not None and self._next_retention_at <= now:
            self._next_retention_at = now + self._settings.retention_check_s
            self._purge_expired(wall, out)
        self._pump(now, out)
        return out

    # ------------------------------------------------------------ helpers

    def _token(self, commit: _Commit) -> int:
        token = self._next_token
        self._next_token += 1
        self._commits[token] = commit
        return token

    def _refuse(self, caller: Caller, reason: str) -> list[Output]:
        # §5.3 raspy: a malformed request is answered 400, the only "do not retry"
        return [
            Noted(Event.REJECTED, "", reason),
            Answer(caller, (Status.UNKNOWN.value,)),
        ]

    def _add(self, entry: _Entry) -> None:
        self._entries[entry.uuid] = entry
        if self._settings.retention_s > 0:
            heapq.heappush(self._expiries, (entry.created, entry.uuid))
            if self._next_retention_at is None:
                self._next_retention_at = 0.0

    def _expired(self, entry: _Entry, wall: float) -> bool:
        retention = self._settings.retention_s
        return retention > 0 and wall >= entry.created + retention

    def _purge_expired(self, wall: float, out: list[Output]) -> None:
        retention = self._settings.retention_s
        expiries = self._expiries
        storing: list[tuple[float, str]] = []
        while expiries and expiries[0][0] + retention <= wall:
            item = heapq.heappop(expiries)
            entry = self._entries.get(item[1])
            if entry is None or entry.state is _State.CLOSING:
                continue
            if entry.state is _State.STORING:
                storing.append(item)  # purge it at a later check, after its commit
                continue
            out.extend(self._delete(entry, None))
        for item in storing:
            heapq.heappush(expiries, item)

    def _delete(self, entry: _Entry, caller: Caller | None) -> list[Output]:
        entry.prev = entry.state
        entry.state = _State.CLOSING
        if caller is not None:
            entry.closers.append(caller)
        if entry.where in (_Where.READY, _Where.WAITING):
            entry.where = _Where.NOWHERE  # its heap items go stale
            entry.ticket += 1
        writes: list[Write] = [DeleteRequest(entry.uuid), DeleteReply(entry.uuid)]
        if entry.order is not None:
            writes.append(DeleteQueue(entry.order, entry.uuid))
        return [Persist(self._token(_Delete(entry.uuid)), tuple(writes))]

    def _make_ready(self, entry: _Entry) -> None:
        assert entry.order is not None
        entry.ticket += 1
        entry.where = _Where.READY
        heap = self._ready.setdefault(entry.service, [])
        heapq.heappush(heap, (entry.order, entry.uuid, entry.ticket))

    def _retry_later(self, entry: _Entry, now: float) -> None:
        settings = self._settings
        if entry.backoff_s <= 0:
            entry.backoff_s = settings.retry_initial_s
        else:
            entry.backoff_s = min(entry.backoff_s * 2, settings.retry_max_s)
        assert entry.order is not None
        entry.ticket += 1
        entry.where = _Where.WAITING
        at = now + entry.backoff_s
        heapq.heappush(self._waiting, (at, entry.order, entry.uuid, entry.ticket))

    def _ticket_current(self, uuid: str, ticket: int) -> bool:
        entry = self._entries.get(uuid)
        return (
            entry is not None
            and entry.ticket == ticket
            and entry.state is _State.PENDING
            and entry.where in (_Where.READY, _Where.WAITING)
        )

    def _flight_current(self, slot: int, seq: int) -> bool:
        flight = self._flights.get(slot)
        return flight is not None and flight.seq == seq

    def _end_flight(
        self, slot: int, flight: _Flight, *, retire: bool, out: list[Output]
    ) -> None:
        del self._flights[slot]
        self._flying[flight.service] -= 1
        entry = self._entries.get(flight.uuid)
        if entry is not None and entry.where is _Where.FLIGHT:
            entry.where = _Where.NOWHERE
        if retire:
            # a late reply could still come on this slot: never reuse it
            out.append(CloseSlot(slot))
        else:
            self._free_slots.append(slot)

    def _window(self, service: bytes) -> int:
        window = self._windows.get(service)
        if window is None:
            return min(_START_WINDOW, self._settings.dispatch_window)
        return window

    def _take_slot(self, out: list[Output]) -> int | None:
        if self._free_slots:
            return self._free_slots.pop()
        if len(self._flights) >= _MAX_SLOTS:
            return None
        slot = self._next_slot
        self._next_slot += 1
        out.append(OpenSlot(slot))
        return slot

    def _oldest_ready(self) -> _Entry | None:
        """The oldest ready entry of an available service with room in its window."""
        best: tuple[int, str] | None = None
        for service in self._available:
            heap = self._ready.get(service)
            if not heap or self._flying.get(service, 0) >= self._window(service):
                continue
            while heap and not self._ticket_current(heap[0][1], heap[0][2]):
                heapq.heappop(heap)
            if not heap:
                del self._ready[service]
                continue
            if best is None or heap[0][0] < best[0]:
                best = (heap[0][0], heap[0][1])
        return None if best is None else self._entries[best[1]]

    def _pump(self, now: float, out: list[Output]) -> None:
        """Dispatch ready entries, oldest first, while slots and windows allow."""
        while (entry := self._oldest_ready()) is not None:
            slot = self._take_slot(out)
            if slot is None:
                return
            heapq.heappop(self._ready[entry.service])
            entry.where = _Where.FLIGHT
            entry.attempts += 1
            seq = self._next_flight
            self._next_flight += 1
            self._flights[slot] = _Flight(seq, entry.uuid, entry.service, [])
            self._flying[entry.service] = self._flying.get(entry.service, 0) + 1
            deadline = now + self._settings.dispatch_timeout_s
            heapq.heappush(self._deadlines, (deadline, slot, seq))
            out.append(
                Dispatch(slot, entry.uuid, entry.service, entry.body, entry.attempts)
            )
