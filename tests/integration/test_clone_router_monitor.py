"""The snapshot ROUTER's monitor socket (actors/clone/router.py) is closed when its
registration fails: no close() comes for a SnapshotRouter that was never built, and
an open socket keeps the context's term() waiting for ever."""

from __future__ import annotations

from typing import Any, cast

import pytest
import zmq

from raspy.actors.clone.router import SnapshotRouter
from raspy.stats import Stats
from raspy.transport.runner import Runner
from raspy.transport.sockets import term_within


class _RefusesTheMonitor:
    """A runner's register() that takes the ROUTER and fails for the next socket."""

    def __init__(self) -> None:
        self.registered: list[object] = []

    def register(self, target: object, handler: Any, events: int = 0) -> None:
        if self.registered:
            raise zmq.ZMQError(zmq.ENOTSOCK)
        self.registered.append(target)


@pytest.mark.timeout(20)
def test_a_monitor_whose_registration_fails_is_closed() -> None:
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    router = context.socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    router.bind("tcp://127.0.0.1:*")
    with pytest.raises(zmq.ZMQError):
        SnapshotRouter(
            router,
            cast(Any, None),  # neither is used before the first event
            cast(Any, None),
            cast(Runner, _RefusesTheMonitor()),
            stats=Stats(),
            on_peer_left=lambda now: None,
        )
    router.close()
    assert term_within(context, 5.0) is None, "term() held by the monitor socket"
