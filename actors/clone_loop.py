"""The Clone server's I/O thread: it owns the CHP sockets and drives CloneCore.

Snapshot ROUTER (N+1), publisher PUB (N+2), collector SUB (N+3) and an inproc PULL for
in-process publishes all belong to this thread (protocols.md §6). An update is stored
with group commit before it is published, and publications go out in sequence order.
No business logic here: CloneCore decides, this moves bytes and records.
"""

from __future__ import annotations

import math
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Final

import structlog
import zmq

from raspy.actors import messages as msgs
from raspy.actors.clone_commit import CommitPipeline, load_state
from raspy.actors.clone_publisher import (
    BATCH_CHANNEL,
    PUBLISH_CHANNEL,
    Subscribers,
    unpack_batch,
)
from raspy.actors.clone_snapshot import SnapshotStreamer
from raspy.clock import Clock
from raspy.config import CloneConfig
from raspy.cores import clone as core_mod
from raspy.errors import MalformedMessage
from raspy.protocol import clone
from raspy.ratelimit import LogRateLimiter
from raspy.stats import Stats
from raspy.storage.store import Store
from raspy.transport.multipart import recv_frames, send_frames
from raspy.transport.sockets import CurveKeys, make_socket
from raspy.transport.wakeup import Wakeup

log = structlog.get_logger(component="clone")

_DRAIN_BATCH: Final = 1000  # messages read from one socket per loop turn
_MAX_POLL_S: Final = 0.25  # also bounds how late a test's FakeClock.advance() is seen
_BLOCKED_RETRY_S: Final = 0.002
_PUB_HWM: Final = 100_000
_COLLECTOR_HWM: Final = 20_000
_MAX_MESSAGE_BYTES: Final = 4 * 1024 * 1024
STOP_FLUSH_S: Final = 5.0


@dataclass(frozen=True, slots=True)
class _Command:
    command: object
    result: Future[object]


class Stop:
    """End the loop (after publishing what is still being committed)."""


class CloneLoop:
    """The I/O thread's body. Only run() touches the sockets it creates."""

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
    ) -> None:
        self.publish_endpoint = f"inproc://raspy-clone-publish-{id(self):x}"
        self.bound = threading.Event()
        self.bound_endpoints = endpoints
        self.failure: BaseException | None = None
        self._context = context
        self._store = store
        self._config = config
        self._endpoints = endpoints
        self._clock = clock
        self._stats = stats
        self._linger_ms = linger_ms
        self._on_failure = on_failure
        self._curve = curve  # server keys for the bound TCP sockets (§8.2)
        wear = store.config  # issue 17: which subtrees are coalesced, and how often
        coalesced = wear.coalesced_prefixes if wear.coalesce_interval_s > 0 else ()
        self._core = core_mod.CloneCore(
            max_key_bytes=config.max_key_bytes,
            max_value_bytes=config.max_value_bytes,
            coalesced_prefixes=[p.encode() for p in coalesced],
        )
        self._wake = Wakeup()
        self._commands: queue.SimpleQueue[_Command] = queue.SimpleQueue()
        self._commits = CommitPipeline(
            store,
            self._core,
            stats,
            self._wake,
            coalesce_interval_s=wear.coalesce_interval_s,
            seq_block=wear.seq_block,
        )
        self._subscribers = Subscribers()
        self._limiter = LogRateLimiter()
        self._snapshots = SnapshotStreamer(
            store, config.snapshot_chunk, stats, clock, self._limiter, self._commits
        )
        self._next_hugz = 0.0
        self._busy = False
        self._running = True

    # --- called from other threads ----------------------------------------------------
    def call(self, command: object) -> Future[object]:
        """Run a control command on the I/O thread; the future holds its answer."""
        result: Future[object] = Future()
        self._commands.put(_Command(command, result))
        self._wake.notify()
        return result

    # --- the I/O thread ---------------------------------------------------------------
    def run(self) -> None:
        try:
            self._run()
        except BaseException as exc:
            self.failure = exc
            self.bound.set()
            log.exception("clone_server_failed")
            if self._on_failure is not None:
                self._on_failure(exc)
        finally:
            self._snapshots.close()
            self._wake.close()

    def _socket(
        self, kind: int, *, curve: CurveKeys | None = None, **options: int
    ) -> zmq.Socket[bytes]:
        sock = make_socket(self._context, kind, linger_ms=self._linger_ms, curve=curve)
        for name, value in options.items():
            sock.setsockopt(getattr(zmq, name), value)
        return sock

    def _run(self) -> None:
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
        pub = self._socket(zmq.PUB, curve=curve, SNDHWM=_PUB_HWM)
        collector = self._socket(
            zmq.SUB, curve=curve, RCVHWM=_COLLECTOR_HWM, MAXMSGSIZE=_MAX_MESSAGE_BYTES
        )
        collector.setsockopt(zmq.SUBSCRIBE, b"")  # §6.1: subscribed to everything
        local = self._socket(zmq.PULL, RCVHWM=0)
        try:
            local.bind(self.publish_endpoint)
            self._load()
            router.bind(self._endpoints.snapshot)
            pub.bind(self._endpoints.publisher)
            collector.bind(self._endpoints.collector)
            self.bound_endpoints = clone.Endpoints(
                *(
                    s.getsockopt_string(zmq.LAST_ENDPOINT)
                    for s in (router, pub, collector)
                )
            )
            log.info(
                "clone_bound",
                snapshot=self.bound_endpoints.snapshot,
                publisher=self.bound_endpoints.publisher,
                collector=self.bound_endpoints.collector,
                seq=self._core.last_seq,
            )
            self.bound.set()
            self._loop(router, pub, collector, local)
            self._flush_on_stop(pub)
        finally:
            for sock in (router, pub, collector):
                sock.close(linger=self._linger_ms)
            local.close(linger=0)

    def _load(self) -> None:
        """Restore the sequence and the ephemeral keys (§6.6: fresh full ttl)."""
        last_seq, ephemeral = load_state(self._store, self._stats)
        self._core.load(last_seq, ephemeral, self._clock.monotonic())
        self._commits.loaded(self._core.last_seq)
        self._stats.gauge("clone.last_seq", last_seq)
        self._stats.gauge("clone.ephemeral_keys", self._core.ephemeral_count)

    def _loop(
        self,
        router: zmq.Socket[bytes],
        pub: zmq.Socket[bytes],
        collector: zmq.Socket[bytes],
        local: zmq.Socket[bytes],
    ) -> None:
        poller = zmq.Poller()
        poller.register(router, zmq.POLLIN)
        poller.register(collector, zmq.POLLIN)
        poller.register(local, zmq.POLLIN)
        poller.register(self._wake.read_fd, zmq.POLLIN)
        core = self._core
        snapshots = self._snapshots
        while self._running:
            pollout = snapshots.want_pollout
            poller.modify(router, zmq.POLLIN | (zmq.POLLOUT if pollout else 0))
            events = dict(poller.poll(self._poll_timeout_ms()))
            now = self._clock.monotonic()
            self._busy = False
            if collector in events:
                self._drain_kvsets(collector, "collector", now)
            if local in events:
                self._drain_kvsets(local, "local", now)
            if events.get(router, 0) & zmq.POLLIN:
                self._drain_snapshot_requests(router)
            if not pollout or events.get(router, 0) & zmq.POLLOUT:
                snapshots.unblock()
            if self._wake.read_fd in events:
                self._wake.drain()
                self._run_commands()
            deadline = core.next_deadline()
            if deadline is not None and deadline <= now:
                self._take(core.on_tick(now), "ttl")
            if time.monotonic() >= self._next_hugz:
                # §6.5 raspy: every interval regardless of traffic. Paced by the real
                # monotonic clock: HUGZ feeds the peers' real timers, not ttl logic.
                pub.send_multipart(core.hugz_frames())
                self._next_hugz = time.monotonic() + self._config.hugz_interval_s
            self._commits.submit()
            self._commits.tick(now)
            self._publish_committed(pub)
            snapshots.advance(router)

    def _poll_timeout_ms(self) -> int:
        if self._busy or self._snapshots.runnable:
            return 0
        wait_s = min(_MAX_POLL_S, self._next_hugz - time.monotonic())
        deadline = self._core.next_deadline()
        if deadline is not None:
            wait_s = min(wait_s, deadline - self._clock.monotonic())
        if self._snapshots.active and not self._snapshots.want_pollout:
            wait_s = min(wait_s, _BLOCKED_RETRY_S)
        return max(0, math.ceil(wait_s * 1000))

    # --- input ------------------------------------------------------------------------
    def _drain_kvsets(self, sock: zmq.Socket[bytes], peer: str, now: float) -> None:
        core = self._core
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
        """Counted every time, logged once per (peer, reason) a minute (STYLE.md §5)."""
        if out.reason == "duplicate_uuid":
            self._stats.incr("clone.duplicates")  # a resend (§6.4): expected, not bad
            return
        self._stats.incr(f"clone.rejected.{out.reason}")
        if self._limiter.should_log((peer, out.reason), self._clock.monotonic()):
            log.warning(
                "clone_input_rejected", peer=peer, reason=out.reason, detail=out.detail
            )

    # --- durable, then published ------------------------------------------------------
    def _publish_committed(self, pub: zmq.Socket[bytes]) -> None:
        for update in self._commits.released():
            send_frames(pub, update.kvpub())  # a PUB never blocks: it drops (§1.3)
            self._subscribers.notify(update)
        self._stats.gauge("clone.ephemeral_keys", self._core.ephemeral_count)

    def _flush_on_stop(self, pub: zmq.Socket[bytes]) -> None:
        """Publish what is still committing, so acknowledged data is not left unsaid,
        and write the coalesced values (issue 17: nothing is lost at a clean stop)."""
        self._commits.submit()
        self._commits.flush()
        deadline = time.monotonic() + STOP_FLUSH_S
        poller = zmq.Poller()
        poller.register(self._wake.read_fd, zmq.POLLIN)
        while self._commits.in_flight and time.monotonic() < deadline:
            poller.poll(100)
            self._wake.drain()
            self._publish_committed(pub)
            self._commits.flush()  # what came in while the last flush was stored

    # --- control ----------------------------------------------------------------------
    def _run_commands(self) -> None:
        while True:
            try:
                command = self._commands.get_nowait()
            except queue.Empty:
                return
            try:
                command.result.set_result(self._execute(command.command))
            except Exception as exc:  # answer the caller, keep the loop alive
                log.exception(
                    "clone_command_failed", command=type(command.command).__name__
                )
                command.result.set_exception(exc)

    def _execute(self, command: object) -> object:
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
                self._running = False
                return None
            case _:
                raise ValueError(f"unknown clone command {type(command).__name__}")
