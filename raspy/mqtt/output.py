"""The MQTT bridge core's vocabulary: the settings it is given, and what it gives
back to its shell (a request to send, a refusal to count, the sweep's (un)subscribe
and its result). Pure data, shared by raspy.mqtt.core and the parts it is made of.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from raspy.controls import Control
from raspy.mqtt.discovery import Discovery
from raspy.mqtt.filters import GlobFilter
from raspy.mqtt.sweep import Subscribe, Swept, Unsubscribe
from raspy.mqtt.topics import TopicMap
from raspy.records import frozen

REQUEST_TIMEOUT_S: Final = 10.0


@frozen
class SendRequest:
    """Send `body` to MDP service `service`; the reply comes back as `request_id`."""

    request_id: int
    service: str
    body: bytes
    # the bridge answers 504 then, and the broker drops it if it is still queued
    patience_s: float = REQUEST_TIMEOUT_S


@frozen
class Refused:
    """A command or key the bridge would not handle (count it; log it rate-limited:
    once a minute per reason, or, with `prefix`, once per that key prefix, as every
    key under it is refused alike). `topic`: a command's, the one it came on."""

    reason: str
    detail: str
    prefix: str = ""
    topic: str = ""


@frozen
class WriteKey:
    """Write `body` at tree key `key` through the hub's in-process Clone publisher
    (a control's value); the link tells BridgeCore the update's uuid, or why not."""

    request_id: int
    key: str
    body: bytes


Output = SendRequest | Refused | Subscribe | Unsubscribe | Swept | WriteKey


@dataclass
class BridgeSettings:
    topics: TopicMap
    exposed: GlobFilter  # tree keys that go out
    commandable: GlobFilter  # device full names MQTT may command
    actions: frozenset[str]  # command actions bridged (set + the kinds' commands)
    discovery: Discovery | None
    scenario_buttons: bool
    max_buffered: int
    # seconds after the first connection before the earlier runs' retained messages
    # this run does not publish are cleared; 0: never (see raspy.mqtt.sweep)
    cleanup_after_s: float = 0.0
    # [[controls]]: their values go out and their commands are taken
    # (raspy.mqtt.controls), whatever `subtrees` and `command_devices` say
    controls: tuple[Control, ...] = ()
    # Home Assistant's birth message topic, heard with discovery on; "": none
    birth_topic: str = "homeassistant/status"
