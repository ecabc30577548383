"""Dispatcher: which pending request goes out next, and the attempts that are out.

Its own module because dispatch is bookkeeping of its own, apart from the request
lifecycle in TitanicCore: per-service ready heaps, the backoff heap, attempts in
flight with their timeouts, dispatcher slots and per-service windows. It keeps a Job
per request it may still send (the core says when: queue, hold, resume, forget); it
never reads or changes a request's life-cycle state (raspy.cores.titanic_lifecycle).

Invariants: an entry has at most one attempt in flight (docs/protocols.md §5.5.2); ready
entries go out oldest first, only to available services. Attempts in flight per
service start at 4, grow by one per reply up to dispatch_window and halve on a timeout.
Heap items are never removed in place: a job's ticket is bumped on every
(re)schedule, and items with an old ticket are skipped when they reach the top. A
ready heap whose service has no worker is never popped, so it is built again from
its live items once most are stale (held or forgotten jobs): its size follows the
jobs known, not the requests sent and closed meanwhile.
Retries back off with raspy.backoff (retry_initial_s doubling up to retry_max_s).
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Final

from raspy.backoff import Backoff, BackoffPolicy
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
# what a frame takes in the stored reply beside its bytes (its msgpack header, at
# most): PARTIALs are not bound by broker.max_frames, so max_reply_bytes counts it
# for the record to fit store.max_value_bytes (raspy.config_sizes)
FRAME_HEAD_BYTES: Final = 5


class Where(Enum):
    NOWHERE = 0  # held, backing off not yet scheduled, or its reply is being stored
    READY = 1  # in its service's ready heap
    WAITING = 2  # in the backoff heap
    FLIGHT = 3  # an attempt is out


class Job:
    """What the dispatcher needs to send one request, and where it is now."""

    __slots__ = (
        "attempts",
        "backoff",
        "body",
        "held",
        "order",
        "service",
        "ticket",
        "uuid",
        "where",
    )

    def __init__(
        self,
        uuid: str,
        service: bytes,
        body: tuple[bytes, ...],
        order: int,
        policy: BackoffPolicy,
    ) -> None:
        self.uuid = uuid
        self.service = service
        self.body = body
        self.order = order
        self.where = Where.NOWHERE
        self.held = False  # a deletion is committing: send nothing, retry nothing
        self.ticket = 0  # bumped on every (re)schedule; stale heap items are skipped
        self.attempts = 0
        self.backoff = Backoff(policy)


@dataclass(slots=True)
class Flight:
    """One attempt in flight on a slot; PARTIAL bodies gather in `parts`."""

    seq: int
    uuid: str
    service: bytes
    parts: list[bytes]
    size: int = 0


class Dispatcher:
    """Ready and backing-off jobs, attempts in flight, slots and windows."""

    def __init__(self, settings: TitanicSettings) -> None:
        self._settings = settings
        initial = max(settings.retry_initial_s, 1e-3)
        self._policy = BackoffPolicy(initial, max(settings.retry_max_s, initial))
        self._jobs: dict[str, Job] = {}
        self._available: set[bytes] = set()
        self._ready: dict[
            bytes, list[tuple[int, str, int]]
        ] = {}  # (order, uuid, ticket)
        self._waiting: list[
            tuple[float, int, str, int]
        ] = []  # (at, order, uuid, ticket)
        self._flights: dict[int, Flight] = {}  # slot -> attempt
        self._deadlines: list[tuple[float, int, int]] = []  # (at, slot, flight seq)
        self._flying: dict[bytes, int] = {}  # service -> attempts in flight (> 0)
        self._windows: dict[bytes, int] = {}  # service -> attempts allowed in flight
        self._job_counts: dict[bytes, int] = {}  # service -> jobs known (> 0)
        self._free_slots: list[int] = []
        self._slack = settings.heap_slack
        self._next_slot = 0
        self._next_flight = 1

    # ------------------------------------------------------------ queries

    def in_flight_count(self) -> int:
        return len(self._flights)

    def tracked_services(self) -> int:
        """Services the dispatcher keeps anything for: those with jobs, attempts in
        flight or workers, and the windows of those. A service that has none of them
        is forgotten, so names that come and go (years of them) do not pile up."""
        return len(
            self._ready.keys()
            | self._flying.keys()
            | self._windows.keys()
            | self._available
            | self._job_counts.keys()
        )

    def ready_items(self) -> int:
        """Items in the ready heaps, stale ones included (for tests and the soak)."""
        return sum(len(heap) for heap in self._ready.values())

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

    # ------------------------------------------------------------ what the core says

    def queue(
        self, uuid: str, service: bytes, body: tuple[bytes, ...], order: int
    ) -> None:
        """A request became pending: send it when its service can take it."""
        job = Job(uuid, service, body, order, self._policy)
        self._jobs[uuid] = job
        self._job_counts[service] = self._job_counts.get(service, 0) + 1
        self._make_ready(job)

    def hold(self, uuid: str) -> None:
        """A deletion is committing: take the job out of the queues (an attempt stays)."""
        job = self._jobs.get(uuid)
        if job is None:
            return
        job.held = True
        if job.where in (Where.READY, Where.WAITING):
            job.where = Where.NOWHERE  # its heap items go stale
            job.ticket += 1
            self._shrink_ready(job.service)

    def resume(self, uuid: str, now: float) -> None:
        """The deletion failed: the request is pending again; retried after a backoff."""
        job = self._jobs.get(uuid)
        if job is None:
            return
        job.held = False
        if job.where is Where.NOWHERE:
            self.retry_later(uuid, now)

    def retry_later(self, uuid: str, now: float) -> None:
        """Send the request again once its backoff has run out."""
        job = self._jobs.get(uuid)
        if job is None or job.held:
            return
        at = job.backoff.failed(now)
        job.ticket += 1
        job.where = Where.WAITING
        heapq.heappush(self._waiting, (at, job.order, job.uuid, job.ticket))

    def forget(self, uuid: str) -> None:
        """The reply is stored or the request deleted: nothing more to send."""
        job = self._jobs.pop(uuid, None)
        if job is not None:
            job.ticket += 1
            job.where = Where.NOWHERE
            left = self._job_counts[job.service] - 1
            if left:
                self._job_counts[job.service] = left
                self._shrink_ready(job.service)
            else:
                del self._job_counts[job.service]
                self._tidy(job.service)

    def set_available(
        self, service: bytes, available: bool, now: float, out: list[Output]
    ) -> None:
        if available:
            self._available.add(service)
            self.pump(now, out)
        else:
            self._available.discard(service)
            self._tidy(service)

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
        max_reply_bytes, 5 bytes a frame counted (the attempt is dropped and the
        request retried later).
        """
        flight = self._flights.get(slot)
        if flight is None:
            out.append(Noted(Event.REPLY_DROPPED, "", "unknown_slot"))
            return None
        flight.parts.extend(body)
        flight.size += sum(len(frame) for frame in body) + FRAME_HEAD_BYTES * len(body)
        if flight.size > self._settings.max_reply_bytes:
            self._end_flight(slot, flight, retire=True, out=out)
            out.append(Noted(Event.FAILED, flight.uuid, "reply_too_large"))
            self.retry_later(flight.uuid, now)
            self.pump(now, out)
            return None
        if not final:
            return None
        self._end_flight(slot, flight, retire=False, out=out)
        # the service keeps up: one more attempt may be in flight (up to the limit)
        window = self._window(flight.service)
        self._windows[flight.service] = min(window + 1, self._settings.dispatch_window)
        self._tidy(flight.service)
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
            job = self._jobs.get(flight.uuid)
            if job is not None and not job.held:
                self.retry_later(job.uuid, now)
                delay = job.backoff.current_s
                reason = f"timeout attempt={job.attempts} after_s={delay:g}"
                out.append(Noted(Event.RETRIED, job.uuid, reason))
            self._tidy(flight.service)
        waiting = self._waiting
        while waiting and waiting[0][0] <= now:
            _, _, uuid, ticket = heapq.heappop(waiting)
            if self._ticket_current(uuid, ticket):
                self._make_ready(self._jobs[uuid])

    def pump(self, now: float, out: list[Output]) -> None:
        """Dispatch ready jobs, oldest first, while slots and windows allow."""
        while (job := self._oldest_ready()) is not None:
            slot = self._take_slot(out)
            if slot is None:
                return
            heapq.heappop(self._ready[job.service])
            job.where = Where.FLIGHT
            job.attempts += 1
            seq = self._next_flight
            self._next_flight += 1
            self._flights[slot] = Flight(seq, job.uuid, job.service, [])
            self._flying[job.service] = self._flying.get(job.service, 0) + 1
            deadline = now + self._settings.dispatch_timeout_s
            heapq.heappush(self._deadlines, (deadline, slot, seq))
            out.append(Dispatch(slot, job.uuid, job.service, job.body, job.attempts))

    # ------------------------------------------------------------ helpers

    def _make_ready(self, job: Job) -> None:
        job.ticket += 1
        job.where = Where.READY
        heap = self._ready.setdefault(job.service, [])
        heapq.heappush(heap, (job.order, job.uuid, job.ticket))

    def _ticket_current(self, uuid: str, ticket: int) -> bool:
        job = self._jobs.get(uuid)
        return (
            job is not None
            and job.ticket == ticket
            and job.where in (Where.READY, Where.WAITING)
        )

    def _flight_current(self, slot: int, seq: int) -> bool:
        flight = self._flights.get(slot)
        return flight is not None and flight.seq == seq

    def _end_flight(
        self, slot: int, flight: Flight, *, retire: bool, out: list[Output]
    ) -> None:
        del self._flights[slot]
        flying = self._flying[flight.service] - 1
        if flying:
            self._flying[flight.service] = flying
        else:
            del self._flying[flight.service]
        job = self._jobs.get(flight.uuid)
        if job is not None and job.where is Where.FLIGHT:
            job.where = Where.NOWHERE
        if retire:
            # a late reply could still come on this slot: never reuse it
            out.append(CloseSlot(slot))
        else:
            self._free_slots.append(slot)

    def _shrink_ready(self, service: bytes) -> None:
        """Build a service's ready heap again from its live items once they are
        fewer than half of it (and the slack): amortised O(1) a stale item."""
        heap = self._ready.get(service)
        if heap is None or len(heap) <= 2 * self._job_counts[service] + self._slack:
            return
        current = self._ticket_current
        live = [item for item in heap if current(item[1], item[2])]
        heapq.heapify(live)
        self._ready[service] = live

    def _tidy(self, service: bytes) -> None:
        """Forget what is kept for a service that has no jobs left: its ready heap
        (only stale items: every job of it is gone), and its window too once no
        attempt is in flight and no worker serves it (it starts again from the
        first window, as a new service would)."""
        if service in self._job_counts:
            return
        self._ready.pop(service, None)
        if service not in self._flying and service not in self._available:
            self._windows.pop(service, None)

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

    def _oldest_ready(self) -> Job | None:
        """The oldest ready job of an available service with room in its window."""
        best: tuple[int, str] | None = None
        available = self._available
        emptied: list[bytes] = []
        for service, heap in self._ready.items():
            if service not in available:
                continue
            if self._flying.get(service, 0) >= self._window(service):
                continue
            while heap and not self._ticket_current(heap[0][1], heap[0][2]):
                heapq.heappop(heap)
            if not heap:
                emptied.append(service)
            elif best is None or heap[0][0] < best[0]:
                best = (heap[0][0], heap[0][1])
        for service in emptied:
            del self._ready[service]
        return None if best is None else self._jobs[best[1]]
