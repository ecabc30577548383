"""What BrokerCore returns: messages to send and events to count and log.

Frozen values, no behaviour.
"""

from __future__ import annotations

from dataclasses import dataclass

from raspy.protocol import mdp
from raspy.records import frozen


@dataclass(slots=True)  # not frozen: built per request (hot path)
class Send:
    """Send `frames` (peer view) to `peer`."""

    peer: bytes
    frames: list[bytes]


@frozen
class Rejected:
    """An invalid or unexpected message was dropped; `frames` is its frame count."""

    peer: bytes
    reason: str
    detail: str
    frames: int


@frozen
class WorkerRegistered:
    """A worker sent READY and now serves `service`."""

    service: bytes
    worker: bytes
    version: mdp.Version


@frozen
class WorkerRemoved:
    """A worker is forgotten: disconnect, expired, unreachable, protocol_error,
    shutdown, or its in-process actor owner_dead or detached."""

    service: bytes
    worker: bytes
    reason: str


@frozen
class RequestDropped:
    """A request was dropped: expired, queue_full, queue_total_full,
    too_many_services, reply_overflow, workers_lost, partial_lost, abandoned or
    shutdown."""

    service: bytes
    client: bytes
    reason: str


@frozen
class ServiceAvailability:
    """A service went from 0 to 1 live workers (available) or from 1 to 0."""

    service: bytes
    available: bool


@dataclass(slots=True)  # not frozen: built per request (hot path)
class LocalRequest:
    """Hand `request` from `client` to the in-process handler of its service (no
    worker in between); the handler answers the client itself (handle_locally)."""

    client: bytes
    request: mdp.ClientRequest


BrokerOutput = (
    Send
    | LocalRequest
    | Rejected
    | WorkerRegistered
    | WorkerRemoved
    | RequestDropped
    | ServiceAvailability
)
