"""Clone snapshots (docs/protocols.md §6.3): KVSYNC per key of a subtree, then KTHXBAI.

Each snapshot streams from ONE read transaction in chunks, paced by the peer's pipe,
with the published coalesced values not yet stored laid over it (issue 17):
the ROUTER has ROUTER_MANDATORY and a small SNDHWM, so a full peer gives EAGAIN and
the entry waits for the next turn (§1.3: never dropped, never all in memory). Used
only by the Clone I/O thread, which owns the ROUTER.
"""

from __future__ import annotations

import errno
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Final, Protocol

import structlog
import zmq

from raspy.actors.clone.records import kv_essentials
from raspy.clock import Clock
from raspy.cores.clone import Update
from raspy.errors import StoreError
from raspy.protocol import clone
from raspy.ratelimit import LogRateLimiter
from raspy.stats import Stats
from raspy.storage.store import ReadView, Store
from raspy.storage.tables import Table
from raspy.transport.multipart import send_frames

log = structlog.get_logger(component="clone")

MAX_ACTIVE: Final = 32  # concurrent read txns (LMDB has 126 reader slots)
MAX_WAITING: Final = 1024
# A peer that reads nothing for this long loses its snapshot: its read txn must not
# stay open, since the store grows its map only when no read txn is open (it waits
# 30 s). Real monotonic time: this is about the peer's socket, not about ttl.
STALL_LIMIT_S: Final = 10.0
# Issue 18: a peer that reads, but slowly, is cut off after [limits] snapshot_max_s
# in all, and every view is closed at once when the store waits to grow its map:
# no client holds the writes hostage. The client asks again (§6.3: ICANHAZ?).
DEFAULT_MAX_S: Final = 60.0


class Pending(Protocol):
    """What went out but may not be stored yet (raspy.actors.clone.commit.CommitPipeline)."""

    @property
    def published_seq(self) -> int: ...

    def overlay(self, subtree: bytes) -> list[Update]: ...


@dataclass
class _Snapshot:
    """One ICANHAZ? being answered."""

    routing_id: bytes
    subtree: bytes
    view: ReadView
    last_seq: int
    overlay: deque[Update]
    after: bytes | None = None
    outgoing: deque[list[bytes]] = field(default_factory=deque)
    read_all: bool = False
    finished: bool = False
    blocked: bool = False
    entries: int = 0
    progress_at: float = field(default_factory=time.monotonic)
    started_at: float = field(default_factory=time.monotonic)


class SnapshotStreamer:
    """Snapshots in progress (at most MAX_ACTIVE at once, the rest wait in order)."""

    def __init__(
        self,
        store: Store,
        chunk: int,
        stats: Stats,
        clock: Clock,
        limiter: LogRateLimiter,
        pending: Pending,
        max_s: float = DEFAULT_MAX_S,
    ) -> None:
        self._store = store
        self._max_s = max_s
        self._pending = pending
        self._chunk = max(1, chunk)
        self._stats = stats
        self._clock = clock
        self._limiter = limiter
        self._active: list[_Snapshot] = []
        self._waiting: deque[tuple[bytes, bytes]] = deque()
        self.want_pollout = False

    def stats(self) -> dict[str, int]:
        return {
            "clone.snapshots.active": len(self._active),
            "clone.snapshots.waiting": len(self._waiting),
        }

    @property
    def runnable(self) -> bool:
        """True if some snapshot can send now (the loop should not sleep)."""
        return bool(self._waiting) or any(not s.blocked for s in self._active)

    @property
    def retry_on_timer(self) -> bool:
        """Snapshots are active but no POLLOUT is awaited: blocked peers are tried
        again on a short timer."""
        return bool(self._active) and not self.want_pollout

    def request(self, routing_id: bytes, subtree: bytes) -> bool:
        """Queue a snapshot; False if too many are waiting (the caller counts it)."""
        if len(self._waiting) >= MAX_WAITING:
            return False
        self._waiting.append((routing_id, subtree))
        return True

    def unblock(self) -> None:
        """Retry the peers that were full: on POLLOUT or on the short timer."""
        for snap in self._active:
            snap.blocked = False

    def advance(self, router: zmq.Socket[bytes]) -> None:
        """Send up to one chunk per snapshot that is not blocked."""
        self._start_waiting()
        progressed = False
        now = time.monotonic()
        growing = self._store.growth_waiting()
        for snap in list(self._active):
            reason = self._cut_off_reason(snap, now, growing)
            if reason is not None:
                self._abandon(snap, reason, now)
            elif not snap.blocked:
                progressed |= self._send_chunk(snap, router)
            if snap.finished:
                snap.view.close()
                self._active.remove(snap)
        self._start_waiting()
        # POLLOUT on a mandatory ROUTER means "some peer is writable", maybe not ours:
        # wait for it only while it helped, else retry blocked peers on a short timer
        self.want_pollout = progressed and any(s.blocked for s in self._active)
        self._stats.gauge("clone.snapshots.active", len(self._active))

    def _cut_off_reason(self, snap: _Snapshot, now: float, growing: bool) -> str | None:
        if growing:
            return "store_growing"
        if now - snap.started_at > self._max_s:
            return "too_long"
        if snap.blocked and now - snap.progress_at > STALL_LIMIT_S:
            return "stalled"
        return None

    def _abandon(self, snap: _Snapshot, reason: str, now: float) -> None:
        """Close its view now; counted, logged once per (peer, reason) a minute."""
        snap.finished = True
        self._stats.incr(f"clone.snapshots.{reason}")
        if self._limiter.should_log((snap.routing_id, reason), now):
            log.warning(
                "clone_snapshot_abandoned",
                peer=snap.routing_id.hex(),
                reason=reason,
                count=snap.entries,
            )

    def close(self) -> None:
        for snap in self._active:
            snap.view.close()
        self._active.clear()
        self._waiting.clear()

    def _start_waiting(self) -> None:
        while self._waiting and len(self._active) < MAX_ACTIVE:
            routing_id, subtree = self._waiting.popleft()
            # raspy (§6.3, issue 17): KTHXBAI carries the last sequence published
            # before the txn began: every update up to it is in the txn (durable:
            # stored before published) or in the overlay (coalesced, not yet stored);
            # a few later ones may be too, and the client re-applies those
            last_seq = self._pending.published_seq
            overlay = deque(self._pending.overlay(subtree))
            view = self._store.read_view()
            self._active.append(_Snapshot(routing_id, subtree, view, last_seq, overlay))
            self._stats.incr("clone.snapshots.started")

    def _send_chunk(self, snap: _Snapshot, router: zmq.Socket[bytes]) -> bool:
        """Send up to one chunk; True if anything went out."""
        sent = 0
        while sent < self._chunk:
            if not snap.outgoing and not self._refill(snap):
                snap.finished = True
                self._stats.incr("clone.snapshots.completed")
                self._stats.incr("clone.snapshots.entries", snap.entries)
                break
            try:
                send_frames(router, [snap.routing_id, *snap.outgoing[0]])
            except zmq.Again:
                snap.blocked = True  # the peer's pipe is at its HWM: keep the entry
                break
            except zmq.ZMQError as exc:
                if exc.errno != errno.EHOSTUNREACH:
                    raise
                snap.finished = True  # the client went away
                self._stats.incr("clone.snapshots.abandoned")
                break
            snap.outgoing.popleft()
            sent += 1
        if sent:
            snap.progress_at = time.monotonic()
        return sent > 0

    def _refill(self, snap: _Snapshot) -> bool:
        """Queue the next chunk of KVSYNCs (then KTHXBAI); False when all is sent."""
        if snap.read_all:
            return False
        items = snap.view.iter_from(Table.KV, snap.subtree, snap.after, self._chunk)
        for key, value in items:
            self._overlay_before(snap, key)
            try:
                seq, body, _ = kv_essentials(value)
            except StoreError as exc:
                self._stats.incr("clone.snapshots.bad_record")
                if self._limiter.should_log(("store", key), self._clock.monotonic()):
                    log.error("clone_record_unreadable", key=key.hex(), reason=str(exc))
                continue
            if snap.overlay and snap.overlay[0].key == key:
                newer = snap.overlay.popleft()
                if newer.seq > seq:
                    self._add(snap, newer.key, newer.seq, newer.body)
                    continue
            self._add(snap, key, seq, body)
        if len(items) == self._chunk:
            snap.after = items[-1][0]
        else:
            self._overlay_before(snap, None)
            snap.read_all = True
            snap.outgoing.append(clone.kthxbai(snap.last_seq, snap.subtree))
        return bool(snap.outgoing)

    def _overlay_before(self, snap: _Snapshot, key: bytes | None) -> None:
        """Queue the overlay's keys that sort before `key` (None: all that is left)."""
        overlay = snap.overlay
        while overlay and (key is None or overlay[0].key < key):
            update = overlay.popleft()
            self._add(snap, update.key, update.seq, update.body)

    def _add(self, snap: _Snapshot, key: bytes, seq: int, body: bytes) -> None:
        if not body:
            return  # a coalesced deletion not yet stored: the key is gone
        # raspy (§6.3): KVSYNC carries the key's own sequence, no uuid/properties
        snap.outgoing.append(clone.kvsync(key, seq, body))
        snap.entries += 1
