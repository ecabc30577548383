"""The broker's tables: pending requests, services and workers (BrokerCore only).

Mutable records with the small rules that touch one record at a time: deadlines
(docs/protocols.md §2.6), the 0.1 reply buffer (§3.6), queue order. No outputs, no I/O.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Final

from raspy.protocol import mdp
from raspy.protocol.frames import FrameLimits

LOCAL_PREFIX: Final = b"\xff"
"""In-process peers (actors) have ids starting with 0xff; libzmq ids start with 0x00."""
ROUTE_SEPARATOR: Final = b"/"
"""An in-process id `owner/sub` belongs to the actor attached as `owner` (the edge)."""

# What a queued request costs beyond its bytes, measured with tracemalloc on CPython
# 3.11 (the Pending, its body tuple, the client id): ~200 bytes plus ~35 per frame.
# Charged so that the byte budgets bound memory, not only payload.
REQUEST_OVERHEAD_BYTES: Final = 256
FRAME_OVERHEAD_BYTES: Final = 40


class Pending:
    """A client request, queued or running on a worker."""

    __slots__ = (
        "arrived_at",
        "body",
        "buffer",
        "buffer_bytes",
        "client",
        "failed",
        "give_up_at",
        "lost",
        "size",
        "streamed",
        "version",
    )

    def __init__(
        self,
        client: bytes,
        request: mdp.ClientRequest,
        now: float,
        give_up_at: float = math.inf,
    ) -> None:
        self.client = client
        self.version = request.version  # the client's: replies go out in it
        self.body = body = request.body
        # bytes charged to the queue budgets while it waits (docs/protocols.md §2.5.8)
        self.size = (
            REQUEST_OVERHEAD_BYTES
            + len(client)
            + sum(map(len, body))
            + FRAME_OVERHEAD_BYTES * len(body)
        )
        self.arrived_at = now  # first arrival: the TTL counts from here, also re-queued
        # an in-process sender's own deadline: past it the sender has given up
        self.give_up_at = give_up_at
        self.buffer: list[bytes] | None = None  # PARTIAL bodies for a 0.1 client
        self.buffer_bytes = 0
        self.failed = False  # the reply overflowed: discard the worker's output
        self.lost = 0  # workers that went away while they had it
        # a PARTIAL of it went to a 0.2 or majortomo client: never dispatched again
        # (docs/protocols.md §3.7), another attempt's stream would follow that one
        self.streamed = False

    def collect(self, body: tuple[bytes, ...], limits: FrameLimits) -> bool:
        """§3.6 raspy: add reply frames for a 0.1 client; True if this overflowed."""
        if self.failed:
            return False
        if self.buffer is None:
            self.buffer = []
        self.buffer.extend(body)
        self.buffer_bytes += sum(map(len, body))
        if (
            len(self.buffer) > limits.max_frames
            or self.buffer_bytes > limits.max_message_bytes
        ):
            self.failed = True
            self.buffer = None
            return True
        return False

    def restart(self) -> None:
        """Forget the reply of a failed attempt before dispatching again."""
        self.buffer = None
        self.buffer_bytes = 0


class Service:
    """A service: its queue (oldest first) and idle workers (idle longest first).

    Change the queue only through push, pop and requeue: they keep `queued_bytes`.
    """

    __slots__ = ("dispatched_at", "idle", "live", "name", "queue", "queued_bytes")

    def __init__(self, name: bytes) -> None:
        self.name = name
        self.dispatched_at = -math.inf  # when a queued request last went to a worker
        self.queue: deque[Pending] = deque()
        self.queued_bytes = 0  # sum of the queued requests' sizes
        self.idle: deque[Worker] = deque()
        self.live = 0  # registered workers, idle or busy

    def expires_at(self, pending: Pending, ttl_s: float) -> float:
        """§2.5.8 raspy: TTL after its arrival and after the queue last moved, or
        when its in-process sender gives up, whichever comes first."""
        return min(
            max(pending.arrived_at, self.dispatched_at) + ttl_s, pending.give_up_at
        )

    def push(self, pending: Pending) -> None:
        """Queue a new request at the back."""
        self.queue.append(pending)
        self.queued_bytes += pending.size

    def pop(self) -> Pending:
        """Take the oldest queued request."""
        pending = self.queue.popleft()
        self.queued_bytes -= pending.size
        return pending

    def requeue(self, pending: Pending) -> None:
        """Put a request back at the front, keeping the queue ordered by arrival."""
        index = 0
        for queued in self.queue:
            if queued.arrived_at > pending.arrived_at:
                break
            index += 1
        self.queue.insert(index, pending)
        self.queued_bytes += pending.size


class Worker:
    """A registered worker: idle (in its service's idle deque) or busy (request)."""

    __slots__ = (
        "busy_heartbeats",
        "busy_since",
        "heartbeats_when_busy",
        "id",
        "last_recv_at",
        "last_sent_at",
        "local",
        "request",
        "service",
        "version",
    )

    def __init__(
        self, routing_id: bytes, service: Service, version: mdp.Version, now: float
    ) -> None:
        self.id = routing_id
        self.service = service
        self.version = version
        self.local = routing_id[:1] == LOCAL_PREFIX
        self.request: Pending | None = None
        self.busy_since = now
        self.busy_heartbeats = 0
        self.heartbeats_when_busy = False
        self.last_recv_at = now
        self.last_sent_at = now

    def start(self, pending: Pending, now: float) -> None:
        """Mark busy with `pending`, which is being sent to it now."""
        self.request = pending
        self.busy_since = now
        self.busy_heartbeats = 0
        self.last_sent_at = now

    def heard_heartbeat(self, now: float) -> bool:
        """Record a HEARTBEAT; True if it just proved it heartbeats while busy.

        One HEARTBEAT may have crossed the REQUEST on the wire, so it takes two in
        one busy period.
        """
        self.last_recv_at = now
        if self.request is None or self.heartbeats_when_busy:
            return False
        self.busy_heartbeats += 1
        self.heartbeats_when_busy = self.busy_heartbeats >= 2
        return self.heartbeats_when_busy

    def expires_at(self, silence_s: float, busy_timeout_s: float) -> float:
        """§2.6 raspy: last message + liveness x interval, idle or heartbeating.

        A busy worker not (yet) seen heartbeating while busy lives at least until
        request start + busy_timeout_s.
        """
        silent_at = self.last_recv_at + silence_s
        if self.request is None or self.heartbeats_when_busy:
            return silent_at
        return max(silent_at, self.busy_since + busy_timeout_s)
