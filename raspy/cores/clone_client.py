"""CloneClientCore: the client side of RFC 12/CHP (docs/protocols.md §6.3-§6.7), sans-IO.

Subscribe, wait for the first HUGZ or KVPUB (the subscription is live), ICANHAZ? on a fresh
DEALER, KVSYNCs until KTHXBAI while updates wait, then apply updates newer than the
snapshot. Silence for `server_ttl_s` reconnects with fresh sockets (§6.5), and so does a
publisher connection made again (what was published while it was down is lost); a
whole-map client re-snapshots on a sequence gap (§6.7). KVSETs go out once the collector listens
(§1.6) and are resent with the same UUID until seen on the publisher (§6.4), at most
`max_unconfirmed` waiting; the first resend while live also asks a snapshot, which
confirms an update whose echo was lost if it holds the value written. No sockets, no
clock, no logging: time comes in, outputs go.

The parts: clone_client_state (the settings, the counters, the phase, a connection's
session), clone_client_writes (CloneWrites, its base class: the KVSETs and their
resends), clone_client_output (what it returns); this module is the connection, the
publisher's updates and the snapshot.
"""

from __future__ import annotations

from collections.abc import Sequence

from raspy.cores.clone_client_output import (
    AskSnapshot,
    Change,
    Changed,
    ClientOutput,
    Confirmed,
    Connect,
    EndSnapshot,
    Entry,
    Failed,
    GapDetected,
    Reconnecting,
    Rejected,
    SendSet,
    Synced,
)
from raspy.cores.clone_client_state import COUNTS, ClientSettings, Phase, Session
from raspy.cores.clone_client_writes import CloneWrites, PendingSet
from raspy.errors import MalformedMessage
from raspy.protocol import clone

__all__ = [
    "AskSnapshot",
    "Change",
    "Changed",
    "ClientOutput",
    "CloneClientCore",
    "Confirmed",
    "Connect",
    "EndSnapshot",
    "Entry",
    "Failed",
    "GapDetected",
    "Reconnecting",
    "Rejected",
    "SendSet",
    "Synced",
]


class CloneClientCore(CloneWrites):
    """One client session of one subtree (b"": the whole map). Not thread-safe."""

    def __init__(self, subtree: bytes, settings: ClientSettings) -> None:
        self.subtree = subtree
        self.settings = settings
        self.cache: dict[bytes, Entry] = {}
        self.last_seq = 0
        self.live = False
        self.counts: dict[str, int] = dict.fromkeys(COUNTS, 0)
        self._session = Session(heard_at=0.0)
        self._sets: dict[bytes, PendingSet] = {}
        self._echoed: list[bytes] = []  # published by the server, not yet in the cache

    @property
    def phase(self) -> Phase:
        return self._session.phase

    # --- connection (§6.3 steps 1-2, §6.5) ------------------------------------------
    def start(self, now: float) -> list[ClientOutput]:
        """The first connection."""
        return [self._connect(now)]

    def _connect(self, now: float) -> Connect:
        self._session = Session(heard_at=now)
        for pending in self._sets.values():
            pending.sent_at = None  # resend on the new connection, same UUID
        if self.subtree:
            return Connect((self.subtree, clone.HUGZ))
        return Connect((b"",))  # covers HUGZ too

    def resync(self, now: float) -> list[ClientOutput]:
        """Start over with new sockets and a new snapshot, as after a silent server:
        for a caller that knows the server was replaced while its publisher stayed
        within `server_ttl_s`. A server on a store older than what this cache saw
        (restored from a dump) numbers its updates from below `last_seq`, and they
        would all be taken for ones already had; its snapshot sets `last_seq` back."""
        return self._reconnect("asked", now)

    def on_publisher_connected(self, now: float) -> list[ClientOutput]:
        """The SUB's connection to the publisher is made (its handshake is done). A
        second one in a session means the first was lost: the publisher dropped what
        it published meanwhile, and no sequence shows that to a subtree client (§6.7).
        A server replaced meanwhile (restarted, or restored from an older dump) may
        also number its updates from below `last_seq`, which would all be taken for
        ones already had. Start over, as after a silent server: a new snapshot."""
        session = self._session
        session.publisher_connections += 1
        if session.publisher_connections == 1:
            return []
        return self._reconnect("publisher_reconnected", now)

    def _reconnect(self, reason: str, now: float) -> list[ClientOutput]:
        self.counts["reconnects"] += 1
        self.live = False
        return [Reconnecting(reason, self.last_seq), self._connect(now)]

    def _ask_snapshot(self, now: float) -> AskSnapshot:
        session = self._session
        session.phase = Phase.SNAPSHOT
        session.snapshot = {}
        session.snapshot_at = now
        self.counts["snapshots"] += 1
        return AskSnapshot(clone.encode_icanhaz(self.subtree))

    def next_deadline(self) -> float | None:
        """When on_tick() must run: server silence, a stalled snapshot, a resend."""
        session, ttl_s = self._session, self.settings.server_ttl_s
        deadline = session.heard_at + ttl_s
        if session.phase is Phase.SNAPSHOT:
            deadline = min(deadline, session.snapshot_at + ttl_s)
        if self._can_send():
            resend_s = self.settings.resend_s
            for pending in self._sets.values():
                if pending.sent_at is None:
                    return min(deadline, 0.0)
                deadline = min(deadline, pending.sent_at + resend_s)
        return deadline

    def on_tick(self, now: float) -> list[ClientOutput]:
        session, ttl_s = self._session, self.settings.server_ttl_s
        if now - session.heard_at >= ttl_s:
            return self._reconnect("server_silent", now)  # §6.5: no KVPUB, no HUGZ
        if session.phase is Phase.SNAPSHOT and now - session.snapshot_at >= ttl_s:
            return self._reconnect("snapshot_stalled", now)
        return self._send_due(now)

    # --- the publisher (§6.3 step 4, §6.4, §6.5) ------------------------------------
    def on_update(self, frames: Sequence[bytes], now: float) -> list[ClientOutput]:
        """A message from the SUB: KVPUB or HUGZ."""
        session = self._session
        session.heard_at = now
        msg = self._decode(frames, "publisher")
        if isinstance(msg, Rejected):
            return [msg]
        out: list[ClientOutput] = []
        if session.phase is Phase.WAIT_HUGZ:
            # §6.3 raspy: a HUGZ, or a KVPUB from a server that sends HUGZ only when
            # idle (RFC 12), proves the subscription live: now ask for the snapshot,
            # which holds that KVPUB (asked after it came: see _finish_snapshot)
            out.append(self._ask_snapshot(now))
            out += self._send_due(now)
            if msg.key != clone.HUGZ:
                session.asked_after = msg.seq
        if msg.key == clone.HUGZ:  # §6.5: never an update, whatever its seq
            return out
        if not msg.key.startswith(self.subtree):
            # §1.5: the HUGZ subscription is a byte prefix, so keys such as HUGZILLA
            # come through too; §6.7: they are not part of this subtree's copy
            return out
        ours = msg.uuid and self._sets.pop(msg.uuid, None) is not None
        if session.phase is Phase.SNAPSHOT:
            session.pending.append(msg)
            if len(session.pending) > self.settings.max_pending_updates:
                out += self._reconnect("pending_overflow", now)
        elif session.phase is Phase.LIVE:
            out += self._apply(msg, now)
        if ours:
            # read-your-writes: confirmed once the cache holds it (live), else once
            # the snapshot under way (which the server's copy will be in) is applied
            if self.live:
                out.append(Confirmed(msg.uuid))
            else:
                self._echoed.append(msg.uuid)
        return out

    def _apply(self, msg: clone.KvMsg, now: float) -> list[ClientOutput]:
        if msg.seq <= self.last_seq:
            return []  # the snapshot or an earlier KVPUB already had it
        if not self.subtree and msg.seq != self.last_seq + 1:
            # §6.7: only a whole-map client can tell a lost update from a filtered one
            self.counts["gaps"] += 1
            self.live = False
            gap = GapDetected(msg.seq, self.last_seq)
            ask = self._ask_snapshot(now)
            self._session.pending = [msg]
            self._session.asked_after = msg.seq
            return [gap, ask]
        self.last_seq = msg.seq
        held = self.cache.get(msg.key)
        if held is not None and held.seq >= msg.seq:
            # §6.3 raspy: a server may send a KVSYNC numbered above its KTHXBAI, and
            # that update's KVPUB (and older ones of the same key) still come after
            # it: the cache has this key's update or a later one, which an older
            # value must not replace. The number still counts, so the next one is
            # no gap.
            return []
        if msg.body:
            self.cache[msg.key] = Entry(msg.seq, msg.body, msg.props)
        else:
            self.cache.pop(msg.key, None)
        return [Changed((Change(msg.key, msg.seq, msg.body, msg.props),))]

    # --- the snapshot (§6.3 step 3) -------------------------------------------------
    def on_snapshot(self, frames: Sequence[bytes], now: float) -> list[ClientOutput]:
        """A message from the DEALER: KVSYNC or KTHXBAI."""
        session = self._session
        if session.phase is not Phase.SNAPSHOT:
            return []  # a DEALER the shell has not closed yet: nothing asked
        session.snapshot_at = now
        msg = self._decode(frames, "snapshot")
        if isinstance(msg, Rejected):
            return [msg]
        if msg.key == clone.KTHXBAI:
            return self._finish_snapshot(msg.seq, now)
        if msg.body:
            session.snapshot[msg.key] = Entry(msg.seq, msg.body, msg.props)
        else:
            session.snapshot.pop(msg.key, None)
        return []

    def _finish_snapshot(self, seq: int, now: float) -> list[ClientOutput]:
        session = self._session
        old, self.cache = self.cache, session.snapshot
        session.snapshot = {}
        # RFC 12's KTHXBAI carries the highest KVSYNC sequence (zero when KVSYNCs
        # carry zero), which can lie far below the server's own. A snapshot asked
        # after an update came holds that update (a server applies an update before
        # it publishes it): the client goes on from its number. Taken as a gap
        # again, it would ask for the same snapshot for ever; applied again over the
        # snapshot, it would put back a value a later, lost update had replaced.
        # raspy's server answers at least that number.
        self.last_seq = max(seq, session.asked_after)
        session.asked_after = 0
        self.live = True
        session.phase = Phase.LIVE
        out: list[ClientOutput] = [EndSnapshot()]
        changes = _diff(old, self.cache, seq)
        if changes:
            out.append(Changed(changes))
        waiting, session.pending = session.pending, []
        for msg in waiting:  # §6.3 step 4: only what the snapshot did not contain
            if session.phase is Phase.LIVE:
                out += self._apply(msg, now)
            else:
                session.pending.append(msg)  # a gap started a new snapshot
        if session.phase is not Phase.LIVE:
            return out  # not in step: a new snapshot is under way
        if self._echoed:
            out += [Confirmed(uuid) for uuid in self._echoed]
            self._echoed = []
        out += self._confirmed_by_snapshot()
        out.append(Synced())
        return out

    def _decode(self, frames: Sequence[bytes], where: str) -> clone.KvMsg | Rejected:
        try:
            return clone.decode_kvmsg(frames)
        except MalformedMessage as exc:
            self.counts["rejected"] += 1
            return Rejected(where, exc.reason)


def _diff(
    old: dict[bytes, Entry], new: dict[bytes, Entry], seq: int
) -> tuple[Change, ...]:
    """What a snapshot changed in the cache, in key order (deletions included)."""
    changes = [
        Change(key, entry.seq, entry.body, entry.props, from_snapshot=True)
        for key, entry in new.items()
        if (prior := old.get(key)) is None or prior.body != entry.body
    ]
    changes += [
        Change(key, seq, b"", (), from_snapshot=True) for key in old if key not in new
    ]
    return tuple(sorted(changes, key=lambda change: change.key))
