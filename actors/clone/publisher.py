"""The Clone tree's in-process API: publish and subscribe without TCP.

ClonePublisher: any thread pushes updates on its own inproc PUSH; the Clone I/O thread
reads them like KVSETs from the collector (docs/protocols.md §6.4), so they are numbered,
stored and published the same way. Plain sets (no properties, no ttl) from a device
service's poll batch travel as one message holding them all, because the per-message
cost, not the per-update one, dominates at a thousand readings a second.
Subscribers: actors told KeyChanged for a prefix.
"""

from __future__ import annotations

import ctypes
import uuid
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Final

import pykka

from raspy import packing
from raspy.actors import messages as msgs
from raspy.cores import clone as core_mod
from raspy.errors import MalformedMessage, PackingError
from raspy.protocol import clone
from raspy.transport.pushers import ThreadPushers

# inproc messages: [PUBLISH_CHANNEL, *KVSET frames] (the collector's five frames), or
# [BATCH_CHANNEL, msgpack [[key, body], ...]] for up to BATCH_LIMIT plain sets
PUBLISH_CHANNEL: Final = b"S"
BATCH_CHANNEL: Final = b"B"
BATCH_LIMIT: Final = 1000
BATCH_BYTES: Final = 1024 * 1024

Refused = list[tuple[bytes, str]]
"""Keys a publisher would not send, each with the reason."""


class ClonePublisher(ThreadPushers):
    """Publish updates from any thread of raspyd, without TCP (a PUSH per thread)."""

    def set(
        self,
        key: bytes,
        body: bytes,
        props: Mapping[str, str] | None = None,
        ttl_s: float | None = None,
    ) -> None:
        """Queue an update (empty body: delete); ValueError for a key or property §6.2
        forbids. Published once stored; `ttl_s` makes the key ephemeral (§6.6)."""
        try:
            clone.check_path_key(key)
        except MalformedMessage as exc:
            raise ValueError(str(exc)) from exc
        pairs = tuple((props or {}).items())
        frames = clone.kvset(key, body, uuid.uuid4().bytes, pairs, ttl_s)
        self.send([PUBLISH_CHANNEL, *frames])

    def delete(self, key: bytes) -> None:
        self.set(key, b"")

    def set_many(self, entries: Sequence[tuple[bytes, bytes]]) -> Refused:
        """Queue plain sets (no properties, no ttl) in as few messages as possible;
        the keys §6.2 forbids are left out and returned with the reason."""
        valid, refused = clone.split_by_key(entries)
        for chunk in _chunks(valid):
            try:
                packed = packing.pack(chunk)
            except PackingError as exc:  # one entry alone over the packing limit
                refused.extend((key, str(exc)) for key, _ in chunk)
                continue
            self.send([BATCH_CHANNEL, packed])
        return refused


def _chunks(
    entries: list[tuple[bytes, bytes]],
) -> Iterator[list[tuple[bytes, bytes]]]:
    """At most BATCH_LIMIT entries and about BATCH_BYTES per message."""
    chunk: list[tuple[bytes, bytes]] = []
    size = 0
    for key, body in entries:
        grows = len(key) + len(body)
        if chunk and (len(chunk) == BATCH_LIMIT or size + grows > BATCH_BYTES):
            yield chunk
            chunk, size = [], 0
        chunk.append((key, body))
        size += grows
    if chunk:
        yield chunk


def unpack_batch(frame: bytes) -> list[tuple[bytes, bytes]]:
    """The entries of a BATCH_CHANNEL message; MalformedMessage if it is not one."""
    try:
        entries = packing.unpack(frame)
    except PackingError as exc:
        raise MalformedMessage("clone", "bad_batch", str(exc)) from exc
    if not isinstance(entries, list) or len(entries) > BATCH_LIMIT:
        raise MalformedMessage("clone", "bad_batch", "not a list of entries")
    out: list[tuple[bytes, bytes]] = []
    for entry in entries:
        if (
            not isinstance(entry, list)
            or len(entry) != 2
            or type(entry[0]) is not bytes
            or type(entry[1]) is not bytes
        ):
            raise MalformedMessage("clone", "bad_batch", "an entry is not [key, body]")
        out.append((entry[0], entry[1]))
    return out


class Subscribers:
    """Actors subscribed to key prefixes (Clone I/O thread only)."""

    def __init__(self) -> None:
        self._entries: list[tuple[bytes, pykka.ActorRef[Any]]] = []

    def add(self, prefix: bytes, ref: pykka.ActorRef[Any]) -> None:
        self._entries.append((prefix, ref))

    def remove(self, ref: pykka.ActorRef[Any]) -> None:
        self._entries = [(p, r) for p, r in self._entries if r != ref]

    def notify(self, update: core_mod.Update) -> None:
        """Tell KeyChanged to every matching subscriber; forget dead ones."""
        if not self._entries:
            return
        event = msgs.KeyChanged(update.key, update.seq, update.body, update.props)
        for prefix, ref in list(self._entries):
            if update.key.startswith(prefix):
                try:
                    ref.tell(event)
                except pykka.ActorDeadError:
                    self._entries.remove((prefix, ref))


# --- the XPUB's queue per subscriber, bounded in bytes (issue 18) ---------------------
#
# ZeroMQ counts a subscriber's queue in messages (SNDHWM), never in bytes, and XPUB
# says nothing of whom it drops for. So:
# - SNDHWM = [limits] clone_subscriber_queue_bytes // the largest message published
#   lately, lowered at once before a bigger message goes out, raised again only when
#   no such message came for a whole window: a queue holds about the budget (at most
#   twice, while the limit comes down), whatever the value sizes;
# - XPUB_NODROP turns the moment a subscriber's queue reaches its limit into EAGAIN:
#   counted (clone.subscribers.cut_off) and logged (rate-limited), then the message is
#   sent again without NODROP, so the others get it and the full one misses it: its
#   next update shows a sequence gap, and a CHP client asks for a snapshot (RFC 12);
# - libzmq gives a new connection the SNDHWM of bind time, and applies a changed one
#   to the connections it has: the socket is bound with the limit for the largest
#   message, and the current limit is set again whenever a subscription arrives;
# - no ZMTP heartbeats on the XPUB: libzmq 4.3.x has open crashes with heartbeats on
#   PUB/XPUB sockets (a segfault in its I/O thread was seen here); a subscriber that
#   reads nothing keeps at most its byte budget until it leaves; after a subscriber
#   leaves, freed heap is handed back to the system.

MIN_HWM: Final = 16
MAX_HWM: Final = 100_000
MESSAGE_FLOOR_BYTES: Final = 64  # budget // this is the limit for tiny messages
SIZE_WINDOW_S: Final = 10.0


class SubscriberQueueLimit:
    """The SNDHWM that keeps one subscriber's queue within a byte budget (pure)."""

    def __init__(self, budget_bytes: int, now: float) -> None:
        if budget_bytes <= 0:
            raise ValueError(f"budget_bytes must be > 0, got {budget_bytes}")
        self._budget = budget_bytes
        self._largest = MESSAGE_FLOOR_BYTES  # in this window
        self._previous = MESSAGE_FLOOR_BYTES  # in the window before
        self._window_ends = now + SIZE_WINDOW_S
        self.hwm = self._limit(MESSAGE_FLOOR_BYTES)

    def _limit(self, size: int) -> int:
        return max(MIN_HWM, min(MAX_HWM, self._budget // max(size, 1)))

    def hwm_for_largest(self, size: int) -> int:
        """The SNDHWM that holds the budget even if every message is `size` bytes."""
        return self._limit(size)

    def on_message(self, size: int, now: float) -> int | None:
        """Before sending `size` bytes: the new SNDHWM to set, or None (unchanged)."""
        if now >= self._window_ends:
            self._previous, self._largest = self._largest, MESSAGE_FLOOR_BYTES
            self._window_ends = now + SIZE_WINDOW_S
        self._largest = max(self._largest, size)
        wanted = self._limit(max(self._largest, self._previous))
        if wanted == self.hwm:
            return None
        self.hwm = wanted
        return wanted


def release_freed_memory() -> bool:
    """Give the heap's free pages back to the system (glibc); False where unknown."""
    trim = _MALLOC_TRIM[0]
    if trim is None:
        return False
    return bool(trim(0))


def _find_malloc_trim() -> Any:
    try:
        libc = ctypes.CDLL(None)
        return libc.malloc_trim
    except (OSError, AttributeError):  # not glibc: nothing to hand back
        return None


_MALLOC_TRIM: Final = [_find_malloc_trim()]
