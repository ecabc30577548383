"""The Clone tree's in-process API: publish and subscribe without TCP.

ClonePublisher: any thread pushes updates on its own inproc PUSH; the Clone I/O thread
reads them like KVSETs from the collector (protocols.md §6.4), so they are numbered,
stored and published the same way. Subscribers: actors told KeyChanged for a prefix.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, Final

import pykka

from raspy.actors import messages as msgs
from raspy.cores import clone as core_mod
from raspy.errors import MalformedMessage
from raspy.protocol import clone
from raspy.transport.pushers import ThreadPushers

# inproc message: [PUBLISH_CHANNEL, *KVSET frames] (the collector's five frames)
PUBLISH_CHANNEL: Final = b"S"


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
            clone.check_key(key)
        except MalformedMessage as exc:
            raise ValueError(str(exc)) from exc
        pairs = tuple((props or {}).items())
        frames = clone.kvset(key, body, uuid.uuid4().bytes, pairs, ttl_s)
        self.send([PUBLISH_CHANNEL, *frames])

    def delete(self, key: bytes) -> None:
        self.set(key, b"")


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
