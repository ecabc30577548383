"""The Clone server's publisher socket (docs/protocols.md §6.5): an XPUB that never
blocks and keeps each subscriber's queue within its byte budget (issue 18).

ClonePacing (raspy.cores.clone_pacing) says which SNDHWM holds the budget and when a
cut-off is worth a log line; this class sets it on the socket, sends, and reads the
subscription notices that XPUB_VERBOSER shows. Clone I/O thread only.
"""

from __future__ import annotations

import time

import structlog
import zmq

from raspy.cores.clone_pacing import ClonePacing
from raspy.stats import Stats
from raspy.transport.multipart import drain, send_frames
from raspy.transport.sockets import Socket

log = structlog.get_logger(component="clone")

_NOTICE_BATCH = 1000  # subscription notices read per loop turn


class XpubSender:
    """Sends on the bound XPUB (XPUB_NODROP set) and follows its subscriptions."""

    def __init__(
        self, sock: Socket, pacing: ClonePacing, stats: Stats, budget_bytes: int
    ) -> None:
        self.socket = sock
        self._pacing = pacing
        self._stats = stats
        self._budget_bytes = budget_bytes  # for the cut-off log line

    def on_notices(self, _events: int) -> None:
        """Subscribe and leave notices: a HUGZ soon, the SNDHWM set again."""
        notices: list[bytes] = []
        drain(self.socket, lambda frames: notices.append(frames[0]), _NOTICE_BATCH)
        hwm = self._pacing.on_notices(notices, time.monotonic())
        if hwm is not None:  # libzmq applies a set SNDHWM to every connection
            self.socket.setsockopt(zmq.SNDHWM, hwm)

    def send(self, frames: list[bytes]) -> None:
        """Send to every subscriber with room (never blocks, §1.3); a subscriber whose
        queue just reached its byte budget misses it and is counted and logged."""
        pub, now = self.socket, time.monotonic()
        hwm = self._pacing.before_send(sum(map(len, frames)), now)
        if hwm is not None:
            pub.setsockopt(zmq.SNDHWM, hwm)  # libzmq applies it to every pipe
            self._stats.gauge("clone.publisher.hwm", hwm)
        try:
            send_frames(pub, frames)
        except zmq.Again:  # XPUB_NODROP: some subscriber's queue is full
            self._stats.incr("clone.subscribers.cut_off")
            if self._pacing.cut_off(now):
                log.warning(
                    "clone_subscriber_cut_off",
                    reason="queue_full",
                    limit_bytes=self._budget_bytes,
                    hwm=self._pacing.queue_limit.hwm,
                )
            pub.setsockopt(zmq.XPUB_NODROP, 0)
            try:
                send_frames(pub, frames)  # the others get it; the full one misses it
            finally:
                pub.setsockopt(zmq.XPUB_NODROP, 1)
