"""What CloneClientCore returns: socket actions, changes, write outcomes, events.

Frozen values, no behaviour; re-exported by raspy.cores.clone_client.
"""

from __future__ import annotations

from dataclasses import dataclass

from raspy.protocol import clone


@dataclass(frozen=True, slots=True)
class Change:
    """A key's new value (empty body: deleted), from an update or a (re-)snapshot."""

    key: bytes
    seq: int
    body: bytes
    props: clone.Props
    from_snapshot: bool = False


@dataclass(frozen=True, slots=True)
class Entry:
    seq: int
    body: bytes
    props: clone.Props


@dataclass(frozen=True, slots=True)
class Connect:
    """Close every socket; a fresh SUB with these subscriptions, then a fresh XPUB to
    the collector (§6.3 step 1)."""

    subscriptions: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class AskSnapshot:
    """Close any DEALER, connect a fresh one and send `frames` (§6.3 step 2): a late
    reply to an old request can then never mix in."""

    frames: list[bytes]


@dataclass(frozen=True, slots=True)
class EndSnapshot:
    """The snapshot is complete: close the DEALER."""


@dataclass(frozen=True, slots=True)
class SendSet:
    """Send a KVSET on the collector socket."""

    uuid: bytes
    frames: list[bytes]


@dataclass(frozen=True, slots=True)
class Changed:
    changes: tuple[Change, ...]


@dataclass(frozen=True, slots=True)
class Synced:
    """A snapshot completed: the copy is in step with the server."""


@dataclass(frozen=True, slots=True)
class Confirmed:
    """The update with `uuid` was published (or went out of our subtree)."""

    uuid: bytes


@dataclass(frozen=True, slots=True)
class Failed:
    """The update with `uuid` will not be confirmed: `reason` token, `detail` text."""

    uuid: bytes
    reason: str
    detail: str


@dataclass(frozen=True, slots=True)
class Reconnecting:
    reason: str
    seq: int


@dataclass(frozen=True, slots=True)
class GapDetected:
    seq: int
    last: int


@dataclass(frozen=True, slots=True)
class Rejected:
    """A message that does not decode; `where`: publisher or snapshot."""

    where: str
    reason: str


ClientOutput = (
    Connect
    | AskSnapshot
    | EndSnapshot
    | SendSet
    | Changed
    | Synced
    | Confirmed
    | Failed
    | Reconnecting
    | GapDetected
    | Rejected
)
