"""The Clone server's socket owner on one I/O Runner (docs/protocols.md §6).

Snapshot ROUTER (N+1), publisher XPUB (N+2), collector SUB (N+3) and an inproc PULL for
in-process publishes belong to this thread. It only moves bytes: CloneCore decides on
input, ClonePacing on timers and flow, CommitPipeline stores before it releases.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

import structlog
import zmq

from raspy.actors import messages as msgs
from raspy.actors.clone.commit import CommitPipeline
from raspy.actors.clone.publisher import Subscribers, release_freed_memory
from raspy.actors.clone.snapshot import SnapshotStreamer
from raspy.clock import Clock
from raspy.config import CloneConfig, LimitsConfig
from raspy.cores import clone as core_mod
from raspy.cores.clone_pacing import ClonePacing
from raspy.protocol import clone
from raspy.ratelimit import LogRateLimiter
from raspy.stats import Stats
from raspy.storage.store import Store
from raspy.transport.multipart import recv_frames, send_frames
from raspy.transport.runner import Runner, UnknownCommand
from raspy.transport.sockets import CurveKeys, Socket, make_socket

log = structlog.get_logger(component="clone")

_DRAIN_BATCH: Final = 1000  # messages read from one socket per loop turn
_MAX_POLL_S: Final = 0.25  # also bounds how late a test's FakeClock.advance() is seen
_COLLECTOR_HWM: Final = 20_000
_MAX_MESSAGE_BYTES: Final = 4 * 1024 * 1024  # issue 18: also bounds subscriptions
STOP_FLUSH_S: Final = 5.0
_QUEUE_FULL: Final = core_mod.Rejected("snapshot_queue_full", "")

Outputs = list[core_mod.CloneOutput]


class CloneLoop:
    """The Runner owner of the CHP sockets. Only the runner's thread touches them."""

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
        on_failure: Callable[[BaseException], None] | None = None,
        curve: CurveKeys | None = None,
        limits: LimitsConfig | None = None,
    ) -> None:
        self.publish_endpoint = f"inproc://raspy-clone-publish-{id(self):x}"
        self.bound_endpoints = endpoints
        self._context, self._config, self._endpoints = context, config, endpoints
        self._clock, self._stats, self._linger_ms = clock, stats, linger_ms
        self._curve = curve  # server keys for the bound TCP sockets (§8.2)
        self._limits = limits = limits or LimitsConfig()
        wear = store.config  # issue 17: which subtrees are coalesced
        coalesced = wear.coalesced_prefixes if wear.coalesce_interval_s > 0 else ()
        self._core = core_mod.CloneCore(
            max_key_bytes=config.max_key_bytes,
            max_value_bytes=config.max_value_bytes,
            coalesced_prefixes=[prefix.encode() for prefix in coalesced],
        )
        self.runner = Runner(
            "clone",
            self,
            monotonic=clock.monotonic,
            stats=stats,
            max_poll_s=_MAX_POLL_S,
            on_failure=on_failure,
        )
        self._commits = CommitPipeline(store, self._core, stats, self.runner.wakeup)
        self._limiter = LogRateLimiter()  # shared: one log line per (peer, reason)
        self._snapshots = SnapshotStreamer(
            store,
            config.snapshot_chunk,
            stats,
            clock,
            self._limiter,
            self._commits,
            max_s=limits.snapshot_max_s,
        )
        self._pacing = ClonePacing(
            config.hugz_interval_s,
            limits.clone_subscriber_queue_bytes,
            time.monotonic(),
        )
        self._subscribers = Subscribers()
        self._sockets: list[Socket] = []  # PULL, ROUTER, XPUB, SUB
        self._pollout = False

    # --- the Runner's owner -----------------------------------------------------------
    def open(self, runner: Runner) -> None:
        config, endpoints, core = self._config, self._endpoints, self._core
        local = self._socket(zmq.PULL, self.publish_endpoint, RCVHWM=0, LINGER=0)
        last_seq = self._commits.load(self._clock.monotonic())  # before any TCP bind
        # §1.3: with ROUTER_MANDATORY a peer at its HWM gives EAGAIN, not a silent drop
        self._router = self._socket(
            zmq.ROUTER,
            endpoints.snapshot,
            ROUTER_MANDATORY=1,
            SNDHWM=2 * max(1, config.snapshot_chunk),
            MAXMSGSIZE=_MAX_MESSAGE_BYTES,
        )
        # XPUB_VERBOSER: subscriptions and leaves show; libzmq gives a new connection the
        # SNDHWM of bind time, so the one for the largest message (issue 18)
        largest = config.max_key_bytes + config.max_value_bytes
        self._pub = self._socket(
            zmq.XPUB,
            endpoints.publisher,
            SNDHWM=self._pacing.queue_limit.hwm_for_largest(largest),
            XPUB_VERBOSER=1,
            XPUB_NODROP=1,
            MAXMSGSIZE=_MAX_MESSAGE_BYTES,
        )
        collector = self._socket(
            zmq.SUB,
            endpoints.collector,
            RCVHWM=_COLLECTOR_HWM,
            MAXMSGSIZE=_MAX_MESSAGE_BYTES,
            SUBSCRIBE=b"",  # §6.1: subscribed to everything
        )
        self._reader(local, "local", core.on_local)
        self._reader(collector, "collector", core.on_kvset)
        runner.register(self._router, self._on_router)
        runner.register(self._pub, self._on_notices)
        bound = [s.getsockopt_string(zmq.LAST_ENDPOINT) for s in self._sockets[1:]]
        self.bound_endpoints = clone.Endpoints(*bound)
        log.info(
            "clone_bound",
            snapshot=bound[0],
            publisher=bound[1],
            collector=bound[2],
            seq=last_seq,
        )

    def next_deadline(self) -> float | None:
        snapshots = self._snapshots
        return self._pacing.next_deadline(
            self._clock.monotonic(),
            time.monotonic(),
            ttl_deadline=self._core.next_deadline(),
            sending=snapshots.runnable,
            retry_blocked=snapshots.retry_on_timer,
        )

    def on_turn(self, now: float) -> None:
        if not self._pollout:
            self._snapshots.unblock()
        deadline = self._core.next_deadline()
        if deadline is not None and deadline <= now:
            self._apply(self._core.on_tick(now), "ttl")
        due = self._pacing.on_turn(time.monotonic())
        if due.hugz:
            self._send_pub(self._core.hugz_frames())
        self._commits.submit()
        self._commits.tick(now)
        self._publish_committed()
        if due.trim:
            release_freed_memory()
        self._snapshots.advance(self._router)
        if self._snapshots.want_pollout != self._pollout:
            self._pollout = not self._pollout
            events = zmq.POLLIN | (zmq.POLLOUT if self._pollout else 0)
            self.runner.modify(self._router, events)

    def execute(self, command: object) -> object:
        match command:
            case msgs.CloneSubscribe(prefix=prefix, ref=ref):
                self._subscribers.add(prefix, ref)
            case msgs.CloneUnsubscribe(ref=ref):
                self._subscribers.remove(ref)
            case msgs.GetStats():
                return {
                    "clone.last_seq": self._core.last_seq,
                    "clone.ephemeral_keys": self._core.ephemeral_count,
                    **self._snapshots.stats(),
                }
            case msgs.Tick():
                pass
            case _:
                raise UnknownCommand("clone", command)
        return None

    def close(self) -> None:
        try:
            if self.runner.failure is None:  # opened: publish what is still stored
                self._commits.finish(self._publish_committed, STOP_FLUSH_S)
        finally:
            self._snapshots.close()
            for sock in self._sockets:
                sock.close()

    # --- sockets ----------------------------------------------------------------------
    def _socket(self, kind: int, endpoint: str, **options: int | bytes) -> Socket:
        curve = None if endpoint.startswith("inproc:") else self._curve  # §8.2: TCP
        sock = make_socket(self._context, kind, linger_ms=self._linger_ms, curve=curve)
        self._sockets.append(sock)
        for name, value in options.items():
            sock.setsockopt(getattr(zmq, name), value)
        sock.bind(endpoint)
        return sock

    def _reader(self, sock: Socket, peer: str, step: Callable[..., Outputs]) -> None:
        def take(frames: list[bytes], now: float) -> None:
            self._apply(step(frames, now), peer)

        self.runner.register(sock, lambda _: self._drain(sock, take))

    def _drain(self, sock: Socket, step: Callable[[list[bytes], float], None]) -> None:
        """Up to _DRAIN_BATCH messages a turn; then the next poll does not wait."""
        now = self._clock.monotonic()
        for _ in range(_DRAIN_BATCH):
            try:
                frames = recv_frames(sock)
            except zmq.Again:
                return
            step(frames, now)
        self._pacing.drained_full()

    def _on_router(self, events: int) -> None:
        if events & zmq.POLLIN:
            self._drain(self._router, self._on_icanhaz)
        if events & zmq.POLLOUT:  # some snapshot peer has room again
            self._snapshots.unblock()

    def _on_icanhaz(self, frames: list[bytes], _now: float) -> None:
        self._apply(self._core.on_icanhaz(frames[1:]), frames[0].hex(), frames[0])

    def _on_notices(self, _events: int) -> None:
        notices = []
        for _ in range(_DRAIN_BATCH):
            try:
                notices.append(recv_frames(self._pub)[0])
            except zmq.Again:
                break
        hwm = self._pacing.on_notices(notices, time.monotonic())
        if hwm is not None:  # libzmq applies a set SNDHWM to every connection
            self._pub.setsockopt(zmq.SNDHWM, hwm)

    def _apply(self, outputs: Outputs, peer: str, routing_id: bytes = b"") -> None:
        for out in outputs:
            if isinstance(out, core_mod.Accept):
                self._commits.accept(out.update, coalesced=out.coalesced)
            elif isinstance(out, core_mod.SnapshotRequested):
                if not self._snapshots.request(routing_id, out.subtree):
                    self._rejected(peer, _QUEUE_FULL)
            else:
                self._rejected(peer, out)

    def _rejected(self, peer: str, out: core_mod.Rejected) -> None:
        """Counted every time, logged once per (peer, reason) a minute (docs/style.md §5)."""
        self._stats.incr(out.counter)
        now = self._clock.monotonic()
        if out.worth_logging and self._limiter.should_log((peer, out.reason), now):
            log.warning(
                "clone_input_rejected", peer=peer, reason=out.reason, detail=out.detail
            )

    def _publish_committed(self) -> None:
        for update in self._commits.released():
            self._send_pub(update.kvpub())
            self._subscribers.notify(update)
        self._stats.gauge("clone.ephemeral_keys", self._core.ephemeral_count)

    def _send_pub(self, frames: list[bytes]) -> None:
        """Send to every subscriber with room (never blocks, §1.3); a subscriber whose
        queue just reached its byte budget misses it and is counted and logged."""
        pub, now = self._pub, time.monotonic()
        hwm = self._pacing.before_send(sum(map(len, frames)), now)
        if hwm is not None:
            pub.setsockopt(zmq.SNDHWM, hwm)  # libzmq applies it to every pipe
            self._stats.gauge("clone.publisher.hwm", hwm)
        try:
            send_frames(pub, frames)
        except zmq.Again:  # XPUB_NODROP: some subscriber's queue is full
            self._stats.incr("clone.subscribers.cut_off")
            if self._pacing.cut_off(now):
                log.warning(
                    "clone_subscriber_cut_off",
                    reason="queue_full",
                    limit_bytes=self._limits.clone_subscriber_queue_bytes,
                    hwm=self._pacing.queue_limit.hwm,
                )
            pub.setsockopt(zmq.XPUB_NODROP, 0)
            try:
                send_frames(pub, frames)  # the others get it; the full one misses it
            finally:
                pub.setsockopt(zmq.XPUB_NODROP, 1)
