"""The MDP edge: the broker's ROUTER and the outbox on one I/O Runner (loop.py), what
the broker decides carried out (outputs.py) over the ROUTER (router.py) and to the
in-process peers (local.py), and the pykka EdgeActor, the control shell around them
(attach in-process peers, stats, stop). The hot path never goes through pykka.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from functools import partial
from typing import Any, Final, NamedTuple

import pykka
import structlog
import zmq

from raspy.actors import messages as msgs
from raspy.actors.edge.broker_log import log_broker_output
from raspy.actors.edge.loop import EdgeLoop
from raspy.actors.edge.router import EdgeSettings
from raspy.actors.steady import SteadyActor
from raspy.clock import Clock
from raspy.cores import broker
from raspy.hang_watch import Ask
from raspy.stats import Stats
from raspy.transport.outbox import Outbox
from raspy.transport.runner import Runner

__all__ = [
    "EdgeActor",
    "EdgeLoop",
    "EdgeSettings",
    "IoWatch",
    "log_broker_output",
    "start_edge",
]

log = structlog.get_logger(component="edge")

_ASK_TIMEOUT_S: Final = 5.0
# what the I/O thread carries out (EdgeLoop.execute); anything else is logged here
_COMMANDS: Final = (
    msgs.AttachLocal,
    msgs.DetachLocal,
    msgs.WatchServices,
    msgs.UnwatchServices,
    msgs.HandleLocally,
    msgs.GetStats,
    msgs.Settle,
)


class IoWatch(NamedTuple):
    """The edge's I/O thread, watched by any thread without the edge's actor."""

    check: Callable[[], bool]  # does it still run (io_alive)
    ask: Ask  # its proof of life (raspy.hang_watch)


class EdgeActor(SteadyActor):
    """Starts and stops the edge's runner; hands the control commands to it.

    A told command goes to the I/O thread without waiting: a failure there (the
    thread busy, stuck or gone, a dead watcher) is counted and logged, and never
    stops the edge. An asked one waits for the I/O thread's answer or exception.
    """

    def __init__(
        self,
        context: zmq.Context[zmq.Socket[bytes]],
        settings: EdgeSettings,
        core: broker.BrokerCore,
        clock: Clock,
        stats: Stats,
    ) -> None:
        super().__init__("edge", stats, clock.monotonic)
        self._loop = EdgeLoop(context, settings, core, clock, stats)
        self._runner = Runner("edge", self._loop, clock=clock, stats=stats)
        self.outbox = self._loop.outbox

    def on_start(self) -> None:
        self._runner.start()

    def on_stop(self) -> None:
        if self._runner.stop():  # a stuck loop still polls the outbox's pipe
            self.outbox.close()

    def receive(self, message: Any) -> Any:
        if not isinstance(message, _COMMANDS):
            log.warning("unexpected_message", kind=type(message).__name__)
            return None
        answer = self._runner.call(message)
        if self.handling_ask:
            return answer.result(timeout=_ASK_TIMEOUT_S)
        answer.add_done_callback(partial(self._told_done, message))
        return None

    def _told_done(self, message: object, answer: Future[object]) -> None:
        error = answer.exception()
        if error is not None:
            self.told_failed(message, error)

    @property
    def endpoint(self) -> str:
        return self._loop.bound_endpoint

    @property
    def io_alive(self) -> bool:
        """Whether the I/O thread still runs."""
        return self._runner.alive

    def io_watch(self) -> IoWatch:
        """How the supervisor watches the I/O thread without asking this actor
        (asked once, without waiting): each round would otherwise wake this actor's
        thread, and the supervisor's again for the answer."""
        runner = self._runner
        # a no-op command through the runner (Settle: the outbox drained, as any
        # wake-up does), answered once the thread takes commands
        return IoWatch(
            check=lambda: runner.alive, ask=lambda: runner.call(msgs.Settle())
        )


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
