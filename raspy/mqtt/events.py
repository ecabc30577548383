"""What the bridge's actor hands its MQTT link (from its own thread), and how each
event goes into BridgeCore on the link's thread (pure: time is passed in)."""

from __future__ import annotations

from raspy.mqtt.core import BridgeCore, Output
from raspy.records import frozen


@frozen
class Seed:
    items: tuple[tuple[str, bytes], ...]


@frozen
class TreeChanged:
    key: str
    body: bytes
    uuid: bytes = b""  # its writer's (a control's write this bridge made)


@frozen
class WriteRefused:
    """The Clone server will not publish the in-process update `uuid`."""

    uuid: bytes
    reason: str


@frozen
class ServiceUp:
    service: str


@frozen
class ServiceDown:
    service: str


@frozen
class Replied:
    request_id: int
    body: tuple[bytes, ...]


Event = Seed | TreeChanged | ServiceUp | ServiceDown | Replied | WriteRefused


class Feed:
    """Events into one BridgeCore; counts the tree changes (the link's statistics:
    what the subscription brought, the seed apart)."""

    def __init__(self, core: BridgeCore) -> None:
        self.core = core
        self.tree_changes = 0

    def __call__(self, event: Event, now: float) -> list[Output]:
        core = self.core
        match event:
            case TreeChanged(key=key, body=body, uuid=made):
                self.tree_changes += 1
                return core.key_changed(key, body, now, made)
            case WriteRefused(uuid=made, reason=reason):
                return core.write_refused(made, reason)
            case Replied(request_id=request_id, body=body):
                return core.reply(request_id, list(body), now)
            case ServiceUp(service=service):
                return core.service_available(service, now)
            case ServiceDown(service=service):
                return core.service_gone(service)
            case Seed(items=items):
                return core.seed(list(items), now)
