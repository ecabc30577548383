"""The Clone server's publisher socket (docs/protocols.md §6.5): an XPUB that never
blocks and keeps each subscriber's queue within its byte budget (issue 18). A full
queue may only look full, so what is published waits here, in order, until ClonePacing
says to cut that subscriber off (the policy and its reasons: raspy.cores.clone_pacing).
"""

from __future__ import annotations

import time
from collections import deque

import structlog
import zmq

from raspy.cores.clone_pacing import ClonePacing, message_cost
from raspy.stats import Stats
from raspy.transport.multipart import drain, send_frames
from raspy.transport.sockets import Socket

log = structlog.get_logger(component="clone")

_NOTICE_BATCH = 1000  # subscription notices read per loop turn


class XpubSender:
    """Sends on the bound XPUB (XPUB_NODROP set) and follows its subscriptions."""

    def __init__(
        self,
        sock: Socket,
        pacing: ClonePacing,
        stats: Stats,
        hwm: int,
    ) -> None:
        self.socket = sock
        self._pacing = pacing
        self._stats = stats
        self._hwm = hwm  # the socket's SNDHWM, set before bind (for the log line)
        # (when it was published, its frames, what it costs in memory), oldest first
        self._waiting: deque[tuple[float, list[bytes], int]] = deque()
        self._waiting_bytes = 0
        self._progress_at = 0.0  # when a waiting message last went out

    @property
    def waiting(self) -> bool:
        """Messages wait for a full subscriber: the loop must turn again soon."""
        return bool(self._waiting)

    def on_notices(self, _events: int) -> None:
        """Subscribe and leave notices: a HUGZ soon, heap handed back later."""
        notices: list[bytes] = []
        drain(self.socket, lambda frames: notices.append(frames[0]), _NOTICE_BATCH)
        self._pacing.on_notices(notices, time.monotonic())

    def send(self, frames: list[bytes]) -> None:
        """Publish to every subscriber, in order, never blocking (§1.3)."""
        if not self._waiting and self._sent(frames):
            return
        now = time.monotonic()
        if not self._waiting:
            self._progress_at = now  # the wait begins
        cost = message_cost(frames)
        self._waiting.append((now, frames, cost))
        self._waiting_bytes += cost
        if self._pacing.holds_a_queue(self._waiting_bytes):
            self.flush(now)  # cuts the full subscriber off, however short the wait

    def flush(self, now: float, *, stopping: bool = False) -> None:
        """Send what waits; a subscriber still full when ClonePacing says the wait is
        over (or `stopping`) is cut off. Called every loop turn."""
        waiting = self._waiting
        while waiting:
            queued_at, frames, cost = waiting[0]
            if self._sent(frames):
                self._progress_at = now
            else:
                over = self._pacing.stop_waiting(
                    queued_at, self._progress_at, self._waiting_bytes, now
                )
                if not (over or stopping):
                    return
                self._cut_off(frames, now)
                self._progress_at = now
            waiting.popleft()
            self._waiting_bytes -= cost

    def _sent(self, frames: list[bytes]) -> bool:
        """Sent to all, or False if a subscriber's queue is full (XPUB_NODROP)."""
        pub = self.socket
        try:
            send_frames(pub, frames)
        except zmq.Again:
            pub.getsockopt(zmq.EVENTS)  # the socket hears of the reads made since
            try:
                send_frames(pub, frames)
            except zmq.Again:
                return False
        return True

    def _cut_off(self, frames: list[bytes], now: float) -> None:
        """The full subscriber misses this message, the others get it; libzmq then
        skips that subscriber until it reads again."""
        self._stats.incr("clone.subscribers.cut_off")
        if self._pacing.cut_off(now):
            log.warning(
                "clone_subscriber_cut_off",
                reason="queue_full",
                limit_bytes=self._pacing.queue_budget_bytes,
                hwm=self._hwm,
            )
        pub = self.socket
        pub.setsockopt(zmq.XPUB_NODROP, 0)
        try:
            send_frames(pub, frames)
        finally:
            pub.setsockopt(zmq.XPUB_NODROP, 1)
