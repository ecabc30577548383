"""The Clone server's snapshot ROUTER (docs/protocols.md §6.3): ICANHAZ? in, snapshot
chunks out as each peer has room. Whether to wait for POLLOUT or retry on a short
timer is the SnapshotStreamer's to say; this class asks the runner for it. A socket
monitor tells it of peers gone: what their pipes held is freed then (a peer that
never read holds a whole queue), and the heap can be handed back. Clone I/O thread
only.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import zmq

from raspy.actors.clone.intake import CloneIntake
from raspy.actors.clone.snapshot import SnapshotStreamer
from raspy.stats import Stats
from raspy.transport.monitor import SocketMonitor
from raspy.transport.runner import Runner
from raspy.transport.sockets import Socket


class SnapshotRouter:
    """Registers the ROUTER with the runner and serves its events and turns."""

    def __init__(
        self,
        router: Socket,
        snapshots: SnapshotStreamer,
        intake: CloneIntake,
        runner: Runner,
        *,
        stats: Stats,
        on_peer_left: Callable[[float], None],
    ) -> None:
        """`on_peer_left(now)`: a peer's connection closed (its pipe is freed)."""
        self._router = router
        self._snapshots = snapshots
        self._intake = intake
        self._runner = runner
        self._stats = stats
        self._on_peer_left = on_peer_left
        self._pollout = False  # POLLOUT is polled for: a blocked peer may have room
        runner.register(router, self.on_events)
        self._monitor = SocketMonitor(
            router, zmq.EVENT_DISCONNECTED, runner, self._peer_left
        )

    def close(self) -> None:
        """Stop the monitor (before the ROUTER itself is closed)."""
        self._monitor.close()

    def _peer_left(self, _event: int, _value: int) -> None:
        self._stats.incr("clone.snapshots.peers_left")
        self._on_peer_left(time.monotonic())

    def on_events(self, events: int) -> None:
        if events & zmq.POLLIN:
            self._intake.read_snapshot_requests(self._router)
        if events & zmq.POLLOUT:  # some snapshot peer has room again
            self._snapshots.unblock()

    def on_turn(self) -> None:
        """Send what each snapshot may; poll for POLLOUT only while it helps."""
        snapshots = self._snapshots
        if not self._pollout:  # no POLLOUT awaited: retry blocked peers each turn
            snapshots.unblock()
        snapshots.advance(self._router)
        if snapshots.want_pollout != self._pollout:
            self._pollout = not self._pollout
            events = zmq.POLLIN | (zmq.POLLOUT if self._pollout else 0)
            self._runner.modify(self._router, events)
