"""The MDP edge: the broker's ROUTER and the inproc outbox, on one I/O Runner.

It moves frames between sockets and BrokerCore and holds no business logic. The pykka
EdgeActor is the control shell (attach in-process peers, stats, stop); the hot path
never goes through pykka.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import pykka
import structlog
import zmq

from raspy.actors import messages as msgs
from raspy.clock import Clock
from raspy.cores import broker
from raspy.protocol.frames import DEFAULT_MAX_FRAME_BYTES
from raspy.ratelimit import LogRateLimiter
from raspy.stats import Stats
from raspy.transport.multipart import drain, send_frames
from raspy.transport.outbox import (
    LOCAL_REPLY_CHANNEL,
    MDP_BATCH_CHANNEL,
    MDP_CHANNEL,
    Outbox,
)
from raspy.transport.runner import Runner, UnknownCommand
from raspy.transport.sockets import CurveKeys, Socket, make_socket

log = structlog.get_logger(component="edge")

_DRAIN_BATCH: Final = 256  # messages read from one socket per loop turn (fairness)


@dataclass(frozen=True, slots=True)
class EdgeSettings:
    """Where the edge listens and how it closes."""

    mdp_endpoint: str
    linger_ms: int = 500
    curve: CurveKeys | None = None  # server keys: the ROUTER is a CURVE server (§8.2)
    # ZMQ_MAXMSGSIZE (per frame): libzmq drops a connection that sends a bigger frame
    # before reading it whole (issue 18); broker.max_frame_bytes
    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES


class EdgeLoop:
    """The Runner owner: BrokerCore between the ROUTER and the outbox PULL."""

    def __init__(
        self,
        context: zmq.Context[zmq.Socket[bytes]],
        settings: EdgeSettings,
        core: broker.BrokerCore,
        clock: Clock,
        stats: Stats,
    ) -> None:
        self.outbox = Outbox()
        self.bound_endpoint = ""
        self._context = context
        self._settings = settings
        self._core = core
        self._clock = clock
        self._stats = stats
        self._local: dict[bytes, pykka.ActorRef[Any]] = {}
        self._watchers: list[pykka.ActorRef[Any]] = []
        self._available: set[bytes] = set()
        self._log_limiter = LogRateLimiter()
        self._router: Socket | None = None
        # local handlers (msgs.HandleLocally): service -> ref, and this turn's batches
        self._handlers: dict[bytes, pykka.ActorRef[Any]] = {}
        self._handed: dict[bytes, list[tuple[bytes, Any]]] = {}
        self._batched: set[bytes] = set()  # owners attached with batched=True
        self._deliveries: dict[bytes, list[msgs.MdpFrames]] = {}  # this turn's
        self._now = 0.0  # of the drain in progress

    def open(self, runner: Runner) -> None:
        router = self._router = make_socket(  # CURVE options set here, before bind()
            self._context,
            zmq.ROUTER,
            linger_ms=self._settings.linger_ms,
            curve=self._settings.curve,
        )
        router.setsockopt(zmq.ROUTER_HANDOVER, 1)  # docs/protocols.md §1.2
        router.setsockopt(zmq.SNDHWM, 10_000)
        router.setsockopt(zmq.RCVHWM, 10_000)
        router.setsockopt(zmq.MAXMSGSIZE, self._settings.max_frame_bytes)
        router.bind(self._settings.mdp_endpoint)
        self.bound_endpoint = router.getsockopt_string(zmq.LAST_ENDPOINT)
        log.info("broker_bound", endpoint=self.bound_endpoint)
        runner.register(router, self._drain_router)
        runner.register(self.outbox.read_fd, self._drain_outbox)

    def next_deadline(self) -> float | None:
        return self._core.next_deadline()

    def on_turn(self, now: float) -> None:
        deadline = self._core.next_deadline()
        if deadline is not None and deadline <= now:
            self._apply(self._core.on_tick(now))
            if self._deliveries:
                self._hand_over()

    def close(self) -> None:
        if self._router is not None:
            self._apply(self._core.shutdown())
            self._router.close(linger=self._settings.linger_ms)

    def _drain_router(self, _events: int) -> None:
        assert self._router is not None
        self._now = self._clock.monotonic()
        try:
            drain(self._router, self._from_router, _DRAIN_BATCH)
        finally:
            if self._handed or self._deliveries:
                self._hand_over()

    def _from_router(self, frames: list[bytes]) -> None:
        self._apply(self._core.on_frames(frames[0], frames[1:], self._now))

    def _drain_outbox(self, _events: int) -> None:
        self._now = self._clock.monotonic()
        try:
            self.outbox.drain(self._from_outbox, _DRAIN_BATCH)
        finally:
            if self._handed or self._deliveries:
                self._hand_over()  # in-process clients ask titanic.* too

    def _from_outbox(self, message: list[bytes]) -> None:
        if len(message) >= 2 and message[0] == MDP_CHANNEL:
            self._apply(self._core.on_frames(message[1], message[2:], self._now))
        elif message and message[0] == LOCAL_REPLY_CHANNEL:
            self._send_local_replies(message)
        elif message and message[0] == MDP_BATCH_CHANNEL:
            self._apply_batch(message, self._now)
        else:
            self._stats.incr("edge.outbox.rejected")

    def execute(self, command: object) -> object:
        match command:
            case msgs.AttachLocal(peer_id=peer_id, ref=ref, batched=batched):
                self._local[peer_id] = ref
                if batched:
                    self._batched.add(peer_id)
                return None
            case msgs.DetachLocal(peer_id=peer_id):
                self._local.pop(peer_id, None)
                self._batched.discard(peer_id)
                return None
            case msgs.WatchServices(ref=ref):
                self._watchers.append(ref)
                for service in sorted(self._available):
                    ref.tell(msgs.ServiceAvailabilityChanged(service, True))
                return None
            case msgs.HandleLocally(service=service, ref=ref, capacity=capacity):
                if ref is None:
                    self._handlers.pop(service, None)
                else:
                    self._handlers[service] = ref
                self._core.handle_locally(service, capacity if ref is not None else 0)
                return None
            case msgs.GetStats():
                stats = self._core.stats()
                return {f"broker.{name}": value for name, value in stats.items()}
            case _:
                raise UnknownCommand("edge", command)

    def _apply(self, outputs: list[broker.BrokerOutput]) -> None:
        send_type, router = broker.Send, self._router
        assert router is not None
        for out in outputs:
            if type(out) is send_type:
                peer = out.peer
                if peer[:1] == broker.LOCAL_PREFIX:
                    self._deliver_local(peer, out.frames)
                    continue
                try:
                    send_frames(router, [peer, *out.frames])
                except zmq.Again:
                    self._stats.incr("edge.send_dropped")
            elif type(out) is broker.LocalRequest:
                request = out.request
                self._handed.setdefault(request.service, []).append(
                    (out.client, request)
                )
            else:
                self._report(out)

    # ------------------------------------------------------------ local handlers

    def _hand_over(self) -> None:
        """One tell per handler per drain turn, with every request it got; one per
        batched owner with every message for its peers."""
        deliveries, self._deliveries = self._deliveries, {}
        for owner, messages in deliveries.items():
            ref = self._local.get(owner)
            try:
                if ref is not None:
                    ref.tell(msgs.MdpFramesBatch(tuple(messages)))
            except pykka.ActorDeadError:
                self._stats.incr("edge.local_dead")
                self._local.pop(owner, None)
        handed, self._handed = self._handed, {}
        for service, requests in handed.items():
            ref = self._handlers.get(service)
            try:
                if ref is None:
                    raise pykka.ActorDeadError(service)
                ref.tell(msgs.LocalRequests(service, tuple(requests)))
            except pykka.ActorDeadError:
                self._stats.incr("edge.local_unroutable", len(requests))
                for _ in requests:
                    self._core.local_answered(service)

    def _apply_batch(self, message: list[bytes], now: float) -> None:
        """[N, *(peer, count, *frames)]: each message as if it came on MDP_CHANNEL."""
        on_frames = self._core.on_frames
        index, end = 1, len(message)
        while index + 2 <= end:
            peer, count = message[index], message[index + 1]
            start = index + 2
            index = start + (int(count) if count.isdigit() else end)
            if index > end:
                self._stats.incr("edge.outbox.rejected")
                return
            self._apply(on_frames(peer, message[start:index], now))

    def _send_local_replies(self, message: list[bytes]) -> None:
        """[R, *(service, client, count, *frames)] from a local handler: each answer
        straight to its client."""
        router, answered = self._router, self._core.local_answered
        assert router is not None
        index, end = 1, len(message)
        while index + 3 <= end:
            service, client, count = message[index : index + 3]
            start = index + 3
            index = start + (int(count) if count.isdigit() else end)
            if index > end:
                self._stats.incr("edge.outbox.rejected")
                return
            answered(service)
            if client[:1] == broker.LOCAL_PREFIX:
                self._deliver_local(client, message[start:index])
                continue
            try:
                send_frames(router, [client, *message[start:index]])
            except zmq.Again:
                self._stats.incr("edge.send_dropped")

    def _deliver_local(self, peer: bytes, frames: list[bytes]) -> None:
        owner = peer.partition(msgs.ROUTE_SEPARATOR)[0]  # `name/sub` goes to `name`
        ref = self._local.get(owner)
        if ref is None:
            self._stats.incr("edge.local_unroutable")
            return
        if owner in self._batched:
            batch = self._deliveries.setdefault(owner, [])
            batch.append(msgs.MdpFrames(tuple(frames), peer))
            return
        try:
            ref.tell(msgs.MdpFrames(tuple(frames), peer))
        except pykka.ActorDeadError:
            self._stats.incr("edge.local_dead")
            self._local.pop(owner, None)

    def _report(self, out: broker.BrokerOutput) -> None:
        if isinstance(out, broker.ServiceAvailability):
            service, available = out.service, out.available
            if available:
                self._available.add(service)
            else:
                self._available.discard(service)
            event = msgs.ServiceAvailabilityChanged(service, available)
            for watcher in list(self._watchers):
                try:
                    watcher.tell(event)
                except pykka.ActorDeadError:
                    self._watchers.remove(watcher)
            return
        log_broker_output(out, self._log_limiter, self._clock.monotonic)


def _service(name: bytes) -> str:
    """At most 64 bytes of a peer's service name: a line's size is bounded too."""
    shown = name[:64].decode("ascii", "backslashreplace")
    return shown + ("…" if len(name) > 64 else "")


def log_broker_output(
    out: broker.BrokerOutput, limiter: LogRateLimiter, monotonic: Callable[[], float]
) -> None:
    """Log what the broker reports; bad input at most once per (peer, reason) a
    minute (docs/style.md §5); in-process workers come and go with their actors: debug."""
    match out:
        case broker.Rejected(peer=peer, reason=reason, detail=detail, frames=count):
            if limiter.should_log((peer, reason), monotonic()):
                log.warning(
                    "frame_rejected",
                    peer=peer.hex(),
                    reason=reason,
                    detail=detail,
                    frames=count,
                )
        case broker.WorkerRegistered(service=service, worker=worker, version=ver):
            emit = log.debug if worker[:1] == broker.LOCAL_PREFIX else log.info
            emit(
                "worker_registered",
                service=_service(service),
                worker=worker.hex(),
                version=str(ver),
            )
        case broker.WorkerRemoved(service=service, worker=worker, reason=reason):
            emit = log.debug if worker[:1] == broker.LOCAL_PREFIX else log.info
            emit(
                "worker_removed",
                service=_service(service),
                worker=worker.hex(),
                reason=reason,
            )
        case broker.RequestDropped(service=service, client=client, reason=reason):
            if limiter.should_log((service, reason), monotonic()):
                log.warning(
                    "request_dropped",
                    service=_service(service),
                    client=client.hex(),
                    reason=reason,
                )
        case _:
            log.warning("unexpected_broker_output", kind=type(out).__name__)


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
        self._runner.stop()
        self.outbox.close()

    def on_receive(self, message: Any) -> Any:
        match message:
            case (
                msgs.AttachLocal()
                | msgs.DetachLocal()
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
