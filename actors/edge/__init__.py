"""The MDP edge: the broker's ROUTER and the outbox on one I/O Runner (loop.py), the
in-process peers (local.py), and the pykka EdgeActor, the control shell around them
(attach in-process peers, stats, stop). The hot path never goes through pykka.
"""

from __future__ import annotations

from typing import Any

import pykka
import structlog
import zmq

from raspy.actors import messages as msgs
from raspy.actors.edge.broker_log import log_broker_output
from raspy.actors.edge.loop import EdgeLoop, EdgeSettings
from raspy.clock import Clock
from raspy.cores import broker
from raspy.stats import Stats
from raspy.transport.outbox import Outbox
from raspy.transport.runner import Runner

__all__ = ["EdgeActor", "EdgeLoop", "EdgeSettings", "log_broker_output", "start_edge"]

log = structlog.get_logger(component="edge")


class EdgeActor(pykka.ThreadingActor):
    """Starts and stops the edge's runner; answers control asks."""

    def __init__(
        self,
        context: zmq.Context[zmq.Socket[bytes]],
        settings: EdgeSettings,
        core: broker.BrokerCore,
        clock: Clock,
        stats: Stats,
    ) -> None:
        super().__init__()
        self._loop = EdgeLoop(context, settings, core, clock, stats)
        self._runner = Runner(
            "edge", self._loop, monotonic=clock.monotonic, stats=stats
        )
        self.outbox = self._loop.outbox

    def on_start(self) -> None:
        self._runner.start()

    def on_stop(self) -> None:
        if self._runner.stop():  # a stuck loop still polls the outbox's pipe
            self.outbox.close()

    def on_receive(self, message: Any) -> Any:
        match message:
            case (
                msgs.DetachLocal()
                | msgs.UnwatchServices()
                | msgs.HandleLocally(ref=None)
            ):
                # told by an actor that stops: nobody waits for the answer, and an
                # I/O thread that is busy or gone must not fail (and stop) the edge
                self._runner.call(message)
                return None
            case (
                msgs.AttachLocal()
                | msgs.HandleLocally()
                | msgs.WatchServices()
                | (msgs.GetStats())
            ):
                return self._runner.call(message).result(timeout=5)
            case _:
                log.warning("unexpected_message", kind=type(message).__name__)
                return None

    @property
    def endpoint(self) -> str:
        return self._loop.bound_endpoint

    @property
    def io_alive(self) -> bool:
        """Whether the I/O thread still runs (the supervisor's liveness check)."""
        return self._runner.alive


def start_edge(
    context: zmq.Context[zmq.Socket[bytes]],
    settings: EdgeSettings,
    core: broker.BrokerCore,
    clock: Clock,
    stats: Stats,
) -> tuple[pykka.ActorRef[EdgeActor], str, Outbox]:
    """Start the edge; return its ref, the bound MDP endpoint and the shared outbox."""
    ref = EdgeActor.start(context, settings, core, clock, stats)
    endpoint: str = ref.proxy().endpoint.get(timeout=5)
    outbox: Outbox = ref.proxy().outbox.get(timeout=5)
    return ref, endpoint, outbox
