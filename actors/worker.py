"""In-process MDP workers: an actor registers with the broker through the outbox.

To clients and MMI they are indistinguishable from external workers; requests come
by tell (MdpFrames), replies go back through the outbox. No sockets of their own
except the outbox's per-thread PUSH.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pykka
import structlog

from raspy.actors import messages as msgs
from raspy.actors.messages import ROUTE_SEPARATOR
from raspy.clock import Clock
from raspy.cores.broker import LOCAL_PREFIX
from raspy.errors import MalformedMessage
from raspy.protocol import mdp, mdp_decode
from raspy.stats import Stats
from raspy.storage.store import Store
from raspy.transport.outbox import Outbox

log = structlog.get_logger(component="worker")


@dataclass(frozen=True, slots=True)
class PeerLinks:
    """What an in-process peer of the edge that follows the tree talks to (the
    history recorder, the MQTT bridge)."""

    edge: pykka.ActorRef[Any]
    outbox: Outbox
    clone: pykka.ActorRef[Any]
    store: Store
    clock: Clock
    stats: Stats


def local_peer_id(name: str, sub: str = "") -> bytes:
    """An in-process peer id; the 0xff prefix never clashes with libzmq's ids.

    With `sub`, the id is `<name>/<sub>`: the edge routes it to whatever actor is
    attached as `name`, so one actor can own many peers with one AttachLocal.
    """
    if "/" in name:
        raise ValueError(f"an in-process peer name has no '/': {name!r}")
    peer = LOCAL_PREFIX + name.encode("utf-8")
    return peer + ROUTE_SEPARATOR + sub.encode("utf-8") if sub else peer


class LocalWorker:
    """One service endpoint of an actor, speaking MDP 0.2 over the outbox."""

    def __init__(self, outbox: Outbox, peer_id: bytes, service: bytes) -> None:
        self.outbox = outbox
        self.peer_id = peer_id
        self.service = service

    def ready(self) -> None:
        self._send(mdp.Ready(mdp.Version.V02, self.service))

    def reply(
        self, client: bytes, body: Sequence[bytes], *, final: bool = True
    ) -> None:
        self._send(mdp.WorkerReply(mdp.Version.V02, client, tuple(body), final))

    def disconnect(self) -> None:
        self._send(mdp.Disconnect(mdp.Version.V02))

    @staticmethod
    def decode(
        frames: Sequence[bytes],
    ) -> mdp.WorkerRequest | mdp.Heartbeat | mdp.Disconnect:
        return mdp_decode.decode_at_worker(frames, mdp.Version.V02)

    def serve(
        self, frames: Sequence[bytes], handle: Callable[[list[bytes]], Sequence[bytes]]
    ) -> MalformedMessage | None:
        """Answer a REQUEST with handle(body); register again after a DISCONNECT (the
        broker forgot us). Malformed frames are returned for the caller to count and
        log; heartbeats need nothing."""
        try:
            decoded = self.decode(frames)
        except MalformedMessage as exc:
            return exc
        if isinstance(decoded, mdp.WorkerRequest):
            self.reply(decoded.client, handle(list(decoded.body)))
        elif isinstance(decoded, mdp.Disconnect):
            self.ready()
        return None

    def _send(self, message: mdp.Ready | mdp.WorkerReply | mdp.Disconnect) -> None:
        self.outbox.send_mdp(self.peer_id, mdp.encode(message))


def attach(
    edge: pykka.ActorRef[Any], worker: LocalWorker, ref: pykka.ActorRef[Any]
) -> None:
    """Route the broker's frames for this worker to `ref`, then send READY."""
    edge.ask(msgs.AttachLocal(worker.peer_id, ref), timeout=5)
    worker.ready()


class ServiceWorkerActor(pykka.ThreadingActor):
    """Base of single-service in-process workers: override handle()."""

    def __init__(
        self, edge: pykka.ActorRef[Any], outbox: Outbox, service: bytes, name: str
    ) -> None:
        super().__init__()
        self._edge = edge
        self.worker = LocalWorker(outbox, local_peer_id(name), service)

    def on_start(self) -> None:
        attach(self._edge, self.worker, self.actor_ref)

    def on_stop(self) -> None:
        self.worker.disconnect()

    def on_receive(self, message: Any) -> Any:
        match message:
            case msgs.MdpFrames(frames=frames):
                rejected = self.worker.serve(frames, self.handle)
                if rejected is not None:
                    log.warning(
                        "frame_rejected", reason=rejected.reason, detail=rejected.detail
                    )
            case _:
                log.warning("unexpected_message", kind=type(message).__name__)
        return None

    def handle(self, body: list[bytes]) -> Sequence[bytes]:
        raise NotImplementedError


class EchoWorkerActor(ServiceWorkerActor):
    """The built-in `<hostname>.echo` service: the reply is the request body."""

    def handle(self, body: list[bytes]) -> Sequence[bytes]:
        return body
