"""TitanicCore's inputs and outputs: who asked, what to write, what to answer.

Frozen values only (docs/protocols.md §5); the state machine is raspy.cores.titanic.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from raspy.protocol import mdp
from raspy.records import frozen


@frozen
class Caller:
    """Who asked: the in-process worker that got the request, and the client address.

    A request handed over by the broker without a worker has worker b"", and the
    client's MDP `version` and the titanic.* `service` it asked, to answer it directly.
    """

    worker: bytes
    client: bytes
    version: mdp.Version | None = None
    service: bytes = b""


@frozen
class StoredRequest:
    """A request as read back from the store at start-up."""

    uuid: str
    service: bytes
    body: tuple[bytes, ...]
    created: float  # wall_ts


# ---------------------------------------------------------------- writes


@dataclass(slots=True)  # not frozen: built per request (hot path)
class PutRequest:
    uuid: str
    service: bytes
    body: tuple[bytes, ...]
    created: float  # wall_ts


@dataclass(slots=True)  # not frozen: built per request (hot path)
class PutQueue:
    """Queue entry; dispatch order is `order` (oldest first)."""

    order: int
    uuid: str


@dataclass(slots=True)  # not frozen: built per request (hot path)
class PutReply:
    uuid: str
    body: tuple[bytes, ...]
    done: float  # wall_ts


@frozen
class DeleteRequest:
    uuid: str


@frozen
class DeleteReply:
    uuid: str


@dataclass(slots=True)  # not frozen: built per request (hot path)
class DeleteQueue:
    order: int
    uuid: str


Write = PutRequest | PutQueue | PutReply | DeleteRequest | DeleteReply | DeleteQueue


# ---------------------------------------------------------------- outputs


@dataclass(slots=True)  # not frozen: built per request (hot path)
class Answer:
    """Reply to `caller` with these body frames (one FINAL)."""

    caller: Caller
    body: tuple[bytes, ...]


@dataclass(slots=True)  # not frozen: built per request (hot path)
class AnswerStored:
    """Reply `[b"200", *stored reply]` to `caller` from the store; 500 if that fails."""

    caller: Caller
    uuid: str


@dataclass(slots=True)  # not frozen: built per request (hot path)
class Persist:
    """Commit these writes in one transaction, then call on_committed(token, ok)."""

    token: int
    writes: tuple[Write, ...]


@dataclass(slots=True)  # not frozen: built per request (hot path)
class Dispatch:
    """Send the request to `service` as a client on dispatcher slot `slot`."""

    slot: int
    uuid: str
    service: bytes
    body: tuple[bytes, ...]
    attempt: int


@frozen
class OpenSlot:
    """Make dispatcher slot `slot` routable before anything is dispatched on it."""

    slot: int


@frozen
class CloseSlot:
    """Stop routing slot `slot` (its attempt timed out; a late reply is dropped)."""

    slot: int


class Event(StrEnum):
    """What is counted in Stats as `titanic.<event>` and logged by the shell."""

    ACCEPTED = "accepted"
    RETRIED = "retried"
    DONE = "done"
    CLOSED = "closed"
    FAILED = "failed"
    EXPIRED = "expired"
    REJECTED = "rejected"
    OVER_QUOTA = "over_quota"  # refused with 500: [limits] titanic_pending_*
    REPLY_DROPPED = "reply_dropped"
    # a stored request for a service Titanic does not relay: refused, never sent
    NOT_RELAYED = "not_relayed"


@dataclass(slots=True)  # not frozen: built per request (hot path)
class Noted:
    """Something worth counting (and, for some events, logging)."""

    event: Event
    uuid: str = ""
    reason: str = ""


Output = Answer | AnswerStored | Persist | Dispatch | OpenSlot | CloseSlot | Noted
