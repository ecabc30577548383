"""The in-process envelope between ClonePublisher and the Clone server (no TCP).

A message in the server's outbox is [PUBLISH_CHANNEL, *KVSET frames] (the
collector's five frames, docs/protocols.md §6.4) or [BATCH_CHANNEL, msgpack
[[key, body], ...]] for up to BATCH_LIMIT plain sets: at a thousand readings a second
the per-message cost, not the per-update one, dominates. Pure: no state, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Final

from raspy import packing
from raspy.errors import MalformedMessage, PackingError
from raspy.records import frozen

PUBLISH_CHANNEL: Final = b"S"
BATCH_CHANNEL: Final = b"B"
BATCH_LIMIT: Final = 1000
BATCH_BYTES: Final = 1024 * 1024

Entries = list[tuple[bytes, bytes]]


@frozen
class LocalKvset:
    """One update with the collector's frames (uuid, properties and ttl allowed)."""

    frames: Sequence[bytes]


@frozen
class LocalBatch:
    """Plain sets (no properties, no ttl), in the order they were published."""

    entries: Entries


def decode_local(frames: Sequence[bytes]) -> LocalKvset | LocalBatch:
    """A message from the outbox; MalformedMessage if it is none of the two."""
    channel = frames[0] if frames else b""
    if channel == PUBLISH_CHANNEL:
        return LocalKvset(frames[1:])
    if channel == BATCH_CHANNEL and len(frames) == 2:
        return LocalBatch(unpack_batch(frames[1]))
    raise MalformedMessage("clone", "bad_channel")


def chunks(entries: Entries) -> Iterator[Entries]:
    """At most BATCH_LIMIT entries and about BATCH_BYTES per message (a larger entry
    travels alone)."""
    chunk: Entries = []
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


def unpack_batch(frame: bytes) -> Entries:
    """The entries of a BATCH_CHANNEL message; MalformedMessage if it is not one."""
    try:
        entries = packing.unpack(frame)
    except PackingError as exc:
        raise MalformedMessage("clone", "bad_batch", str(exc)) from exc
    if not isinstance(entries, list) or len(entries) > BATCH_LIMIT:
        raise MalformedMessage("clone", "bad_batch", "not a list of entries")
    out: Entries = []
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
