"""A Clone client's writes (docs/protocols.md §6.4), under CloneClientCore
(raspy.cores.clone_client): a KVSET queued, sent once the collector listens, resent
with the same UUID until its echo comes, failed or dropped past the limits, and
confirmed by a snapshot that holds the value written when its echo was lost.

A base class of CloneClientCore, so that no call goes through another object (the
path of every update); CloneClientCore's __init__ sets the state declared here.
Sans-IO, as the core: the time comes in, outputs go.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from raspy.cores.clone_client_output import (
    AskSnapshot,
    ClientOutput,
    Confirmed,
    Entry,
    Failed,
    SendSet,
)
from raspy.cores.clone_client_state import ClientSettings, Phase, Session
from raspy.errors import shown

_SUBSCRIBED: Final = b"\x01"  # XPUB: a peer's subscribe message starts with it (§1.6)
_UNSUBSCRIBED: Final = b"\x00"


@dataclass
class PendingSet:
    key: bytes
    frames: list[bytes]
    sent_at: float | None = None
    attempts: int = 0
    resynced: bool = False  # a snapshot was asked because its echo was late


class CloneWrites:
    """set, on_collector, close and the resends: what becomes of the KVSETs."""

    # set by CloneClientCore.__init__
    subtree: bytes
    settings: ClientSettings
    cache: dict[bytes, Entry]
    live: bool
    counts: dict[str, int]
    _session: Session
    _sets: dict[bytes, PendingSet]  # unconfirmed, by UUID, oldest first
    _echoed: list[bytes]  # published by the server, not yet in the cache
    _ask_snapshot: Callable[[float], AskSnapshot]  # CloneClientCore's

    def _confirmed_by_snapshot(self) -> list[ClientOutput]:
        """Resent updates whose echo never came but whose value the snapshot holds
        (read-your-writes: the server's copy is what was written)."""
        out: list[ClientOutput] = []
        for uuid, pending in list(self._sets.items()):
            if not pending.resynced:
                continue
            body = pending.frames[-1]  # KVSET: key, seq, uuid, properties, body
            entry = self.cache.get(pending.key)
            if (entry.body == body) if entry is not None else not body:
                del self._sets[uuid]
                out.append(Confirmed(uuid))
        return out

    def set(
        self, key: bytes, uuid: bytes, frames: list[bytes], now: float
    ) -> list[ClientOutput]:
        """Queue a KVSET (`frames`, carrying `uuid`) until it is published."""
        self._sets[uuid] = PendingSet(key, frames)
        out: list[ClientOutput] = []
        limit = self.settings.max_unconfirmed
        if len(self._sets) > limit:
            # memory stays bounded while the server is away: the oldest fails
            oldest = next(iter(self._sets))
            dropped = self._sets.pop(oldest)
            self.counts["set_dropped"] += 1
            detail = (
                f"update of {shown(dropped.key)} dropped: more than "
                f"{limit} updates unconfirmed"
            )
            out.append(Failed(oldest, "dropped", detail))
        return out + self._send_due(now)

    def on_collector(self, frames: Sequence[bytes], now: float) -> list[ClientOutput]:
        """A message from the XPUB: the collector's (un)subscription (§1.6)."""
        if frames and frames[0][:1] in (_SUBSCRIBED, _UNSUBSCRIBED):
            self._session.collector_listens = frames[0][:1] == _SUBSCRIBED
        return self._send_due(now)

    def _can_send(self) -> bool:
        # both ways must be live: the collector hears us, and we hear the echo
        session = self._session
        return session.collector_listens and session.phase is not Phase.WAIT_HUGZ

    def _send_due(self, now: float) -> list[ClientOutput]:
        if not self._sets or not self._can_send():
            return []
        out: list[ClientOutput] = []
        settings = self.settings
        for uuid, pending in list(self._sets.items()):
            if (
                pending.sent_at is not None
                and now - pending.sent_at < settings.resend_s
            ):
                continue
            if pending.attempts >= settings.max_set_attempts:
                del self._sets[uuid]
                self.counts["set_failed"] += 1
                detail = f"update of {shown(pending.key)} never confirmed"
                out.append(Failed(uuid, "never_confirmed", detail))
                continue
            out.append(SendSet(uuid, pending.frames))
            self.counts["resends"] += 1 if pending.attempts else 0
            pending.attempts += 1
            pending.sent_at = now
            if not pending.key.startswith(self.subtree):
                del self._sets[uuid]  # outside our subtree: its echo never reaches us
                out.append(Confirmed(uuid))
            elif pending.attempts > 1 and not pending.resynced:
                out += self._resync(pending, now)
        return out

    def _resync(self, pending: PendingSet, now: float) -> list[ClientOutput]:
        """A resend while live: the echo may have been lost (a server cuts off a
        subscriber that falls behind, and when that update is the last one for a
        while no gap shows it); a resent KVSET the server already applied is dropped
        as a duplicate, so only a snapshot can tell. Once per update."""
        pending.resynced = True
        if self._session.phase is not Phase.LIVE:
            return []  # a snapshot is under way (or to come): it will tell
        self.live = False
        return [self._ask_snapshot(now)]

    def close(self) -> list[ClientOutput]:
        """Every unconfirmed update fails."""
        detail = "clone client closed before the update was confirmed"
        out: list[ClientOutput] = [
            Failed(uuid, "closed", detail) for uuid in self._sets
        ]
        self._sets.clear()
        # the server published these: stored, though this cache never showed them
        out += [Confirmed(uuid) for uuid in self._echoed]
        self._echoed = []
        return out
