"""A second board as the hub sees it, for the tests of the offline marker and the
board status key (tests/integration/test_board_status.py, the cookbook's recipe 9):
the marker (OfflineMarkerActor) as raspyd wires it, on a real edge, Clone server and
store with a FakeClock, and the board's MDP worker, a real one that comes and goes.

A test waits for what the broker said to reach the marker, never for time: a
recorder watches the broker's availability after the marker, so what the recorder
got, the marker's inbox holds too; an ask() of the marker then returns once it took it.
"""

from __future__ import annotations

import functools
import queue
from typing import Any

import pykka

from raspy.actors import messages as msgs
from raspy.actors.clone.server import read_records, set_if_unchanged
from raspy.actors.devices.offline import OfflineMarkerActor, SetIfUnchanged
from raspy.client.worker import Worker
from raspy.devices.offline import OfflineWatch
from raspy.stats import Stats
from raspy.storage.store import Store
from support.clock import FakeClock
from support.edge_fixtures import EdgeHandle
from support.recording_actor import QueueRecorder

_TIMEOUT_S = 5.0


class Marker:
    """An OfflineMarkerActor on `edge` and a Clone server, as hardware.offline_start
    starts it, and a recorder of the broker's service availability."""

    def __init__(
        self,
        edge: EdgeHandle,
        clone_ref: pykka.ActorRef[Any],
        store: Store,
        clock: FakeClock,
        grace_s: float,
        *,
        hosted: tuple[str, ...] = (),
        write: SetIfUnchanged | None = None,
    ) -> None:
        """`write`: the compare-and-set on the Clone server, by default the one
        raspyd gives the marker."""
        self.edge = edge
        self.clock = clock
        self.grace_s = grace_s
        self.stats = Stats()
        self.ref = OfflineMarkerActor.start(
            OfflineWatch(grace_s, hosted),
            functools.partial(read_records, clone_ref, store),
            write or functools.partial(set_if_unchanged, clone_ref),
            edge.ref,
            clock=clock,
            stats=self.stats,
        )
        self._told: queue.Queue[Any] = queue.Queue()
        self._recorder = QueueRecorder.start(self._told)
        edge.ref.ask(msgs.WatchServices(self._recorder), timeout=_TIMEOUT_S)
        self.taken()

    def taken(self) -> None:
        """The marker has handled every message it was told before this call."""
        self.ref.ask(msgs.Tick(), timeout=_TIMEOUT_S)

    def availability(self, service: str, available: bool) -> None:
        """Wait until the broker said `service` is (un)available, and the marker
        took it."""
        wanted = msgs.ServiceAvailabilityChanged(service.encode(), available)
        while (told := self._told.get(timeout=_TIMEOUT_S)) != wanted:
            assert isinstance(told, msgs.ServiceAvailabilityChanged), told
        self.taken()

    def advance(self, seconds: float) -> None:
        """The fake clock moves on, and the marker has seen the time it is now."""
        self.clock.advance(seconds)
        self.taken()

    def stop(self) -> None:
        self.edge.ref.ask(msgs.UnwatchServices(self._recorder), timeout=_TIMEOUT_S)
        self._recorder.stop(block=True, timeout=_TIMEOUT_S)
        self.ref.stop(block=True, timeout=_TIMEOUT_S)


class Board:
    """The MDP worker of a remote devices service, `<host>.<svc>.devices`."""

    def __init__(self, marker: Marker, service: str) -> None:
        self.marker = marker
        self.service = service
        self._worker: Worker | None = None

    def up(self) -> None:
        """Its worker connects, and the marker has taken its arrival."""
        assert self._worker is None
        self._worker = Worker(
            self.marker.edge.endpoint, self.service, context=self.marker.edge.context
        )
        self.marker.availability(self.service, True)

    def down(self) -> None:
        """Its worker says goodbye (a clean stop), and the marker has taken it."""
        assert self._worker is not None
        self._worker.close()
        self._worker = None
        self.marker.availability(self.service, False)

    def close(self) -> None:
        if self._worker is not None:
            self._worker.close()
            self._worker = None
