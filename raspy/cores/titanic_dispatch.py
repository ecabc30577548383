"""Dispatcher: which pending request goes out next, and the attempts that are out.

Its own module because dispatch is bookkeeping of its own, apart from the request
lifecycle in TitanicCore: per-service ready heaps, the backoff heap, attempts in
flight with their timeouts, dispatcher slots and per-service windows. Entries are
shared with the core, which adds and removes them.

Invariants: an entry has at most one attempt in flight (docs/protocols.md §5.5.2); ready
entries go out oldest first, only to available services. Attempts in flight per
service start at 4, grow by one per reply up to dispatch_window and halve on a timeout.
Heap items are never removed in place: an entry's ticket is bumped on every
(re)schedule, and items with an old ticket are skipped when they reach the top.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from raspy.cores.titanic_entry import Entry, State, Where
from raspy.cores.titanic_output import (
    CloseSlot,
    Dispatch,
    Event,
    Noted,
    OpenSlot,
    Output,
)
from raspy.cores.titanic_settings import TitanicSettings

_MAX_SLOTS: Final = 4096  # dispatcher client ids alive at once (bounds edge routes)
_START_WINDOW: Final = 4  # attempts in flight to a service before any reply came back


@dataclass(slots=True)
class Flight:
    """One attempt in flight on a slot; PARTIAL bodies gather in `parts`."""

    seq: int
    uuid: str
    service: bytes
    parts: list[bytes]
    size: int = 0


class Dispatcher:
    """Ready and backing-off entries, attempts in flight, slots and windows."""

    def __init__(self, entries: dict[str, Entry], settings: TitanicSettings) -> None:
        self._entries = entries  # TitanicCore's: the same dict, never copied
        self._settings = settings
        self._available: set[bytes] = set()
        self._ready: dict[
            bytes, list[tuple[int, str, int]]
        ] = {}  # (order, uuid, ticket)
        self._waiting: list[
            tuple[float, int, str, int]
        ] = []  # (at, order, uuid, ticket)
        self._flights: dict[int, Flight] = {}  # slot -> attempt
        self._deadlines: list[tuple[float, int, int]] = []  # (at, slot, flight seq)
        self._flying: dict[bytes, int] = {}  # service -> attempts in flight
        self._windows: dict[bytes, int] = {}  # service -> attempts allowed in flight
        self._free_slots: list[int] = []
        self._next_slot = 0
        self._next_flight = 1

    # ------------------------------------------------------------ queries

    def in_flight_count(self) -> int:
        return len(self._flights)

    def next_deadline(self) -> float | None:
        """The earliest attempt timeout or end of a backoff, if any."""
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
        return min(candidates) if candidates else None

    # ------------------------------------------------------------ scheduling

    def set_available(
        self, service: bytes, available: bool, now: float, out: list[Output]
    ) -> None:
        if available:
            self._available.add(service)
            self.pump(now, out)
        else:
            self._available.discard(service)

    def make_ready(self, entry: Entry) -> None:
        assert entry.order is not None
        entry.ticket += 1
        entry.where = Where.READY
        heap = self._ready.setdefault(entry.service, [])
        heapq.heappush(heap, (entry.order, entry.uuid, entry.ticket))

    def retry_later(self, entry: Entry, now: float) -> None:
        settings = self._settings
        if entry.backoff_s <= 0:
            entry.backoff_s = settings.retry_initial_s
        else:
            entry.backoff_s = min(entry.backoff_s * 2, settings.retry_max_s)
        assert entry.order is not None
        entry.ticket += 1
        entry.where = Where.WAITING
        at = now + entry.backoff_s
        heapq.heappush(self._waiting, (at, entry.order, entry.uuid, entry.ticket))

    def withdraw(self, entry: Entry) -> None:
        """Take a ready or backing-off entry out of the queues (an attempt stays)."""
        if entry.where in (Where.READY, Where.WAITING):
            entry.where = Where.NOWHERE  # its heap items go stale
            entry.ticket += 1

    # ------------------------------------------------------------ attempts

    def receive(
        self,
        slot: int,
        body: Sequence[bytes],
        final: bool,
        now: float,
        out: list[Output],
    ) -> Flight | None:
        """Gather a PARTIAL or FINAL; the attempt, ended, once its FINAL came in.

        None while more is to come, for an unknown slot, and for a reply past
        max_reply_bytes (the attempt is dropped and the entry retried later).
        """
        flight = self._flights.get(slot)
        if flight is None:
            out.append(Noted(Event.REPLY_DROPPED, "", "unknown_slot"))
            return None
        flight.parts.extend(body)
        flight.size += sum(len(frame) for frame in body)
        if flight.size > self._settings.max_reply_bytes:
            self._end_flight(slot, flight, retire=True, out=out)
            out.append(Noted(Event.FAILED, flight.uuid, "reply_too_large"))
            entry = self._entries.get(flight.uuid)
            if entry is not None and entry.state is State.PENDING:
                self.retry_later(entry, now)
            self.pump(now, out)
            return None
        if not final:
            return None
        self._end_flight(slot, flight, retire=False, out=out)
        # the service keeps up: one more attempt may be in flight (up to the limit)
        window = self._window(flight.service)
        self._windows[flight.service] = min(window + 1, self._settings.dispatch_window)
        return flight

    def expire(self, now: float, out: list[Output]) -> None:
        """Retry attempts that timed out, with backoff; ready those whose backoff ended."""
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
            if entry is not None and entry.state is State.PENDING:
                self.retry_later(entry, now)
                reason = f"timeout attempt={entry.attempts} after_s={entry.backoff_s:g}"
                out.append(Noted(Event.RETRIED, entry.uuid, reason))
        waiting = self._waiting
        while waiting and waiting[0][0] <= now:
            _, _, uuid, ticket = heapq.heappop(waiting)
            if self._ticket_current(uuid, ticket):
                self.make_ready(self._entries[uuid])

    def pump(self, now: float, out: list[Output]) -> None:
        """Dispatch ready entries, oldest first, while slots and windows allow."""
        while (entry := self._oldest_ready()) is not None:
            slot = self._take_slot(out)
            if slot is None:
                return
            heapq.heappop(self._ready[entry.service])
            entry.where = Where.FLIGHT
            entry.attempts += 1
            seq = self._next_flight
            self._next_flight += 1
            self._flights[slot] = Flight(seq, entry.uuid, entry.service, [])
            self._flying[entry.service] = self._flying.get(entry.service, 0) + 1
            deadline = now + self._settings.dispatch_timeout_s
            heapq.heappush(self._deadlines, (deadline, slot, seq))
            out.append(
                Dispatch(slot, entry.uuid, entry.service, entry.body, entry.attempts)
            )

    # ------------------------------------------------------------ helpers

    def _ticket_current(self, uuid: str, ticket: int) -> bool:
        entry = self._entries.get(uuid)
        return (
            entry is not None
            and entry.ticket == ticket
            and entry.state is State.PENDING
            and entry.where in (Where.READY, Where.WAITING)
        )

    def _flight_current(self, slot: int, seq: int) -> bool:
        flight = self._flights.get(slot)
        return flight is not None and flight.seq == seq

    def _end_flight(
        self, slot: int, flight: Flight, *, retire: bool, out: list[Output]
    ) -> None:
        del self._flights[slot]
        self._flying[flight.service] -= 1
        entry = self._entries.get(flight.uuid)
        if entry is not None and entry.where is Where.FLIGHT:
            entry.where = Where.NOWHERE
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

    def _oldest_ready(self) -> Entry | None:
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
