"""Clone snapshots (docs/protocols.md §6.3): KVSYNC per key of a subtree, then KTHXBAI.

Each snapshot streams from ONE read transaction in chunks, paced by the peer's pipe;
it starts only while no write of the server is on its way to the store, so that the
transaction holds the tree at the last number published and no later update. What
it sends and when it is cut off are raspy.cores.clone_snapshot's to say. The ROUTER
has ROUTER_MANDATORY and an SNDHWM of `hwm` messages (a peer's byte budget of
the largest), so a full peer gives EAGAIN and the entry waits for the next turn; a
snapshot reads no more than `hwm` entries ahead of what went out (§1.3: never
dropped, never all in memory: a peer that reads nothing costs at most twice its
budget). Used only by the Clone I/O thread, which owns the ROUTER.
"""

from __future__ import annotations

import errno
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final, Protocol

import structlog
import zmq

from raspy.actors.clone.records import kv_essentials
from raspy.clock import Clock
from raspy.cores.clone import Update
from raspy.cores.clone_snapshot import (
    DEFAULT_MAX_S,
    STALL_LIMIT_S,
    SnapshotContent,
    cut_off_reason,
)
from raspy.errors import StoreError
from raspy.ratelimit import LogRateLimiter
from raspy.stats import Stats
from raspy.storage.read_view import ReadView
from raspy.storage.store import Store
from raspy.storage.tables import Table
from raspy.transport.multipart import send_frames

log = structlog.get_logger(component="clone")

MAX_ACTIVE: Final = 32  # concurrent read txns (LMDB has 126 reader slots)
MAX_WAITING: Final = 1024


class Pending(Protocol):
    """What went out but may not be stored yet, and what is stored but has not gone
    out yet (raspy.actors.clone.commit.CommitPipeline)."""

    @property
    def published_seq(self) -> int: ...

    @property
    def storing(self) -> bool: ...

    def overlay(self, subtree: bytes) -> list[Update]: ...


@dataclass
class _Snapshot:
    """One ICANHAZ? being answered."""

    routing_id: bytes
    view: ReadView
    content: SnapshotContent
    after: bytes | None = None  # the last key read from the view
    finished: bool = False
    # its pipe was full at the last try: not tried again until POLLOUT or the short
    # timer clears it (unblock)
    blocked: bool = False
    # its pipe was full and nothing went out since: kept across those retries, so
    # the cut-off sees a peer that reads nothing (a stall) as one
    stuck: bool = False
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
        *,
        hwm: int,
        max_s: float = DEFAULT_MAX_S,
        stall_s: float = STALL_LIMIT_S,
        on_ended: Callable[[float], None] = lambda now: None,
    ) -> None:
        """`hwm`: the ROUTER's SNDHWM (raspy.cores.clone_snapshot.snapshot_hwm), the
        most entries a snapshot reads ahead too; `on_ended(now)`: a snapshot ended
        (sent whole, cut off or its peer gone) and its memory is free: the heap
        may be handed back."""
        self._store = store
        self._max_s = max_s
        self._stall_s = stall_s
        self._on_ended = on_ended
        self._pending = pending
        self._chunk = max(1, chunk)
        self.hwm = max(1, hwm)
        self._read_ahead = min(self._chunk, self.hwm)
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
        """True if some snapshot can send or start now (the loop should not sleep);
        a request held behind its peer's snapshot in progress cannot, nor one that
        waits for the writes on their way to the store (their end wakes the loop)."""
        if any(not s.blocked for s in self._active):
            return True
        return self.startable and not self._pending.storing

    @property
    def startable(self) -> bool:
        """Some request waits that could start now, or once the writes on their
        way to the store are published: the next writes are held back meanwhile
        (§6.3), else a busy store would never let it start."""
        active = self._active
        if not self._waiting or len(active) >= MAX_ACTIVE:
            return False
        busy = {s.routing_id for s in active}
        return any(routing_id not in busy for routing_id, _ in self._waiting)

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
        """Retry the peers that were full: on POLLOUT or on the short timer. They
        stay `stuck` until something goes out to them."""
        for snap in self._active:
            snap.blocked = False

    def advance(self, router: zmq.Socket[bytes]) -> None:
        """Send up to one chunk per snapshot that is not blocked."""
        self._start_waiting()
        progressed = False
        now = time.monotonic()
        growing = self._store.growth_waiting()
        for snap in list(self._active):
            reason = cut_off_reason(
                now=now,
                started_at=snap.started_at,
                progress_at=snap.progress_at,
                blocked=snap.stuck,
                store_growing=growing,
                max_s=self._max_s,
                stall_s=self._stall_s,
            )
            if reason is not None:
                self._abandon(snap, reason, now)
            elif not snap.blocked:
                progressed |= self._send_chunk(snap, router)
            if snap.finished:
                snap.view.close()
                self._active.remove(snap)
                self._on_ended(now)
        self._start_waiting()
        # POLLOUT on a mandatory ROUTER means "some peer is writable", maybe not ours:
        # wait for it only while it helped, else retry blocked peers on a short timer
        self.want_pollout = progressed and any(s.blocked for s in self._active)
        self._stats.gauge("clone.snapshots.active", len(self._active))

    def _abandon(self, snap: _Snapshot, reason: str, now: float) -> None:
        """Close its view now; counted, logged once per (peer, reason) a minute."""
        snap.finished = True
        self._stats.incr(f"clone.snapshots.{reason}")
        if self._limiter.should_log((snap.routing_id, reason), now):
            log.warning(
                "clone_snapshot_abandoned",
                peer=snap.routing_id.hex(),
                reason=reason,
                count=snap.content.entries,
            )

    def close(self) -> None:
        for snap in self._active:
            snap.view.close()
        self._active.clear()
        self._waiting.clear()

    def _start_waiting(self) -> None:
        """Start waiting requests in order, at most one at a time per peer: RFC 12
        answers each ICANHAZ? with its KVSYNCs then its KTHXBAI, so a peer's second
        request waits until its first answer has ended (never interleaved)."""
        waiting = self._waiting
        if not waiting or len(self._active) >= MAX_ACTIVE or self._pending.storing:
            return
        busy = {snap.routing_id for snap in self._active}
        held: deque[tuple[bytes, bytes]] = deque()
        while waiting and len(self._active) < MAX_ACTIVE:
            routing_id, subtree = waiting.popleft()
            if routing_id in busy:
                held.append((routing_id, subtree))
                continue
            busy.add(routing_id)
            # raspy (§6.3, issue 17): the snapshot is the tree at the last number
            # published, which KTHXBAI carries. Every update up to it is in the txn
            # (durable: stored before published) or in the overlay (coalesced,
            # published, not yet stored), and none after it: nothing is on its way
            # to the store (not storing), so the store holds only what went out (a
            # flush writes only published values)
            last_seq = self._pending.published_seq
            overlay = self._pending.overlay(subtree)
            view = self._store.read_view()
            content = SnapshotContent(subtree, last_seq, overlay)
            self._active.append(_Snapshot(routing_id, view, content))
            self._stats.incr("clone.snapshots.started")
        held.extend(waiting)  # the held ones first: the order of arrival is kept
        self._waiting = held

    def _send_chunk(self, snap: _Snapshot, router: zmq.Socket[bytes]) -> bool:
        """Send up to one chunk; True if anything went out."""
        sent = 0
        outgoing = snap.content.outgoing
        while sent < self._chunk:
            if not outgoing and not self._refill(snap):
                snap.finished = True
                self._stats.incr("clone.snapshots.completed")
                self._stats.incr("clone.snapshots.entries", snap.content.entries)
                break
            try:
                send_frames(router, [snap.routing_id, *outgoing[0]])
            except zmq.Again:
                # the peer's pipe is at its HWM: keep the entry
                snap.blocked = snap.stuck = True
                break
            except zmq.ZMQError as exc:
                if exc.errno != errno.EHOSTUNREACH:
                    raise
                snap.finished = True  # the client went away
                self._stats.incr("clone.snapshots.abandoned")
                break
            outgoing.popleft()
            sent += 1
        if sent:
            snap.progress_at = time.monotonic()
            snap.stuck = snap.blocked  # full again after these, or not
        return sent > 0

    def _refill(self, snap: _Snapshot) -> bool:
        """Queue the next KVSYNCs, up to what the peer's pipe holds (then KTHXBAI);
        False when all is sent. A batch may queue nothing (every key it read hidden
        by a deletion not yet stored, a command key, an unreadable record): read on,
        else the snapshot would end there with no KTHXBAI and the keys after unsent.
        Bounded: each batch moves on or ends the content."""
        content = snap.content
        while not content.outgoing:
            if content.ended:
                return False
            self._read_batch(snap)
        return True

    def _read_batch(self, snap: _Snapshot) -> None:
        """Read up to the read-ahead's worth of records after `snap.after`; the
        content ends when fewer come."""
        content = snap.content
        if len(content.subtree) > self._store.max_key_bytes:
            content.end()  # §6.3: longer than any stored key, it matches none
            return
        ahead = self._read_ahead
        items = snap.view.iter_from(Table.KV, content.subtree, snap.after, ahead)
        add = content.add_record
        for key, value in items:
            try:
                seq, body, _ = kv_essentials(value)
            except StoreError as exc:
                self._stats.incr("clone.snapshots.bad_record")
                if self._limiter.should_log(("store", key), self._clock.monotonic()):
                    log.error("clone_record_unreadable", key=key.hex(), reason=str(exc))
                continue
            add(key, seq, body)
        if len(items) == ahead:
            snap.after = items[-1][0]
        else:
            content.end()
