"""The Clone server's snapshot ROUTER (docs/protocols.md §6.3): ICANHAZ? in, snapshot
chunks out as each peer has room. Whether to wait for POLLOUT or retry on a short
timer is the SnapshotStreamer's to say; this class asks the runner for it. Clone I/O
thread only.
"""

from __future__ import annotations

import zmq

from raspy.actors.clone.intake import CloneIntake
from raspy.actors.clone.snapshot import SnapshotStreamer
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
    ) -> None:
        self._router = router
        self._snapshots = snapshots
        self._intake = intake
        self._runner = runner
        self._pollout = False  # POLLOUT is polled for: a blocked peer may have room
        runner.register(router, self.on_events)

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
