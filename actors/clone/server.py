"""The Clone server actor: starts and stops the Clone runner (raspy.actors.clone.loop)
and answers control asks; publishing in-process goes through ClonePublisher.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import pykka
import structlog
import zmq

from raspy.actors import messages as msgs
from raspy.actors.clone.loop import STOP_FLUSH_S, CloneLoop
from raspy.actors.clone.publisher import ClonePublisher
from raspy.clock import Clock
from raspy.config import CloneConfig, LimitsConfig, NetworkConfig
from raspy.cores.clone import Update
from raspy.protocol import clone
from raspy.stats import Stats
from raspy.storage.scenario_store import live_tree
from raspy.storage.store import Store
from raspy.transport.sockets import CurveKeys

log = structlog.get_logger(component="clone")

__all__ = [
    "CloneLoop",
    "ClonePublisher",
    "CloneServerActor",
    "read_tree",
    "start_clone_server",
]

_ASK_TIMEOUT_S: Final = 5.0


@dataclass(frozen=True, slots=True)
class _IoFailed:
    error: BaseException


class CloneServerActor(pykka.ThreadingActor):
    """Starts and stops the Clone I/O thread; answers control asks (never hot path)."""

    def __init__(
        self,
        context: zmq.Context[zmq.Socket[bytes]],
        store: Store,
        config: CloneConfig,
        endpoints: clone.Endpoints,
        *,
        clock: Clock,
        stats: Stats,
        linger_ms: int = 500,
        curve: CurveKeys | None = None,
        limits: LimitsConfig | None = None,
    ) -> None:
        super().__init__()
        self._loop = CloneLoop(
            context,
            store,
            config,
            endpoints,
            clock=clock,
            stats=stats,
            linger_ms=linger_ms,
            on_failure=self._io_failed,
            curve=curve,
            limits=limits,
        )

    def _io_failed(self, error: BaseException) -> None:
        try:
            self.actor_ref.tell(_IoFailed(error))
        except pykka.ActorDeadError:
            return

    def on_start(self) -> None:
        self._loop.runner.start()

    def on_stop(self) -> None:
        self._loop.runner.stop(timeout_s=STOP_FLUSH_S + 5)

    def on_receive(self, message: Any) -> Any:
        match message:
            case msgs.GetPublishOutbox():
                return self._loop.outbox  # what a ClonePublisher appends to
            case msgs.GetCloneEndpoints():
                return self._loop.bound_endpoints
            case (
                msgs.CloneSubscribe()
                | msgs.CloneUnsubscribe()
                | msgs.GetStats()
                | msgs.GetUnstored()
            ):
                return self._loop.runner.call(message).result(timeout=5)
            case msgs.Tick():
                self._loop.runner.call(message)
                return None
            case _IoFailed(error=error):
                raise RuntimeError("clone I/O thread failed") from error
            case _:
                log.warning("unexpected_message", kind=type(message).__name__)
                return None


def read_tree(
    clone_ref: pykka.ActorRef[Any] | None, store: Store, prefix: str
) -> list[tuple[str, bytes]]:
    """The live tree under `prefix` (key order), for a part that reads it once at
    start: the store alone lacks the coalesced values of the last interval (a device
    that came and went within it). Without the server, the store as it is."""
    unstored: list[Update] = []
    if clone_ref is not None:
        try:
            answer = clone_ref.ask(
                msgs.GetUnstored(prefix.encode("utf-8")), timeout=_ASK_TIMEOUT_S
            )
            assert isinstance(answer, list)  # CommitPipeline.overlay's
            unstored = answer
        except (pykka.ActorDeadError, TimeoutError) as exc:
            log.warning("clone_unstored_unknown", prefix=prefix, reason=repr(exc))
    return live_tree(store, prefix, unstored)


def start_clone_server(
    context: zmq.Context[zmq.Socket[bytes]],
    store: Store,
    config: CloneConfig,
    network: NetworkConfig,
    *,
    clock: Clock,
    stats: Stats,
    curve: CurveKeys | None = None,
    limits: LimitsConfig | None = None,
) -> pykka.ActorRef[CloneServerActor]:
    """Start the server on the port base (snapshot N+1, PUB N+2, collector N+3);
    with `curve` (server keys) the three TCP sockets are CURVE servers."""
    endpoints = clone.Endpoints.from_port_base(network.bind, network.port_base)
    ref = CloneServerActor.start(
        context,
        store,
        config,
        endpoints,
        clock=clock,
        stats=stats,
        linger_ms=network.linger_ms,
        curve=curve,
        limits=limits,
    )
    ref.ask(msgs.GetCloneEndpoints(), timeout=10)  # raises if it failed to start
    return ref
