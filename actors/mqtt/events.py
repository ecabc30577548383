"""What the bridge actor submits to its MQTT link (any thread to the link's runner),
and the link's one control command."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Seed:
    items: tuple[tuple[str, bytes], ...]


@dataclass(frozen=True, slots=True)
class TreeChanged:
    key: str
    body: bytes


@dataclass(frozen=True, slots=True)
class ServiceUp:
    service: str


@dataclass(frozen=True, slots=True)
class Replied:
    request_id: int
    body: tuple[bytes, ...]


Event = Seed | TreeChanged | ServiceUp | Replied


@dataclass(frozen=True, slots=True)
class GetLinkStats:
    """A control command: the link's state for tests and statistics."""
