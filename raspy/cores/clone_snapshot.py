"""What one Clone snapshot sends (docs/protocols.md §6.3) and when it is cut off.

Pure: store records and `now` in, frames and decisions out; no store, no socket, no
clock. The store's records of a subtree come in key order, a chunk at a time; the
published coalesced values not yet stored (issue 17) are laid over them, the higher
sequence of a key winning, and a deletion among them hides the key. KTHXBAI comes
last, exactly once, whatever the subtree holds: a stored key that is a Clone command
(KTHXBAI, HUGZ: an older restore let it in; the server warns of it at start) is left
out, else the client's snapshot would end at it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Final

from raspy.cores.clone import Update
from raspy.protocol import clone

# A peer that reads nothing for this long loses its snapshot ([limits]
# snapshot_stall_s): its read txn must not stay open, since the store grows its map
# only when no read txn is open (it waits 30 s), and it holds one of the few places
# (MAX_ACTIVE) every other snapshot waits for. "Nothing" is as the server sees it:
# ZeroMQ lets a full pipe take more only once its reader took about half of it
# (the low-water mark), so a peer must take about half its byte budget within the
# limit; a steady reader of the largest values slower than that is cut off too.
# Real monotonic time: this is about the peer's socket, not about ttl.
STALL_LIMIT_S: Final = 10.0
# Issue 18: a peer that reads, but slowly, is cut off after [limits] snapshot_max_s
# in all, and every view is closed at once when the store waits to grow its map:
# no client holds the writes hostage. The client asks again (§6.3: ICANHAZ?).
DEFAULT_MAX_S: Final = 60.0
# A peer's pipe holds at least this many messages, whatever the values' size
MIN_HWM: Final = 2


def snapshot_hwm(budget_bytes: int, largest_message_bytes: int, chunk: int) -> int:
    """The snapshot ROUTER's SNDHWM, and the most KVSYNCs a snapshot reads ahead:
    as many of the largest messages as fit a peer's byte budget ([limits]
    clone_subscriber_queue_bytes), at most two chunks, at least MIN_HWM. ZeroMQ
    counts a pipe in messages: a peer that asks and never reads would otherwise
    make the server hold two chunks of the largest values for it (issue 18)."""
    if budget_bytes <= 0 or largest_message_bytes <= 0:
        raise ValueError(
            f"budget and message bytes must be > 0, got {budget_bytes} and "
            f"{largest_message_bytes}"
        )
    return max(MIN_HWM, min(2 * chunk, budget_bytes // largest_message_bytes))


class SnapshotContent:
    """The KVSYNCs and the KTHXBAI of one ICANHAZ?, queued in `outgoing` in order."""

    def __init__(
        self, subtree: bytes, last_seq: int, overlay: Iterable[Update]
    ) -> None:
        """`last_seq`: the last sequence published before the store's view was taken
        (raspy §6.3, issue 17): every update up to it is in the view (durable: stored
        before published) or in `overlay` (coalesced, not yet stored, in key order),
        and none after it (the view was taken with no write on its way)."""
        self.subtree = subtree
        self.outgoing: deque[list[bytes]] = deque()
        self.entries = 0  # KVSYNCs queued
        self.ended = False  # KTHXBAI queued
        self._last_seq = last_seq
        self._overlay = deque(overlay)

    def add_record(self, key: bytes, seq: int, body: bytes) -> None:
        """A stored record of the subtree; records come in key order."""
        if clone.is_command(key):
            return  # read as the end (or a HUGZ): never served, kept in the store
        overlay = self._overlay
        if overlay:  # the common case has none: one call per record, no more
            self._overlay_before(key)
            if overlay and overlay[0].key == key:
                newer = overlay.popleft()
                if newer.seq > seq:
                    self._add(newer.key, newer.seq, newer.body)
                    return
        self._add(key, seq, body)

    def end(self) -> None:
        """The store has no more records: the rest of the overlay, then KTHXBAI."""
        if self.ended:
            return
        self._overlay_before(None)
        self.outgoing.append(clone.kthxbai(self._last_seq, self.subtree))
        self.ended = True

    def _overlay_before(self, key: bytes | None) -> None:
        """Queue the overlay's keys that sort before `key` (None: all that is left)."""
        overlay = self._overlay
        while overlay and (key is None or overlay[0].key < key):
            update = overlay.popleft()
            self._add(update.key, update.seq, update.body)

    def _add(self, key: bytes, seq: int, body: bytes) -> None:
        if not body:
            return  # a coalesced deletion not yet stored: the key is gone
        # raspy (§6.3): KVSYNC carries the key's own sequence, no uuid or properties
        self.outgoing.append(clone.kvsync(key, seq, body))
        self.entries += 1


def cut_off_reason(
    *,
    now: float,
    started_at: float,
    progress_at: float,
    blocked: bool,
    store_growing: bool,
    max_s: float = DEFAULT_MAX_S,
    stall_s: float = STALL_LIMIT_S,
) -> str | None:
    """Why a snapshot in progress must end now (issue 18), or None: the store waits
    to grow its map, the snapshot took over `max_s`, or its peer stalled: `blocked`
    (its pipe was full at the last try, and nothing went out since) with nothing
    taken for `stall_s`."""
    if store_growing:
        return "store_growing"
    if now - started_at > max_s:
        return "too_long"
    if blocked and now - progress_at > stall_s:
        return "stalled"
    return None
