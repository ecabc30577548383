"""In-process MDP peers: workers (an actor registers with the broker through the
outbox) and clients (an actor sends requests through the outbox).

To clients and MMI the workers are indistinguishable from external ones; requests
come by tell (MdpFrames), replies go back through the outbox. A client's replies come
back by tell too, to the actor attached as its owner. No sockets of their own.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Any, Final, Generic, TypeVar

import pykka
import structlog

from raspy.actors import messages as msgs
from raspy.actors.messages import ROUTE_SEPARATOR
from raspy.clock import Clock
from raspy.cores.broker_state import LOCAL_PREFIX
from raspy.errors import MalformedMessage
from raspy.protocol import mdp, mdp_decode
from raspy.records import frozen
from raspy.stats import Stats
from raspy.storage.store import Store
from raspy.transport.outbox import Outbox

log = structlog.get_logger(component="worker")

T = TypeVar("T")
_LEAVE_ASK_S: Final = 5.0
REQUEST_MARK: Final = b"r"  # a client's request peer: `<owner>/r<request id>`


@frozen
class PeerLinks:
    """What an in-process peer of the edge that follows the tree talks to (the
    history recorder, the MQTT bridge, the web face). `clone` is None only for the
    web face of a daemon without a Clone server."""

    edge: pykka.ActorRef[Any]
    outbox: Outbox
    clone: pykka.ActorRef[Any] | None
    store: Store
    clock: Clock
    stats: Stats

    def tree(self) -> pykka.ActorRef[Any]:
        """The Clone server, for a peer that cannot run without one (ValueError)."""
        if self.clone is None:
            raise ValueError("this peer follows the Clone tree: no Clone server given")
        return self.clone


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


def leave(
    links: PeerLinks, ref: pykka.ActorRef[Any], peer_ids: Sequence[bytes]
) -> None:
    """What a follower of the tree (web face, MQTT bridge, history) says as it stops:
    unsubscribe `ref` from the Clone server (asked: no update reaches it after),
    detach its in-process peers `peer_ids` and end its service watch (told: nothing
    here waits for the edge). Best effort: a part that has gone has nothing to forget."""
    if links.clone is not None:
        with contextlib.suppress(pykka.ActorDeadError, pykka.Timeout):
            links.clone.ask(msgs.CloneUnsubscribe(ref), timeout=_LEAVE_ASK_S)
    with contextlib.suppress(pykka.ActorDeadError):
        for peer_id in peer_ids:
            links.edge.tell(msgs.DetachLocal(peer_id))
        links.edge.tell(msgs.UnwatchServices(ref))


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


# --- in-process clients ------------------------------------------------------------
@frozen
class LocalReply:
    """The final reply to request `request_id`."""

    request_id: int
    body: tuple[bytes, ...]


@frozen
class UnroutableReply:
    """Frames for a peer of the owner that names no request of this client."""

    peer_id: bytes


@frozen
class RejectedReply:
    """Frames for request `request_id` that are not an MDP 0.2 reply."""

    request_id: int
    error: MalformedMessage


# None: a PARTIAL reply (MDP 0.2), nothing to do until the FINAL
ReplyOutcome = LocalReply | UnroutableReply | RejectedReply | None


@frozen
class _Pending(Generic[T]):
    context: T
    expires_at: float


class LocalClient(Generic[T]):
    """An in-process MDP 0.2 client of the actor attached as `owner`.

    A request goes out through the outbox as peer `<owner>/r<id>`; the edge routes
    the reply to the owner, which hands it to reply(). The id comes either from a
    core that keeps its own table of requests (send()), or from this client
    (request(): `context` is kept until take() or, `timeout_s` after the request,
    expire() hands it back, so an unanswered request leaves nothing behind); one
    client uses one of the two. send() and reply() keep no state (any thread); the
    table is for one thread.
    """

    def __init__(
        self, outbox: Outbox, owner: bytes, *, timeout_s: float | None = None
    ) -> None:
        self.outbox = outbox
        self.owner = owner
        self.timeout_s = timeout_s
        self._next_id = 0
        # in request order, so in deadline order: timeout_s is the same for all
        self._pending: dict[int, _Pending[T]] = {}

    def attach(
        self, edge: pykka.ActorRef[Any], ref: pykka.ActorRef[Any], timeout_s: float
    ) -> None:
        """Route the replies to `ref` (ask on the edge)."""
        edge.ask(msgs.AttachLocal(self.owner, ref), timeout=timeout_s)

    def detach(self, edge: pykka.ActorRef[Any]) -> None:
        """Stop routing the replies (a stopped edge has nothing to forget)."""
        with contextlib.suppress(pykka.ActorDeadError):
            edge.tell(msgs.DetachLocal(self.owner))

    def send(
        self,
        request_id: int,
        service: bytes,
        body: Sequence[bytes],
        patience_s: float,
    ) -> None:
        """Send a request under an id the caller keeps track of; the caller waits
        `patience_s` for its reply, and the broker does not dispatch it later."""
        request = mdp.ClientRequest(mdp.Version.V02, service, tuple(body))
        peer = self.owner + ROUTE_SEPARATOR + REQUEST_MARK + b"%d" % request_id
        self.outbox.send_mdp_request(peer, mdp.encode(request), patience_s)

    def request(
        self, service: bytes, body: Sequence[bytes], context: T, now: float
    ) -> int:
        """Send a request, keep `context` until its reply or expiry; return its id.
        `now`: monotonic s."""
        if self.timeout_s is None:
            raise ValueError("request() needs a client made with timeout_s")
        self._next_id += 1
        self._pending[self._next_id] = _Pending(context, now + self.timeout_s)
        self.send(self._next_id, service, body, self.timeout_s)
        return self._next_id

    def reply(self, peer_id: bytes, frames: Sequence[bytes]) -> ReplyOutcome:
        """What frames the edge routed to `peer_id` are: a final reply to a request,
        frames naming no request, frames that are no reply, or None (a PARTIAL)."""
        _, _, tail = peer_id.rpartition(ROUTE_SEPARATOR)
        digits = tail[len(REQUEST_MARK) :]
        if not tail.startswith(REQUEST_MARK) or not digits.isdigit():
            return UnroutableReply(peer_id)
        request_id = int(digits)
        try:
            reply = mdp_decode.decode_at_client(frames, mdp.Version.V02)
        except MalformedMessage as exc:
            return RejectedReply(request_id, exc)
        return LocalReply(request_id, reply.body) if reply.final else None

    def take(self, request_id: int) -> T | None:
        """The context of a request still waiting, which waits no more; None for a
        late or unknown id."""
        pending = self._pending.pop(request_id, None)
        return None if pending is None else pending.context

    def expire(self, now: float) -> list[T]:
        """The contexts of the requests unanswered for timeout_s, forgotten."""
        due: list[int] = []
        for request_id, pending in self._pending.items():  # oldest first
            if pending.expires_at > now:
                break
            due.append(request_id)
        return [self._pending.pop(request_id).context for request_id in due]

    def forget(self, selected: Callable[[T], bool]) -> list[T]:
        """Forget the waiting requests whose context is selected; return those."""
        chosen = [i for i, p in self._pending.items() if selected(p.context)]
        return [self._pending.pop(request_id).context for request_id in chosen]

    def waiting(self) -> int:
        """How many requests wait for a reply."""
        return len(self._pending)
