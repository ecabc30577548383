"""The Clone client's agent: one thread owns its SUB, DEALER and XPUB (RFC 12/CHP).

Order of protocols.md §6.3: subscribe, wait for the first HUGZ (the subscription is
live), ICANHAZ? on a fresh DEALER, KVSYNCs until KTHXBAI while KVPUBs wait in a
pending buffer, then apply KVPUBs with seq > last. A whole-map client re-snapshots on
a sequence gap (§6.7); silence for server_ttl_s reconnects with fresh sockets (§6.5).
KVSETs go out once the collector is known to listen (XPUB, §1.6) and are resent with
the same UUID until seen on the publisher (§6.4).
"""

from __future__ import annotations

import math
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from enum import Enum
from typing import Final

import structlog
import zmq

from raspy.errors import ClientTimeout, MalformedMessage
from raspy.protocol import clone
from raspy.ratelimit import LogRateLimiter
from raspy.transport.multipart import recv_frames, send_frames
from raspy.transport.sockets import Context, CurveKeys, Socket, make_socket
from raspy.transport.wakeup import Wakeup

log = structlog.get_logger(component="clone_client")

_BATCH: Final = 1000  # messages read from one socket per turn
_MAX_WAIT_S: Final = 1.0
_MAX_PENDING_UPDATES: Final = 1_000_000  # buffered during a snapshot, then reconnect
_HWM: Final = 100_000


@dataclass(frozen=True, slots=True)
class Change:
    """A key's new value (empty body: deleted), from an update or a (re-)snapshot."""

    key: bytes
    seq: int
    body: bytes
    props: clone.Props
    from_snapshot: bool = False


@dataclass(frozen=True, slots=True)
class Entry:
    seq: int
    body: bytes
    props: clone.Props


@dataclass(frozen=True, slots=True)
class SetCommand:
    key: bytes
    uuid: bytes
    frames: list[bytes]
    result: Future[None]


class StopCommand:
    pass


class Phase(Enum):
    WAIT_HUGZ = "wait_hugz"
    SNAPSHOT = "snapshot"
    LIVE = "live"


@dataclass
class _PendingSet:
    command: SetCommand
    sent_at: float | None = None
    attempts: int = 0


class Agent:
    """The agent thread's state and loop; public attributes are read under `lock`."""

    def __init__(
        self,
        context: Context,
        endpoints: clone.Endpoints,
        subtree: bytes,
        *,
        server_ttl_s: float,
        resend_s: float,
        max_set_attempts: int,
        max_unconfirmed: int,
        emit: Callable[[list[Change]], None],
        curve: CurveKeys | None = None,
    ) -> None:
        self.lock = threading.Lock()
        self.cache: dict[bytes, Entry] = {}
        self.last_seq = 0
        self.live = False
        self.synced = threading.Event()
        self.counts: dict[str, int] = dict.fromkeys(
            (
                "snapshots",
                "gaps",
                "reconnects",
                "rejected",
                "resends",
                "set_failed",
                "set_dropped",
            ),
            0,
        )
        self.commands: queue.SimpleQueue[SetCommand | StopCommand] = queue.SimpleQueue()
        self.wake = Wakeup()
        self._context = context
        self._curve = curve  # client keys for a CURVE server (protocols.md §8.2)
        self._endpoints = endpoints
        self._subtree = subtree
        self._server_ttl_s = server_ttl_s
        self._resend_s = resend_s
        self._max_set_attempts = max_set_attempts
        self._max_unconfirmed = max_unconfirmed
        self._emit = emit
        self._limiter = LogRateLimiter()
        self._sub: Socket | None = None
        self._xpub: Socket | None = None
        self._dealer: Socket | None = None
        self._phase = Phase.WAIT_HUGZ
        self._heard_at = 0.0
        self._snapshot_at = 0.0
        self._snapshot: dict[bytes, Entry] = {}
        self._pending: list[clone.KvMsg] = []
        self._collector_listens = False
        self._sets: dict[bytes, _PendingSet] = {}
        self._stopping = False

    # --- loop -------------------------------------------------------------------------
    def run(self) -> None:
        try:
            self._connect(time.monotonic())
            while not self._stopping:
                self._turn()
        except Exception:  # the agent's edge: log it; callers see ClientTimeout
            log.exception("clone_client_failed")
        finally:
            self._close_sockets()
            for pending in self._sets.values():
                pending.command.result.set_exception(
                    ClientTimeout("clone client closed before the update was confirmed")
                )
            self._sets.clear()

    def _turn(self) -> None:
        poller = zmq.Poller()
        poller.register(self.wake.read_fd, zmq.POLLIN)
        for sock in (self._sub, self._xpub, self._dealer):
            if sock is not None:
                poller.register(sock, zmq.POLLIN)
        events = dict(poller.poll(self._wait_ms()))
        now = time.monotonic()
        if self.wake.read_fd in events:
            self.wake.drain()
            self._run_commands()
        if self._xpub is not None and self._xpub in events:
            self._read_collector_subscriptions(self._xpub)
        if self._dealer is not None and self._dealer in events:
            self._read_snapshot(self._dealer, now)
        if self._sub is not None and self._sub in events:
            self._read_updates(self._sub, now)
        self._check_liveness(now)
        self._send_sets(now)

    def _wait_ms(self) -> int:
        now = time.monotonic()
        deadline = min(now + _MAX_WAIT_S, self._heard_at + self._server_ttl_s)
        if self._phase is Phase.SNAPSHOT:
            deadline = min(deadline, self._snapshot_at + self._server_ttl_s)
        for pending in self._sets.values():
            if pending.sent_at is not None:
                deadline = min(deadline, pending.sent_at + self._resend_s)
        return max(0, math.ceil((deadline - now) * 1000))

    # --- connection (§6.3 steps 1-2) --------------------------------------------------
    def _connect(self, now: float) -> None:
        self._close_sockets()
        sub = make_socket(self._context, zmq.SUB, linger_ms=0, curve=self._curve)
        sub.setsockopt(zmq.RCVHWM, _HWM)
        if self._subtree:
            sub.setsockopt(zmq.SUBSCRIBE, self._subtree)
            sub.setsockopt(zmq.SUBSCRIBE, clone.HUGZ)
        else:
            sub.setsockopt(zmq.SUBSCRIBE, b"")  # covers HUGZ too
        sub.connect(self._endpoints.publisher)
        xpub = make_socket(self._context, zmq.XPUB, linger_ms=0, curve=self._curve)
        xpub.setsockopt(zmq.SNDHWM, _HWM)
        xpub.connect(self._endpoints.collector)
        self._sub, self._xpub = sub, xpub
        self._phase = Phase.WAIT_HUGZ
        self._heard_at = now
        self._pending = []
        self._collector_listens = False
        for pending in self._sets.values():
            pending.sent_at = None  # resend on the new connection, same UUID

    def _start_snapshot(self, now: float) -> None:
        """A fresh DEALER per snapshot: a late reply to an old one cannot mix in."""
        if self._dealer is not None:
            self._dealer.close(linger=0)
        dealer = make_socket(self._context, zmq.DEALER, linger_ms=0, curve=self._curve)
        dealer.connect(self._endpoints.snapshot)
        dealer.send_multipart(clone.encode_icanhaz(self._subtree))
        self._dealer = dealer
        self._phase = Phase.SNAPSHOT
        self._snapshot = {}
        self._snapshot_at = now
        self.counts["snapshots"] += 1

    def _reconnect(self, reason: str, now: float) -> None:
        self.counts["reconnects"] += 1
        log.info("clone_server_reconnected", reason=reason, seq=self.last_seq)
        with self.lock:
            self.live = False
        self._connect(now)

    def _check_liveness(self, now: float) -> None:
        if now - self._heard_at > self._server_ttl_s:
            self._reconnect("server_silent", now)  # §6.5: no KVPUB and no HUGZ
        elif (
            self._phase is Phase.SNAPSHOT
            and now - self._snapshot_at > self._server_ttl_s
        ):
            self._reconnect("snapshot_stalled", now)

    def _close_sockets(self) -> None:
        for sock in (self._sub, self._xpub, self._dealer):
            if sock is not None:
                sock.close(linger=0)
        self._sub = self._xpub = self._dealer = None

    # --- snapshot (§6.3 step 3) -------------------------------------------------------
    def _read_snapshot(self, dealer: Socket, now: float) -> None:
        for _ in range(_BATCH):
            try:
                frames = recv_frames(dealer)
            except zmq.Again:
                return
            self._snapshot_at = now
            msg = self._decode(frames, "snapshot")
            if msg is None:
                continue
            if msg.key == clone.KTHXBAI:
                self._finish_snapshot(msg.seq, now)
                return
            if msg.body:
                self._snapshot[msg.key] = Entry(msg.seq, msg.body, msg.props)
            else:
                self._snapshot.pop(msg.key, None)

    def _finish_snapshot(self, seq: int, now: float) -> None:
        snapshot, self._snapshot = self._snapshot, {}
        with self.lock:
            old = self.cache
            self.cache = snapshot
            self.last_seq = seq
            self.live = True
        if self._dealer is not None:
            self._dealer.close(linger=0)
            self._dealer = None
        self._phase = Phase.LIVE
        self._emit(_diff(old, snapshot, seq))
        pending, self._pending = self._pending, []
        for msg in pending:  # §6.3 step 4: only what the snapshot did not contain
            if self._phase is Phase.LIVE:
                self._apply(msg, now)
            else:
                self._pending.append(msg)
        self.synced.set()

    # --- updates (§6.3 step 4, §6.4) --------------------------------------------------
    def _read_updates(self, sub: Socket, now: float) -> None:
        for _ in range(_BATCH):
            try:
                frames = recv_frames(sub)
            except zmq.Again:
                return
            self._heard_at = now
            msg = self._decode(frames, "publisher")
            if msg is None:
                continue
            if msg.key == clone.HUGZ:  # §6.5: never an update, whatever its seq
                if self._phase is Phase.WAIT_HUGZ:
                    self._start_snapshot(now)  # the subscription is live now
                continue
            self._confirm(msg.uuid)
            if self._phase is Phase.SNAPSHOT:
                self._pending.append(msg)
                if len(self._pending) > _MAX_PENDING_UPDATES:
                    self._reconnect("pending_overflow", now)
                    return
            elif self._phase is Phase.LIVE:
                self._apply(msg, now)
            # WAIT_HUGZ: older than the snapshot still to be asked for: drop

    def _apply(self, msg: clone.KvMsg, now: float) -> None:
        if msg.seq <= self.last_seq:
            return  # the snapshot or an earlier KVPUB already had it
        if not self._subtree and msg.seq != self.last_seq + 1:
            # §6.7: only a whole-map client can tell a lost update from a filtered one
            self.counts["gaps"] += 1
            log.info("clone_gap_detected", seq=msg.seq, last=self.last_seq)
            with self.lock:
                self.live = False
            self._start_snapshot(now)
            self._pending = [msg]
            return
        entry = Entry(msg.seq, msg.body, msg.props)
        with self.lock:
            self.last_seq = msg.seq
            if msg.body:
                self.cache[msg.key] = entry
            else:
                self.cache.pop(msg.key, None)
        self._emit([Change(msg.key, msg.seq, msg.body, msg.props)])

    def _decode(self, frames: list[bytes], where: str) -> clone.KvMsg | None:
        try:
            return clone.decode_kvmsg(frames)
        except MalformedMessage as exc:
            self.counts["rejected"] += 1
            if self._limiter.should_log((where, exc.reason), time.monotonic()):
                log.warning("clone_message_rejected", peer=where, reason=exc.reason)
            return None

    # --- writes (§6.4) ----------------------------------------------------------------
    def _run_commands(self) -> None:
        while True:
            try:
                command = self.commands.get_nowait()
            except queue.Empty:
                return
            if isinstance(command, StopCommand):
                self._stopping = True
            else:
                self._sets[command.uuid] = _PendingSet(command)
                if len(self._sets) > self._max_unconfirmed:
                    self._drop_oldest_set()

    def _drop_oldest_set(self) -> None:
        """Memory stays bounded while the server is away: the oldest unconfirmed
        update fails (its waiter gets ClientTimeout), counted and logged."""
        uuid = next(iter(self._sets))
        dropped = self._sets.pop(uuid)
        self.counts["set_dropped"] += 1
        if self._limiter.should_log("set_dropped", time.monotonic()):
            log.warning(
                "clone_update_dropped",
                key=dropped.command.key.decode("utf-8", "replace"),
                unconfirmed=self._max_unconfirmed,
            )
        dropped.command.result.set_exception(
            ClientTimeout(
                f"update of {dropped.command.key!r} dropped: more than "
                f"{self._max_unconfirmed} updates unconfirmed"
            )
        )

    def _read_collector_subscriptions(self, xpub: Socket) -> None:
        """§1.6: the collector's subscription arrives as b'\\x01'; only then send."""
        for _ in range(_BATCH):
            try:
                frames = recv_frames(xpub)
            except zmq.Again:
                return
            if frames and frames[0][:1] in (b"\x00", b"\x01"):
                self._collector_listens = frames[0][:1] == b"\x01"

    def _send_sets(self, now: float) -> None:
        # both ways must be live: the collector hears us, and we hear the echo
        if (
            not self._sets
            or not self._collector_listens
            or self._phase is Phase.WAIT_HUGZ
        ):
            return
        assert self._xpub is not None
        for uuid, pending in list(self._sets.items()):
            if pending.sent_at is not None and now - pending.sent_at < self._resend_s:
                continue
            if pending.attempts >= self._max_set_attempts:
                del self._sets[uuid]
                self.counts["set_failed"] += 1
                pending.command.result.set_exception(
                    ClientTimeout(f"update of {pending.command.key!r} never confirmed")
                )
                continue
            try:
                send_frames(self._xpub, pending.command.frames)
            except zmq.Again:
                return
            self.counts["resends"] += 1 if pending.attempts else 0
            pending.attempts += 1
            pending.sent_at = now
            if not pending.command.key.startswith(self._subtree):
                del self._sets[uuid]  # outside our subtree: its echo never reaches us
                pending.command.result.set_result(None)

    def _confirm(self, uuid: bytes) -> None:
        pending = self._sets.pop(uuid, None) if uuid else None
        if pending is not None:
            pending.command.result.set_result(None)


def _diff(old: dict[bytes, Entry], new: dict[bytes, Entry], seq: int) -> list[Change]:
    """What a snapshot changed in the cache, in key order (deletions included)."""
    changes = [
        Change(key, entry.seq, entry.body, entry.props, from_snapshot=True)
        for key, entry in new.items()
        if (prior := old.get(key)) is None or prior.body != entry.body
    ]
    changes += [
        Change(key, seq, b"", (), from_snapshot=True) for key in old if key not in new
    ]
    return sorted(changes, key=lambda change: change.key)
