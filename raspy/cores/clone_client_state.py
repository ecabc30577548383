"""What a Clone client holds (raspy.cores.clone_client): its settings, its counters,
its phase, and what one connection (fresh sockets) knows. Pure data, no logic."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Final

from raspy.cores.clone_client_output import Entry
from raspy.protocol import clone
from raspy.records import frozen


class Phase(Enum):
    WAIT_HUGZ = "wait_hugz"
    SNAPSHOT = "snapshot"
    LIVE = "live"


@frozen
class ClientSettings:
    server_ttl_s: float = 5.0  # silence that declares the server dead (§6.5)
    resend_s: float = 2.0  # an unconfirmed KVSET goes again after this (§6.4)
    max_set_attempts: int = 5
    max_unconfirmed: int = 10_000  # past it, the oldest unconfirmed update fails
    max_pending_updates: int = 1_000_000  # buffered during a snapshot, then reconnect


COUNTS: Final = (
    "snapshots",
    "gaps",
    "reconnects",
    "rejected",
    "resends",
    "set_failed",
    "set_dropped",
)


@dataclass
class Session:
    """What one connection (fresh sockets) knows; a reconnect starts a new one."""

    heard_at: float
    phase: Phase = Phase.WAIT_HUGZ
    snapshot_at: float = 0.0
    snapshot: dict[bytes, Entry] = field(default_factory=dict)
    pending: list[clone.KvMsg] = field(default_factory=list)
    # the update after which the snapshot under way was asked (a gap's, or the first
    # KVPUB of a server that sends HUGZ only when idle): it holds it (0: none)
    asked_after: int = 0
    collector_listens: bool = False
    publisher_connections: int = 0
