"""The Clone tree's in-process API: publish and subscribe without TCP.

ClonePublisher: any thread appends updates to the Clone loop's outbox, in memory (no
socket, nothing per thread); the Clone I/O thread reads them like KVSETs from the
collector (docs/protocols.md §6.4), so they are numbered, stored and published the same
way, in the order each thread sent them. Plain sets (no properties, no ttl) from a
device service's poll batch travel as one message holding them all, because the
per-message cost, not the per-update one, dominates at a thousand readings a second.
Subscribers: actors told KeyChanged for a prefix (and, if they ask, KeyRefused for
an in-process write under it that will never be published). The envelope is
raspy.protocol.clone_local.
"""

from __future__ import annotations

import queue
import uuid
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

import pykka

from raspy import packing
from raspy.actors import messages as msgs
from raspy.cores import clone as core_mod
from raspy.errors import MalformedMessage, PackingError
from raspy.protocol import clone
from raspy.protocol.clone_local import BATCH_CHANNEL, PUBLISH_CHANNEL, chunks
from raspy.transport.outbox import Outbox

__all__ = [
    "Backlog",
    "ClonePublisher",
    "Refused",
    "Subscribers",
    "inbox_length",
]

Refused = list[tuple[bytes, str]]
"""Keys a publisher would not send, each with the reason."""
Backlog = Callable[[], int]
"""Messages waiting for a subscriber; called on the Clone I/O thread."""


class ClonePublisher:
    """Publish updates from any thread of raspyd, without TCP: into the Clone loop's
    outbox (CloneLoop.outbox, which the server answers msgs.GetPublishOutbox with).
    Once that server has stopped, what is published is dropped: a restarted server
    has a new outbox, so its users get a new publisher. `max_key_bytes` is the
    server's ([clone] max_key_bytes): a key it would refuse is refused here, with
    the reason, and one it would take is not."""

    def __init__(
        self, outbox: Outbox, max_key_bytes: int = clone.MAX_KEY_BYTES
    ) -> None:
        self.outbox = outbox
        self.max_key_bytes = max_key_bytes

    def send(self, frames: Sequence[bytes]) -> None:
        """Queue one raw message (raspy.protocol.clone_local); never waits."""
        self.outbox.send(frames)

    def set(
        self,
        key: bytes,
        body: bytes,
        props: Mapping[str, str] | None = None,
        ttl_s: float | None = None,
    ) -> None:
        """Queue an update (empty body: delete); ValueError for a key or property §6.2
        forbids. Published once stored; `ttl_s` makes the key ephemeral (§6.6)."""
        self.update(key, body, props, ttl_s)

    def update(
        self,
        key: bytes,
        body: bytes,
        props: Mapping[str, str] | None = None,
        ttl_s: float | None = None,
    ) -> bytes:
        """set(), and the update's uuid, which its KeyChanged (or KeyRefused) carries
        back to a writer that waits for it."""
        try:
            clone.check_path_key(key, self.max_key_bytes)
        except MalformedMessage as exc:
            raise ValueError(str(exc)) from exc
        pairs = tuple((props or {}).items())
        made = uuid.uuid4().bytes
        frames = clone.kvset(key, body, made, pairs, ttl_s)
        self.send([PUBLISH_CHANNEL, *frames])
        return made

    def delete(self, key: bytes) -> None:
        self.set(key, b"")

    def set_many(self, entries: Sequence[tuple[bytes, bytes]]) -> Refused:
        """Queue plain sets (no properties, no ttl) in as few messages as possible;
        the keys §6.2 forbids are left out and returned with the reason."""
        valid, refused = clone.split_by_key(entries, self.max_key_bytes)
        for chunk in chunks(valid):
            try:
                packed = packing.pack(chunk)
            except PackingError as exc:  # one entry alone over the packing limit
                refused.extend((key, str(exc)) for key, _ in chunk)
                continue
            self.send([BATCH_CHANNEL, packed])
        return refused


class Subscribers:
    """Actors subscribed to key prefixes (Clone I/O thread only), and how far behind
    each is (raspy.cores.clone_backlog: the collector waits for the slowest)."""

    def __init__(self) -> None:
        self._entries: list[tuple[bytes, pykka.ActorRef[Any]]] = []
        self._refusals: list[tuple[bytes, pykka.ActorRef[Any]]] = []
        self._backlogs: dict[pykka.ActorRef[Any], Backlog] = {}

    def add(
        self,
        prefix: bytes,
        ref: pykka.ActorRef[Any],
        *,
        refusals: bool = False,
        backlog: Backlog | None = None,
    ) -> None:
        """`backlog`: the messages waiting for `ref` (by default its inbox's); an
        actor that tells changes on to others gives the largest of theirs too."""
        self._entries.append((prefix, ref))
        if refusals:
            self._refusals.append((prefix, ref))
        if backlog is None:
            backlog = partial(inbox_length, ref)
        self._backlogs[ref] = backlog

    def remove(self, ref: pykka.ActorRef[Any], prefix: bytes | None = None) -> None:
        """Forget `ref`'s subscriptions: all of them, or those to `prefix`."""

        def kept(entry: tuple[bytes, pykka.ActorRef[Any]]) -> bool:
            return entry[1] != ref or (prefix is not None and entry[0] != prefix)

        self._entries = [e for e in self._entries if kept(e)]
        self._refusals = [e for e in self._refusals if kept(e)]
        if not any(r == ref for _, r in self._entries):
            self._backlogs.pop(ref, None)

    def largest_backlog(self) -> tuple[int, str]:
        """The most messages waiting for one subscriber, and its name (0, "": none)."""
        largest, name = 0, ""
        for ref, backlog in self._backlogs.items():
            waiting = backlog()
            if waiting > largest:
                largest, name = waiting, _name(ref)
        return largest, name

    def refused(self, key: bytes, uuid: bytes, reason: str) -> None:
        """Tell KeyRefused to every subscriber that asked for refusals under `key`:
        the in-process write `uuid` will never be published."""
        if not uuid or not self._refusals:
            return
        event = msgs.KeyRefused(key, uuid, reason)
        for prefix, ref in list(self._refusals):
            if key.startswith(prefix):
                try:
                    ref.tell(event)
                except pykka.ActorDeadError:
                    self.remove(ref)

    def notify(self, update: core_mod.Update) -> None:
        """Tell KeyChanged to every matching subscriber; forget dead ones."""
        if not self._entries:
            return
        event = msgs.KeyChanged(
            update.key, update.seq, update.body, update.props, update.uuid
        )
        for prefix, ref in list(self._entries):
            if update.key.startswith(prefix):
                try:
                    ref.tell(event)
                except pykka.ActorDeadError:
                    self.remove(ref)


def inbox_length(ref: pykka.ActorRef[Any]) -> int:
    """Messages waiting in an actor's inbox; any thread may ask: a ThreadingActor's
    is a queue.Queue, whose qsize() takes its lock (0 for a test's stand-in)."""
    inbox = getattr(ref, "actor_inbox", None)
    return inbox.qsize() if isinstance(inbox, queue.Queue) else 0


def _name(ref: pykka.ActorRef[Any]) -> str:
    actor_class = getattr(ref, "actor_class", None)
    return type(ref).__name__ if actor_class is None else actor_class.__name__
