"""What CloneClientCore returns: socket actions, changes, write outcomes, events.

Frozen values, no behaviour; re-exported by raspy.cores.clone_client.
"""

from __future__ import annotations

from raspy.protocol import clone
from raspy.records import frozen


@frozen
class Change:
    """A key's new value (empty body: deleted), from an update or a (re-)snapshot."""

    key: bytes
    seq: int
    body: bytes
    props: clone.Props
    from_snapshot: bool = False


@frozen
class Entry:
    seq: int
    body: bytes
    props: clone.Props


@frozen
class Connect:
    """Close every socket; a fresh SUB with these subscriptions, then a fresh XPUB to
    the collector (§6.3 step 1)."""

    subscriptions: tuple[bytes, ...]


@frozen
class AskSnapshot:
    """Close any DEALER, connect a fresh one and send `frames` (§6.3 step 2): a late
    reply to an old request can then never mix in."""

    frames: list[bytes]


@frozen
class EndSnapshot:
    """The snapshot is complete: close the DEALER."""


@frozen
class SendSet:
    """Send a KVSET on the collector socket."""

    uuid: bytes
    frames: list[bytes]


@frozen
class Changed:
    changes: tuple[Change, ...]


@frozen
class Synced:
    """A snapshot completed: the copy is in step with the server."""


@frozen
class Confirmed:
    """The update with `uuid` was published (or went out of our subtree)."""

    uuid: bytes


@frozen
class Failed:
    """The update with `uuid` will not be confirmed: `reason` token, `detail` text."""

    uuid: bytes
    reason: str
    detail: str


@frozen
class Reconnecting:
    reason: str
    seq: int


@frozen
class GapDetected:
    seq: int
    last: int


@frozen
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
