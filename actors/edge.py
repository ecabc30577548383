"""The MDP edge: one I/O thread owns the broker's ROUTER and the inproc outbox.

It moves frames between sockets and BrokerCore and holds no business logic. The pykka
EdgeActor is the control shell (attach in-process peers, stats, stop); the hot path
never goes through pykka.
"""

from __future__ import annotations

import itertools
import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Final

import pykka
import structlog
import zmq

from raspy.actors import messages as msgs
from raspy.actors.outbox import MDP_CHANNEL, Outbox
from raspy.clock import Clock
from raspy.cores import broker
from raspy.ratelimit import LogRateLimiter
from raspy.stats import Stats
from raspy.transport.multipart import recv_frames, send_frames
from raspy.transport.sockets import CurveKeys, make_socket

log = structlog.get_logger(component="edge")

_DRAIN_BATCH: Final = 256  # messages read from one socket per loop turn (fairness)
_MAX_POLL_MS: Final = 1000
_instance_ids = itertools.count(1)


@dataclass(frozen=True, slots=True)
class EdgeSettings:
    """Where the edge listens and how it closes."""

    mdp_endpoint: str
    linger_ms: int = 500
    curve: CurveKeys | None = None  # server keys: the ROUTER is a CURVE server (§8.2)


class _Stop:
    pass


class EdgeLoop:
    """The I/O thread's body. Only run() touches the sockets it creates."""

    def __init__(
        self,
        context: zmq.Context[zmq.Socket[bytes]],
        settings: EdgeSettings,
        core: broker.BrokerCore,
        clock: Clock,
        stats: Stats,
    ) -> None:
        instance = next(_instance_ids)
        self.outbox_endpoint = f"inproc://raspy-outbox-{id(self)}-{instance}"
        self._wake_endpoint = f"inproc://raspy-edge-wake-{id(self)}-{instance}"
        self._context = context
        self._settings = settings
        self._core = core
        self._clock = clock
        self._stats = stats
        self._commands: queue.SimpleQueue[msgs.EdgeCommand] = queue.SimpleQueue()
        self._local: dict[bytes, pykka.ActorRef[Any]] = {}
        self._watchers: list[pykka.ActorRef[Any]] = []
        self._available: set[bytes] = set()
        self._log_limiter = LogRateLimiter()
        self.bound = threading.Event()
        self.bound_endpoint = ""
        self.failure: BaseException | None = None
        self._running = True

    # --- called from other threads -------------------------------------------------
    def submit(self, command: object, wake: zmq.Socket[bytes]) -> Future[object]:
        """Queue a control command; `wake` is the caller's own PAIR to this loop."""
        result: Future[object] = Future()
        self._commands.put(msgs.EdgeCommand(command, result))
        wake.send(b"", copy=True)
        return result

    @property
    def wake_endpoint(self) -> str:
        return self._wake_endpoint

    # --- the I/O thread --------------------------------------------------------------
    def run(self) -> None:
        try:
            self._run()
        except BaseException as exc:
            self.failure = exc
            self.bound.set()
            log.exception("edge_failed")
            raise

    def _run(self) -> None:
        ctx = self._context
        router = make_socket(  # CURVE options set here, before bind()
            ctx,
            zmq.ROUTER,
            linger_ms=self._settings.linger_ms,
            curve=self._settings.curve,
        )
        router.setsockopt(zmq.ROUTER_HANDOVER, 1)  # protocols.md §1.2
        router.setsockopt(zmq.SNDHWM, 10_000)
        router.setsockopt(zmq.RCVHWM, 10_000)
        outbox = ctx.socket(zmq.PULL)
        outbox.setsockopt(zmq.LINGER, 0)
        outbox.setsockopt(zmq.RCVHWM, 0)
        wake = ctx.socket(zmq.PAIR)
        wake.setsockopt(zmq.LINGER, 0)
        try:
            outbox.bind(self.outbox_endpoint)
            wake.bind(self._wake_endpoint)
            router.bind(self._settings.mdp_endpoint)
            self.bound_endpoint = router.getsockopt_string(zmq.LAST_ENDPOINT)
            log.info("broker_bound", endpoint=self.bound_endpoint)
            self.bound.set()
            self._loop(router, outbox, wake)
            self._apply(self._core.shutdown(), router)
        finally:
            router.close(linger=self._settings.linger_ms)
            outbox.close(linger=0)
            wake.close(linger=0)

    def _loop(
        self,
        router: zmq.Socket[bytes],
        outbox: zmq.Socket[bytes],
        wake: zmq.Socket[bytes],
    ) -> None:
        poller = zmq.Poller()
        poller.register(router, zmq.POLLIN)
        poller.register(outbox, zmq.POLLIN)
        poller.register(wake, zmq.POLLIN)
        core = self._core
        monotonic = self._clock.monotonic
        while self._running:
            deadline = core.next_deadline()
            now = monotonic()
            timeout_ms = _MAX_POLL_MS
            if deadline is not None:
                timeout_ms = max(0, min(_MAX_POLL_MS, int((deadline - now) * 1000) + 1))
            events = dict(poller.poll(timeout_ms))
            if router in events:
                self._drain_router(router)
            if outbox in events:
                self._drain_outbox(outbox, router)
            if wake in events:
                self._drain_commands(wake, router)
            now = monotonic()
            deadline = core.next_deadline()
            if deadline is not None and deadline <= now:
                self._apply(core.on_tick(now), router)

    def _drain_router(self, router: zmq.Socket[bytes]) -> None:
        core = self._core
        now = self._clock.monotonic()
        for _ in range(_DRAIN_BATCH):
            try:
                frames = recv_frames(router)
            except zmq.Again:
                return
            self._apply(core.on_frames(frames[0], frames[1:], now), router)

    def _drain_outbox(
        self, outbox: zmq.Socket[bytes], router: zmq.Socket[bytes]
    ) -> None:
        core = self._core
        now = self._clock.monotonic()
        for _ in range(_DRAIN_BATCH):
            try:
                message = recv_frames(outbox)
            except zmq.Again:
                return
            if len(message) < 2 or message[0] != MDP_CHANNEL:
                self._stats.incr("edge.outbox.rejected")
                continue
            self._apply(core.on_frames(message[1], message[2:], now), router)

    def _drain_commands(
        self, wake: zmq.Socket[bytes], router: zmq.Socket[bytes]
    ) -> None:
        while True:
            try:
                wake.recv(zmq.NOBLOCK)
            except zmq.Again:
                break
        while True:
            try:
                command = self._commands.get_nowait()
            except queue.Empty:
                return
            try:
                command.result.set_result(self._execute(command.command, router))
            except Exception as exc:  # answer the caller, keep the loop alive
                log.exception("edge_command_failed", command=type(command).__name__)
                command.result.set_exception(exc)

    def _execute(self, command: object, router: zmq.Socket[bytes]) -> object:
        match command:
            case msgs.AttachLocal(peer_id=peer_id, ref=ref):
                self._local[peer_id] = ref
                return None
            case msgs.DetachLocal(peer_id=peer_id):
                self._local.pop(peer_id, None)
                return None
            case msgs.WatchServices(ref=ref):
                self._watchers.append(ref)
                for service in sorted(self._available):
                    ref.tell(msgs.ServiceAvailabilityChanged(service, True))
                return None
            case msgs.GetStats():
                merged: dict[str, float] = {
                    f"broker.{name}": value
                    for name, value in self._core.stats().items()
                }
                return merged
            case _Stop():
                self._running = False
                return None
            case _:
                raise ValueError(f"unknown edge command {type(command).__name__}")

    def _apply(
        self, outputs: list[broker.BrokerOutput], router: zmq.Socket[bytes]
    ) -> None:
        send_type = broker.Send
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
            else:
                self._report(out)

    def _deliver_local(self, peer: bytes, frames: list[bytes]) -> None:
        owner = peer.partition(msgs.ROUTE_SEPARATOR)[0]  # `name/sub` goes to `name`
        ref = self._local.get(owner)
        if ref is None:
            self._stats.incr("edge.local_unroutable")
            return
        try:
            ref.tell(msgs.MdpFrames(tuple(frames), peer))
        except pykka.ActorDeadError:
            self._stats.incr("edge.local_dead")
            self._local.pop(owner, None)

    def _report(self, out: broker.BrokerOutput) -> None:
        match out:
            case broker.Rejected(peer=peer, reason=reason, detail=detail, frames=count):
                if self._log_limiter.should_log(
                    (peer, reason), self._clock.monotonic()
                ):
                    log.warning(
                        "frame_rejected",
                        peer=peer.hex(),
                        reason=reason,
                        detail=detail,
                        frames=count,
                    )
            case broker.WorkerRegistered(service=service, worker=worker, version=ver):
                # in-process workers come and go with their actors: debug only
                emit = log.debug if worker[:1] == broker.LOCAL_PREFIX else log.info
                emit(
                    "worker_registered",
                    service=service.decode("ascii", "backslashreplace"),
                    worker=worker.hex(),
                    version=str(ver),
                )
            case broker.WorkerRemoved(service=service, worker=worker, reason=reason):
                emit = log.debug if worker[:1] == broker.LOCAL_PREFIX else log.info
                emit(
                    "worker_removed",
                    service=service.decode("ascii", "backslashreplace"),
                    worker=worker.hex(),
                    reason=reason,
                )
            case broker.RequestDropped(service=service, client=client, reason=reason):
                if self._log_limiter.should_log(
                    (service, reason), self._clock.monotonic()
                ):
                    log.warning(
                        "request_dropped",
                        service=service.decode("ascii", "backslashreplace"),
                        client=client.hex(),
                        reason=reason,
                    )
            case broker.ServiceAvailability(service=service, available=available):
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
            case _:
                log.warning("unexpected_broker_output", kind=type(out).__name__)


class EdgeActor(pykka.ThreadingActor):
    """Starts and stops the I/O thread; answers control asks."""

    def __init__(
        self,
        context: zmq.Context[zmq.Socket[bytes]],
        settings: EdgeSettings,
        core: broker.BrokerCore,
        clock: Clock,
        stats: Stats,
    ) -> None:
        super().__init__()
        self._context = context
        self._loop = EdgeLoop(context, settings, core, clock, stats)
        self._thread = threading.Thread(
            target=self._loop.run, name="raspy-edge-io", daemon=True
        )
        self._wake: zmq.Socket[bytes] | None = None
        self.outbox = Outbox(context, self._loop.outbox_endpoint)

    def on_start(self) -> None:
        self._thread.start()
        if not self._loop.bound.wait(timeout=10) or self._loop.failure is not None:
            raise RuntimeError(f"edge did not bind: {self._loop.failure}")
        wake = self._context.socket(zmq.PAIR)
        wake.setsockopt(zmq.LINGER, 0)
        wake.connect(self._loop.wake_endpoint)
        self._wake = wake

    def on_stop(self) -> None:
        if self._wake is not None and self._thread.is_alive():
            self._loop.submit(_Stop(), self._wake).result(timeout=5)
        self._thread.join(timeout=5)
        if self._wake is not None:
            self._wake.close(linger=0)
        self.outbox.close_all()

    def on_receive(self, message: Any) -> Any:
        match message:
            case msgs.GetOutboxEndpoint():
                return self._loop.outbox_endpoint
            case (
                msgs.AttachLocal()
                | msgs.DetachLocal()
                | msgs.WatchServices()
                | (msgs.GetStats())
            ):
                assert self._wake is not None
                return self._loop.submit(message, self._wake).result(timeout=5)
            case _:
                log.warning("unexpected_message", kind=type(message).__name__)
                return None

    @property
    def endpoint(self) -> str:
        return self._loop.bound_endpoint

    @property
    def io_alive(self) -> bool:
        """Whether the I/O thread still runs (the supervisor's liveness check)."""
        return self._thread.is_alive()


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
