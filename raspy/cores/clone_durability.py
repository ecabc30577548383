"""The Clone tree's write budget: coalesced readings and sequence blocks (issue 17).

Pure: updates and `now` in, decisions out; no store, no clock, no logging here.
`CoalescingBuffer` keeps the latest coalesced update per key until a group commit takes
it; `SequenceBlocks` says when a high-water mark must be stored before a sequence number
may be published, so that no number is ever given twice, even after a kill -9.
`is_volatile` names the keys that live in memory only (`/stats/`).
"""

from __future__ import annotations

from collections.abc import Container, Iterable
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from raspy.cores.clone import Update

# runtime telemetry, published again by raspyd at each start: kept in memory and
# served like any key, never written to the store (each part's uptime_s changes at
# every publication, and would rewrite their B-tree leaves on the SD card a minute)
VOLATILE_PREFIXES: Final = (b"/stats/",)


def is_volatile(key: bytes) -> bool:
    """True for a key the Clone server never stores: published, served in
    snapshots, numbered like any key (covered by a stored mark before it goes out,
    as a coalesced one), and gone at a restart until published again."""
    return key.startswith(VOLATILE_PREFIXES)


class SequenceBlocks:
    """High-water marks of the sequence numbers, reserved a block at a time.

    Invariant: a coalesced update is published only when its seq <= `confirmed`, a
    mark that is on disk; after a crash the server starts past the stored mark, so a
    published number is never reused. Durable updates carry the mark in their own
    transaction (stored before published), so they need no block of their own.
    """

    def __init__(self, stored_mark: int, block: int) -> None:
        if block < 1:
            raise ValueError(f"block must be >= 1, got {block}")
        if stored_mark < 0:
            raise ValueError(f"stored_mark must be >= 0, got {stored_mark}")
        self.block = block
        self.confirmed = stored_mark  # synced to disk
        self.wanted = stored_mark  # to be (or being) written

    def cover(self, seq: int, *, coalesced: bool) -> None:
        """Note a number given out; a coalesced one past the mark opens a new block."""
        if coalesced and seq > self.wanted:
            self.wanted = seq + self.block - 1
        elif seq > self.wanted:
            self.wanted = seq  # a durable update: stored with its own mark

    def confirm(self, mark: int) -> None:
        """A transaction holding `mark` was synced."""
        self.confirmed = max(self.confirmed, mark)

    def covered(self, seq: int) -> bool:
        """True if `seq` may be published without storing anything first."""
        return seq <= self.confirmed


class CoalescingBuffer:
    """Latest coalesced update per key: what to write next, and what was published.

    `pending` is what the next group commit writes (latest per key, in accept order
    = sequence order); a durable update of the same key takes its key out, because the
    store must never see an older value after a newer one (and it is put back if that
    update's commit fails). `published` is the latest
    coalesced update per key that subscribers were told and that the store may not
    have yet: snapshots lay it over the store (the higher sequence of the two wins).
    A volatile key (is_volatile) is never pending: its latest update stays in
    `published` for good, the only place that holds it. A published update the
    store can never take (`unstorable`) stays there too, for snapshots, and stands
    in for no newer one (`stand_ins`).
    """

    def __init__(self) -> None:
        self._pending: dict[bytes, Update] = {}
        self._published: dict[bytes, Update] = {}
        self._unstorable: set[bytes] = set()  # keys whose published one never fits

    @property
    def pending_count(self) -> int:
        return len(self._pending)

    def accept(self, update: Update) -> None:
        """A coalesced update was given its number: it will be written (unless
        volatile: it is only published)."""
        if is_volatile(update.key):
            return
        self._pending.pop(update.key, None)
        self._pending[update.key] = update

    def has_pending(self, key: bytes) -> bool:
        """Does a value of `key` wait for the next group commit?"""
        return key in self._pending

    def supersede(self, update: Update) -> Update | None:
        """A durable update was given its number: never write an older value after.
        The pending update it took out (to restore() if its commit fails), or None."""
        return self._pending.pop(update.key, None)

    def released(self, update: Update, *, coalesced: bool) -> None:
        """An update went out to subscribers (in sequence order)."""
        self._unstorable.discard(update.key)  # a newer value: it may fit
        if coalesced:
            self._published[update.key] = update
            return
        shown = self._published.get(update.key)
        if shown is not None and shown.seq < update.seq:
            del self._published[update.key]  # the store holds it (or its deletion)

    def restore(self, update: Update) -> bool:
        """A write of `update` failed: it is pending again, unless something newer
        is pending for its key. True if it is (never for a volatile key)."""
        if is_volatile(update.key):
            return False
        pending = self._pending.get(update.key)
        if pending is not None and pending.seq >= update.seq:
            return False
        self._pending.pop(update.key, None)
        self._pending[update.key] = update
        return True

    def unstorable(self, update: Update) -> None:
        """The store refused `update` for good (bigger than it can ever hold): if it
        is still the published one of its key, no flush takes it again as a
        stand-in (it would be refused, and said dropped, at every flush)."""
        shown = self._published.get(update.key)
        if shown is not None and shown.seq == update.seq:
            self._unstorable.add(update.key)

    def drop(self, update: Update) -> None:
        """`update` will never be published: not written either, if still pending."""
        pending = self._pending.get(update.key)
        if pending is not None and pending.seq == update.seq:
            del self._pending[update.key]

    def take(self, upto: int | None = None) -> list[Update]:
        """What the next group commit writes, in sequence order: everything, or
        (`upto`) the updates numbered up to it; the rest stay pending."""
        pending = self._pending
        if upto is None:
            taken = list(pending.values())
        else:
            taken = [u for u in pending.values() if u.seq <= upto]
        if len(taken) == len(pending):
            self._pending = {}
        else:
            for update in taken:
                del pending[update.key]
        taken.sort(key=lambda u: u.seq)
        return taken

    def stand_ins(self, upto: int, on_their_way: Container[bytes]) -> list[Update]:
        """For each key still pending after take(`upto`) (its latest update is not
        published yet: it waits behind a write on its way), the update subscribers
        were told last and the store does not have yet, in sequence order: a flush
        writes it in the pending one's place. Else a key read more often than a
        client's write takes to be stored would never be written while such writes
        go on. None for a key with a durable update `on_their_way` (submitted, not
        yet released): the store would get the older value after it."""
        stand_ins = [
            shown
            for key in self._pending
            if (shown := self._published.get(key)) is not None
            and shown.seq <= upto
            and key not in on_their_way
            and key not in self._unstorable
        ]
        stand_ins.sort(key=lambda u: u.seq)
        return stand_ins

    def written(self, updates: Iterable[Update]) -> None:
        """A group commit of these updates was synced: the store shows them now."""
        for update in updates:
            shown = self._published.get(update.key)
            if shown is not None and shown.seq <= update.seq:
                del self._published[update.key]

    def shown(self, key: bytes) -> Update | None:
        """The coalesced update of `key` subscribers were told and the store may
        not have yet (newer than the store's record), or None."""
        return self._published.get(key)

    def overlay(self, subtree: bytes) -> list[Update]:
        """The published coalesced updates under `subtree`, in key order."""
        return sorted(
            (u for k, u in self._published.items() if k.startswith(subtree)),
            key=lambda u: u.key,
        )
