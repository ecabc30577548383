"""The Clone server's socket owner, on one I/O Runner: the CHP sockets and CloneCore.

Snapshot ROUTER (N+1), publisher XPUB (N+2), collector SUB (N+3) and an inproc PULL for
in-process publishes all belong to this thread (docs/protocols.md §6). An update is stored
with group commit before it is published, and publications go out in sequence order.
No business logic here: CloneCore decides, this moves bytes and records.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Final

import structlog
import zmq

from raspy.actors import messages as msgs
from raspy.actors.clone.commit import CommitPipeline, load_state
from raspy.actors.clone.publisher import (
    BATCH_CHANNEL,
    PUBLISH_CHANNEL,
    SubscriberQueueLimit,
    Subscribers,
    release_freed_memory,
    unpack_batch,
)
from raspy.actors.clone.snapshot import SnapshotStreamer
from raspy.clock import Clock
from raspy.config import CloneConfig, LimitsConfig
from raspy.cores import clone as core_mod
from raspy.errors import MalformedMessage
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
_BLOCKED_RETRY_S: Final = 0.002
_TRIM_GAP_S: Final = 10.0  # heap handed back at most this often after subscribers left
_COLLECTOR_HWM: Final = 20_000
_MAX_MESSAGE_BYTES: Final = 4 * 1024 * 1024
_MIN_HUGZ_GAP_S: Final = 0.01  # a subscription's early HUGZ: at most 100 a second
STOP_FLUSH_S: Final = 5.0


class Stop:
    """End the loop (after publishing what is still being committed)."""


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
        self._context = context
        self._store = store
        self._config = config
        self._endpoints = endpoints
        self._clock = clock
        self._stats = stats
        self._linger_ms = linger_ms
        self._curve = curve  # server keys for the bound TCP sockets (§8.2)
        self._limits = limits or LimitsConfig()
        wear = store.config  # issue 17: which subtrees are coalesced, and how often
        coalesced = wear.coalesced_prefixes if wear.coalesce_interval_s > 0 else ()
        self._core = core_mod.CloneCore(
            max_key_bytes=config.max_key_bytes,
            max_value_bytes=config.max_value_bytes,
            coalesced_prefixes=[p.encode() for p in coalesced],
        )
        self.runner = Runner(
            "clone",
            self,
            monotonic=clock.monotonic,
            stats=stats,
            max_poll_s=_MAX_POLL_S,
            on_failure=on_failure,
        )
        self._commits = CommitPipeline(
            store,
            self._core,
            stats,
            self.runner.wakeup,
            coalesce_interval_s=wear.coalesce_interval_s,
            seq_block=wear.seq_block,
        )
        self._subscribers = Subscribers()
        self._limiter = LogRateLimiter()
        self._snapshots = SnapshotStreamer(
            store,
            config.snapshot_chunk,
            stats,
            clock,
            self._limiter,
            self._commits,
            max_s=self._limits.snapshot_max_s,
        )
        self._sockets: list[Socket] = []
        self._router: Socket | None = None
        self._pub: Socket | None = None
        self._queue_limit = SubscriberQueueLimit(
            self._limits.clone_subscriber_queue_bytes, time.monotonic()
        )
        self._trim_at: float | None = None  # when freed memory is next handed back
        self._pollout = False
        self._next_hugz = 0.0
        self._last_hugz = -math.inf
        self._busy = False  # a drain stopped at its batch size in this turn
        self._poll_now = False  # ... so the next poll does not wait

    # --- called from other threads ----------------------------------------------------
    def call(self, command: object) -> Future[object]:
        """Run a control command on the I/O thread; the future holds its answer."""
        return self.runner.call(command)

    @property
    def bound(self) -> threading.Event:
        return self.runner.started

    @property
    def failure(self) -> BaseException | None:
        return self.runner.failure

    # --- the runner's thread ----------------------------------------------------------
    def _socket(
        self, kind: int, *, curve: CurveKeys | None = None, **options: int
    ) -> Socket:
        sock = make_socket(self._context, kind, linger_ms=self._linger_ms, curve=curve)
        self._sockets.append(sock)
        for name, value in options.items():
            sock.setsockopt(getattr(zmq, name), value)
        return sock

    def open(self, runner: Runner) -> None:
        # §1.3: with ROUTER_MANDATORY a peer at its HWM gives EAGAIN, not a silent drop
        hwm = 2 * max(1, self._config.snapshot_chunk)
        curve = self._curve  # TCP sockets only; the inproc PULL never uses CURVE
        router = self._socket(
            zmq.ROUTER,
            curve=curve,
            ROUTER_MANDATORY=1,
            SNDHWM=hwm,
            MAXMSGSIZE=_MAX_MESSAGE_BYTES,
        )
        # XPUB: a new subscriber's subscription shows, and gets a HUGZ at once; a
        # queue bounded in bytes (clone_publisher: SubscriberQueueLimit) and a leave
        # shows too (VERBOSER)
        # libzmq gives a new connection the SNDHWM the socket had when it was bound:
        # the one for the largest message here, until its subscription shows (below)
        pub = self._socket(
            zmq.XPUB,
            curve=curve,
            SNDHWM=self._queue_limit.hwm_for_largest(
                self._config.max_key_bytes + self._config.max_value_bytes
            ),
            XPUB_VERBOSER=1,
            XPUB_NODROP=1,
            MAXMSGSIZE=_MAX_MESSAGE_BYTES,  # issue 18: subscriptions are small
        )
        collector = self._socket(
            zmq.SUB, curve=curve, RCVHWM=_COLLECTOR_HWM, MAXMSGSIZE=_MAX_MESSAGE_BYTES
        )
        collector.setsockopt(zmq.SUBSCRIBE, b"")  # §6.1: subscribed to everything
        local = self._socket(zmq.PULL, RCVHWM=0)
        local.setsockopt(zmq.LINGER, 0)
        local.bind(self.publish_endpoint)
        self._load()
        router.bind(self._endpoints.snapshot)
        pub.bind(self._endpoints.publisher)
        collector.bind(self._endpoints.collector)
        self._router, self._pub = router, pub
        self.bound_endpoints = clone.Endpoints(
            *(s.getsockopt_string(zmq.LAST_ENDPOINT) for s in (router, pub, collector))
        )
        log.info(
            "clone_bound",
            snapshot=self.bound_endpoints.snapshot,
            publisher=self.bound_endpoints.publisher,
            collector=self.bound_endpoints.collector,
            seq=self._core.last_seq,
        )
        runner.register(router, self._on_router)
        runner.register(pub, self._on_subscriptions)
        runner.register(collector, lambda _: self._drain_kvsets(collector, "collector"))
        runner.register(local, lambda _: self._drain_kvsets(local, "local"))

    def _load(self) -> None:
        """Restore the sequence and the ephemeral keys (§6.6: fresh full ttl)."""
        last_seq, ephemeral = load_state(self._store, self._stats)
        self._core.load(last_seq, ephemeral, self._clock.monotonic())
        self._commits.loaded(self._core.last_seq)
        self._stats.gauge("clone.last_seq", last_seq)
        self._stats.gauge("clone.ephemeral_keys", self._core.ephemeral_count)

    def next_deadline(self) -> float | None:
        now = self._clock.monotonic()
        if self._poll_now or self._snapshots.runnable:
            return now
        # HUGZ is paced by the real monotonic clock, the rest by the core's clock
        deadline = now + (self._next_hugz - time.monotonic())
        core_deadline = self._core.next_deadline()
        if core_deadline is not None:
            deadline = min(deadline, core_deadline)
        if self._snapshots.active and not self._snapshots.want_pollout:
            deadline = min(deadline, now + _BLOCKED_RETRY_S)
        return deadline

    def on_turn(self, now: float) -> None:
        router, pub = self._router, self._pub
        assert router is not None
        assert pub is not None
        if not self._pollout:
            self._snapshots.unblock()
        deadline = self._core.next_deadline()
        if deadline is not None and deadline <= now:
            self._take(self._core.on_tick(now), "ttl")
        if time.monotonic() >= self._next_hugz:
            # §6.5 raspy: every interval regardless of traffic. Paced by the real
            # monotonic clock: HUGZ feeds the peers' real timers, not ttl logic.
            self._send_pub(pub, self._core.hugz_frames())
            self._last_hugz = time.monotonic()
            self._next_hugz = self._last_hugz + self._config.hugz_interval_s
        self._commits.submit()
        self._commits.tick(now)
        self._publish_committed(pub)
        if self._trim_at is not None and time.monotonic() >= self._trim_at:
            self._trim_at = None
            release_freed_memory()
        self._snapshots.advance(router)
        self._poll_now, self._busy = self._busy, False
        pollout = self._snapshots.want_pollout
        if pollout != self._pollout:
            self._pollout = pollout
            self.runner.modify(router, zmq.POLLIN | (zmq.POLLOUT if pollout else 0))

    def close(self) -> None:
        try:
            if self._pub is not None and self.runner.failure is None:
                self._flush_on_stop(self._pub)
        finally:
            self._snapshots.close()
            for sock in self._sockets:
                sock.close()

    # --- input ------------------------------------------------------------------------
    def _on_router(self, events: int) -> None:
        router = self._router
        assert router is not None
        if events & zmq.POLLIN:
            self._drain_snapshot_requests(router)
        if events & zmq.POLLOUT:
            self._snapshots.unblock()

    def _on_subscriptions(self, _events: int) -> None:
        """§6.3 raspy: a client waits for a HUGZ to know its subscription is live.
        Send one as soon as a subscription arrives instead of within the next
        interval (at most one per _MIN_HUGZ_GAP_S, however many subscribe)."""
        pub = self._pub
        assert pub is not None
        subscribed = left = False
        for _ in range(_DRAIN_BATCH):
            try:
                frames = recv_frames(pub)
            except zmq.Again:
                break
            subscribed = subscribed or frames[0][:1] == b"\x01"
            left = left or frames[0][:1] == b"\x00"
        if left and self._trim_at is None:  # its queue was freed: hand the heap back
            self._trim_at = time.monotonic() + _TRIM_GAP_S
        if subscribed:  # libzmq applies a set SNDHWM to every connection it has
            pub.setsockopt(zmq.SNDHWM, self._queue_limit.hwm)
            soonest = max(time.monotonic(), self._last_hugz + _MIN_HUGZ_GAP_S)
            self._next_hugz = min(self._next_hugz, soonest)

    def _drain_kvsets(self, sock: Socket, peer: str) -> None:
        core = self._core
        now = self._clock.monotonic()
        for _ in range(_DRAIN_BATCH):
            try:
                frames = recv_frames(sock)
            except zmq.Again:
                return
            if peer == "local":
                self._take(self._local_message(frames, now), peer)
            else:
                self._take(core.on_kvset(frames, now), peer)
        self._busy = True

    def _local_message(
        self, frames: list[bytes], now: float
    ) -> list[core_mod.CloneOutput]:
        """A ClonePublisher message: one KVSET, or a batch of plain sets."""
        channel = frames[0]
        if channel == PUBLISH_CHANNEL:
            return self._core.on_kvset(frames[1:], now)
        if channel == BATCH_CHANNEL and len(frames) == 2:
            try:
                entries = unpack_batch(frames[1])
            except MalformedMessage as exc:
                return [core_mod.Rejected(exc.reason, exc.detail)]
            return self._core.on_local_batch(entries, now)
        return [core_mod.Rejected("bad_channel", "")]

    def _drain_snapshot_requests(self, router: zmq.Socket[bytes]) -> None:
        for _ in range(_DRAIN_BATCH):
            try:
                frames = recv_frames(router)
            except zmq.Again:
                return
            routing_id = frames[0]
            for out in self._core.on_icanhaz(frames[1:]):
                if isinstance(out, core_mod.SnapshotRequested):
                    if not self._snapshots.request(routing_id, out.subtree):
                        rejected = core_mod.Rejected("snapshot_queue_full", "")
                        self._reject(routing_id.hex(), rejected)
                else:
                    self._take([out], routing_id.hex())
        self._busy = True

    def _take(self, outputs: list[core_mod.CloneOutput], peer: str) -> None:
        for out in outputs:
            if isinstance(out, core_mod.Accept):
                self._commits.accept(out.update, coalesced=out.coalesced)
            elif isinstance(out, core_mod.Rejected):
                self._reject(peer, out)

    def _reject(self, peer: str, out: core_mod.Rejected) -> None:
        """Counted every time, logged once per (peer, reason) a minute (docs/style.md §5)."""
        if out.reason == "duplicate_uuid":
            self._stats.incr("clone.duplicates")  # a resend (§6.4): expected, not bad
            return
        self._stats.incr(f"clone.rejected.{out.reason}")
        if self._limiter.should_log((peer, out.reason), self._clock.monotonic()):
            log.warning(
                "clone_input_rejected", peer=peer, reason=out.reason, detail=out.detail
            )

    # --- durable, then published ------------------------------------------------------
    def _publish_committed(self, pub: Socket) -> None:
        for update in self._commits.released():
            self._send_pub(pub, update.kvpub())
            self._subscribers.notify(update)
        self._stats.gauge("clone.ephemeral_keys", self._core.ephemeral_count)

    def _send_pub(self, pub: Socket, frames: list[bytes]) -> None:
        """Send to every subscriber with room (never blocks, §1.3); a subscriber whose
        queue just reached its byte budget misses it and is counted and logged."""
        hwm = self._queue_limit.on_message(sum(map(len, frames)), time.monotonic())
        if hwm is not None:
            pub.setsockopt(zmq.SNDHWM, hwm)  # libzmq applies it to every pipe
            self._stats.gauge("clone.publisher.hwm", hwm)
        try:
            send_frames(pub, frames)
        except zmq.Again:  # XPUB_NODROP: some subscriber's queue is full
            self._stats.incr("clone.subscribers.cut_off")
            if self._limiter.should_log(("publisher", "cut_off"), time.monotonic()):
                log.warning(
                    "clone_subscriber_cut_off",
                    reason="queue_full",
                    limit_bytes=self._limits.clone_subscriber_queue_bytes,
                    hwm=self._queue_limit.hwm,
                )
            pub.setsockopt(zmq.XPUB_NODROP, 0)
            try:
                send_frames(pub, frames)  # the others get it; the full one misses it
            finally:
                pub.setsockopt(zmq.XPUB_NODROP, 1)

    def _flush_on_stop(self, pub: Socket) -> None:
        """Publish what is still committing, so acknowledged data is not left unsaid,
        and write the coalesced values (issue 17: nothing is lost at a clean stop)."""
        self._commits.submit()
        self._commits.flush()
        deadline = time.monotonic() + STOP_FLUSH_S
        wake = self.runner.wakeup
        poller = zmq.Poller()
        poller.register(wake.read_fd, zmq.POLLIN)
        while self._commits.in_flight and time.monotonic() < deadline:
            poller.poll(100)
            wake.drain()
            self._publish_committed(pub)
            self._commits.flush()  # what came in while the last flush was stored

    # --- control ----------------------------------------------------------------------
    def execute(self, command: object) -> object:
        match command:
            case msgs.CloneSubscribe(prefix=prefix, ref=ref):
                self._subscribers.add(prefix, ref)
                return None
            case msgs.CloneUnsubscribe(ref=ref):
                self._subscribers.remove(ref)
                return None
            case msgs.Tick():
                return None
            case msgs.GetStats():
                return {
                    "clone.last_seq": self._core.last_seq,
                    "clone.ephemeral_keys": self._core.ephemeral_count,
                    "clone.snapshots.active": self._snapshots.active,
                    "clone.snapshots.waiting": self._snapshots.waiting,
                }
            case Stop():
                self.runner.request_stop()
                return None
            case _:
                raise UnknownCommand("clone", command)
