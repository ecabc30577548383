"""Home Assistant MQTT discovery: one retained config message per device (pure).

`<prefix>/<component>/<node_id>/<object_id>/config`, with the fields Home Assistant
documents for each component: temperature and humidity sensors are `sensor`s with
device_class, unit, state_class and the decimals to show; a switch a `switch`; a
dimmer a `light` with brightness (0..100, through `…/set`); a binary input a
`binary_sensor` with the class its config names; a scenario a `button` that runs
it. Every entry names the bridge's availability topic. An empty retained message at
the same topic removes the entity.

The bridge is a device of its own, the hub (`raspy <host>`): every device names it
as `via_device` (the path Home Assistant reaches it by, wherever the device runs),
the scenario buttons are its entities, and so is a connectivity `binary_sensor` on
the availability topic, which keeps the hub in Home Assistant and shows it offline.

A GPIO button with `double_press_s` or `long_press_s` also gets a device trigger
(`device_automation`) for each gesture it can make: Home Assistant's "short press",
"double press" and "long press" of that device, fired by the bridge's message on
`…/<device>/gesture` (raspy.mqtt.core).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from typing import Final

from raspy import json_text
from raspy.controls import Control
from raspy.devices.gpio_gesture import Gesture
from raspy.devices.kinds import STATE_CLASSES
from raspy.devices.template import JsonValue
from raspy.mqtt.controls import control_entity, control_unique
from raspy.mqtt.topics import GESTURE, RUN, TopicMap
from raspy.records import frozen

MANUFACTURER: Final = "raspy"
UNIQUE_PREFIX: Final = "raspy."  # every unique id made here starts so
HUB_MODEL: Final = "raspy hub"
HUB_ENTITY: Final = "hub"  # the hub's entity: `raspy.<host>.hub` (no device has
# a full name of two parts)
DEVICE_COMPONENTS: Final = ("sensor", "binary_sensor", "switch", "light")
TRIGGER_COMPONENT: Final = "device_automation"
# a gesture as Home Assistant's device trigger types name it (its frontend shows
# these in its own words); a GPIO button is the one button of its device
TRIGGER_TYPES: Final = {
    Gesture.SINGLE: "button_short_press",
    Gesture.DOUBLE: "button_double_press",
    Gesture.LONG: "button_long_press",
}
TRIGGER_SUBTYPE: Final = "button_1"
_UNSAFE: Final = re.compile(r"[^A-Za-z0-9_-]")
# Kinds (oid) whose values are numbers Home Assistant can chart
_SENSOR_CLASSES: Final = {
    "sensor.temperature": "temperature",
    "sensor.humidity": "humidity",
    "sensor.wind": "wind_speed",
    "sensor": None,
}
# The units Home Assistant documents for each of those classes: it refuses a whole
# sensor config that pairs a class with another unit, or with none (a humidity in
# `%RH`, a wind speed in `kt`); such a sensor goes out without its class
_CLASS_UNITS: Final = {
    "temperature": frozenset({"°C", "°F", "K"}),
    "humidity": frozenset({"%"}),
    "wind_speed": frozenset({"Beaufort", "ft/s", "km/h", "kn", "m/s", "mph"}),
}
# The dimmer's level (0 = off) as the light's on/off state
# A `null` value (a failed reading, a board gone) as Home Assistant's `None`: its
# on/off entities show unknown for that payload only; `null` would match neither
# payload_on nor payload_off, and the last state would stay as if it were fresh
_NULL_UNKNOWN: Final = "{{ 'None' if value_json is none else value }}"
_LEVEL_STATE: Final = (
    "{{ 'None' if value_json is none else "
    "('ON' if (value_json | int(0)) > 0 else '0') }}"
)
# and as its brightness: Home Assistant ignores an empty one, where float("null")
# would fail at every such message
_LEVEL_BRIGHTNESS: Final = "{{ '' if value_json is none else value_json }}"


def device_unique(fullname: str) -> str:
    """A device's unique id in Home Assistant: `raspy.<host>.<svc>.<device>`."""
    return f"{UNIQUE_PREFIX}{fullname}"


def trigger_unique(fullname: str, gesture: Gesture) -> str:
    """A button's trigger's unique id: `raspy.<host>.<svc>.<device>/<gesture>`."""
    return _trigger_id(device_unique(fullname), gesture)


def _trigger_id(device_id: str, payload: str) -> str:
    """A trigger's id of its device's and its payload (the gesture): what
    trigger_unique writes and own_trigger_unique reads back from a config."""
    return f"{device_id}/{payload}"


def fullname_of_unique(unique: str) -> str:
    """The device's full name in a unique id this module made (of a device, or
    of one of its triggers); a scenario's gives `<host>.scenario.<name>`."""
    return unique[len(UNIQUE_PREFIX) :].split("/", 1)[0]


@frozen
class Entry:
    """A discovery config: its topic and JSON document."""

    topic: str
    config: Mapping[str, JsonValue]

    def payload(self) -> bytes:
        """The config as UTF-8 JSON, keys sorted (a label's lone surrogate escaped)."""
        return json_text.encode(dict(self.config), sort_keys=True)


@frozen
class DeviceInfo:
    """What discovery needs of a device (from its service's `list` reply)."""

    fullname: str
    oid: str
    label: str  # its friendly name, info, or name
    unit: str
    precision: int | None = None  # decimals Home Assistant shows; None: its own
    state_class: str = STATE_CLASSES[0]
    device_class: str = ""  # a binary input's class; "": none
    gestures: tuple[Gesture, ...] = ()  # a GPIO button's (its options say which)


class Discovery:
    """Discovery configs under `prefix` for the topics of `topics`."""

    def __init__(
        self,
        prefix: str,
        topics: TopicMap,
        *,
        qos: int,
        sw_version: str,
        commandable: Callable[[str], bool],
    ) -> None:
        self.prefix = prefix
        self.topics = topics
        self.qos = qos
        self.sw_version = sw_version
        self.commandable = commandable

    @property
    def node_id(self) -> str:
        """This hub's level in its config topics: its host, in [A-Za-z0-9_-]."""
        return _UNSAFE.sub("_", self.topics.host)

    def topic(self, component: str, unique: str) -> str:
        """`<prefix>/<component>/<node_id>/<object_id>/config`; node and object ids
        keep to [A-Za-z0-9_-] (the hash keeps object ids of similar names apart)."""
        node_id = self.node_id
        digest = hashlib.sha256(unique.encode("utf-8")).hexdigest()[:8]
        object_id = f"{_UNSAFE.sub('_', unique)}_{digest}"
        return f"{self.prefix}/{component}/{node_id}/{object_id}/config"

    def is_config_topic(self, topic: str) -> bool:
        """Is `topic` of topic()'s shape, under this hub's node id? With the prefix
        equal to the base topic a state topic starts with the prefix too."""
        levels = topic.split("/")
        first = self.prefix.split("/")
        return (
            len(levels) == len(first) + 4
            and levels[: len(first)] == first
            and levels[-3] == self.node_id
            and levels[-1] == "config"
        )

    @property
    def hub_id(self) -> str:
        """The hub's device identifier, `raspy.<host>` (every `via_device`)."""
        return f"{UNIQUE_PREFIX}{self.topics.host}"

    def _hub_device(self) -> dict[str, JsonValue]:
        return {
            "identifiers": [self.hub_id],
            "name": f"raspy {self.topics.host}",
            "manufacturer": MANUFACTURER,
            "model": HUB_MODEL,
            "sw_version": self.sw_version,
        }

    def _common(
        self, unique_id: str, device_name: str, model: str
    ) -> dict[str, JsonValue]:
        return {
            "unique_id": unique_id,
            "name": None,  # the entity is the device: Home Assistant shows its name
            "availability_topic": self.topics.availability,
            "payload_available": "online",
            "payload_not_available": "offline",
            "qos": self.qos,
            "device": self._device(unique_id, device_name, model),
            "origin": self._origin(),
        }

    def _device(
        self, unique_id: str, device_name: str, model: str
    ) -> dict[str, JsonValue]:
        return {
            "identifiers": [unique_id],
            "name": device_name,
            "manufacturer": MANUFACTURER,
            "model": model,
            "sw_version": self.sw_version,
            "via_device": self.hub_id,
        }

    def own_trigger_unique(self, config: Mapping[str, JsonValue]) -> str | None:
        """The id of a device trigger of a device this hub announces, else None. A
        trigger has no availability topic: its device names this hub as
        `via_device`; its id is its device's identifier and its payload (an
        earlier run's config also had it as its unique_id)."""
        device = config.get("device")
        if config.get("automation_type") != "trigger" or not isinstance(device, dict):
            return None
        identifiers = device.get("identifiers")
        payload = config.get("payload")
        if (
            device.get("via_device") != self.hub_id
            or not isinstance(identifiers, list)
            or not identifiers
            or not isinstance(identifiers[0], str)
            or not isinstance(payload, str)
        ):
            return None
        return _trigger_id(identifiers[0], payload)

    def _origin(self) -> dict[str, JsonValue]:
        return {"name": MANUFACTURER, "sw_version": self.sw_version}

    def hub_entry(self) -> Entry:
        """The hub's connectivity: `online`/`offline` from the availability topic
        itself, with no availability of its own (which would hide the offline)."""
        unique_id = f"{self.hub_id}.{HUB_ENTITY}"
        config: dict[str, JsonValue] = {
            "unique_id": unique_id,
            "name": "Connectivity",
            "device_class": "connectivity",
            "entity_category": "diagnostic",
            "state_topic": self.topics.availability,
            "payload_on": "online",
            "payload_off": "offline",
            "qos": self.qos,
            "device": self._hub_device(),
            "origin": self._origin(),
        }
        return Entry(self.topic("binary_sensor", unique_id), config)

    def is_hub_config(self, unique_id: str, config: Mapping[str, JsonValue]) -> bool:
        """Is this the hub entry of this hub (it names no availability topic)?"""
        return (
            unique_id == f"{self.hub_id}.{HUB_ENTITY}"
            and config.get("state_topic") == self.topics.availability
        )

    def device_topics(self, fullname: str) -> list[str]:
        """Every config topic a device could have had (whatever its kind was, and
        a button's triggers)."""
        unique = device_unique(fullname)
        return [self.topic(c, unique) for c in DEVICE_COMPONENTS] + [
            self.topic(TRIGGER_COMPONENT, trigger_unique(fullname, g)) for g in Gesture
        ]

    def trigger_entries(self, info: DeviceInfo) -> list[Entry]:
        """A button's device triggers, one per gesture its options make: Home
        Assistant subscribes to `…/<device>/gesture` and fires the one whose
        payload came. No availability and no unique id: a trigger is no entity
        (its device is), and Home Assistant's trigger fields have neither; its id
        (trigger_unique, which names its topic) is its device's and its payload."""
        unique_id = device_unique(info.fullname)
        topic = self.topics.device_topic(info.fullname, GESTURE)
        entries: list[Entry] = []
        for gesture in info.gestures:
            trigger_id = trigger_unique(info.fullname, gesture)
            config: dict[str, JsonValue] = {
                "automation_type": "trigger",
                "topic": topic,
                "payload": gesture.value,
                "type": TRIGGER_TYPES[gesture],
                "subtype": TRIGGER_SUBTYPE,
                "qos": self.qos,
                "device": self._device(unique_id, info.label, info.oid),
                "origin": self._origin(),
            }
            entries.append(Entry(self.topic(TRIGGER_COMPONENT, trigger_id), config))
        return entries

    def device_entry(self, info: DeviceInfo) -> Entry | None:
        """The config of a device, or None for a kind Home Assistant is not shown."""
        unique_id = device_unique(info.fullname)
        value = self.topics.device_topic(info.fullname, "value")
        command = self.topics.device_topic(info.fullname, "set")
        config = self._common(unique_id, info.label, info.oid)
        commandable = self.commandable(info.fullname)
        oid = info.oid
        if oid == "switch" and not commandable:
            oid = "sensor.binary"
        if oid == "dimmer" and not commandable:
            oid, info = "sensor", DeviceInfo(info.fullname, oid, info.label, "%")
        if oid in _SENSOR_CLASSES:
            component = "sensor"
            config["state_topic"] = value
            config["value_template"] = "{{ value_json }}"
            config["state_class"] = info.state_class
            if info.precision is not None:
                config["suggested_display_precision"] = info.precision
            device_class = _SENSOR_CLASSES[oid]
            if device_class is not None and info.unit in _CLASS_UNITS[device_class]:
                config["device_class"] = device_class
            if info.unit:
                config["unit_of_measurement"] = info.unit
        elif oid == "sensor.binary":
            component = "binary_sensor"
            config.update(
                state_topic=value,
                value_template=_NULL_UNKNOWN,
                payload_on="true",
                payload_off="false",
            )
            if info.device_class:
                config["device_class"] = info.device_class
        elif oid == "switch":
            component = "switch"
            config.update(
                state_topic=value,
                value_template=_NULL_UNKNOWN,
                command_topic=command,
                payload_on="true",
                payload_off="false",
                state_on="true",
                state_off="false",
            )
        elif oid == "dimmer":
            component = "light"
            config.update(  # the basic schema: no `schema` key (`default` is refused)
                state_topic=value,
                state_value_template=_LEVEL_STATE,
                command_topic=command,
                payload_off="0",
                on_command_type="brightness",
                brightness_state_topic=value,
                brightness_value_template=_LEVEL_BRIGHTNESS,
                brightness_command_topic=command,
                brightness_scale=100,
            )
        else:
            return None
        return Entry(self.topic(component, unique_id), config)

    def scenario_entry(self, name: str) -> Entry:
        """A button that runs scenario `name` (`…/scenario/<name>/run`), an entity of
        the hub's (a scenario runs there; it is no device of its own)."""
        unique_id = f"{UNIQUE_PREFIX}{self.topics.host}.scenario.{name}"
        config = self._hub_entity(unique_id, name, "scenario")
        config["command_topic"] = self.topics.scenario_topic(name, RUN)
        config["payload_press"] = "PRESS"
        return Entry(self.topic("button", unique_id), config)

    def control_entry(self, control: Control, state: str, command: str) -> Entry:
        """A control's number, switch, select or text (raspy.mqtt.controls), an
        entity of the hub's named by the control's label; its unique id is made of
        its key."""
        unique_id = control_unique(self.topics.host, control.key)
        entity = control_entity(control, state, command)
        config = self._hub_entity(unique_id, control.label, "control")
        config.update(entity.fields)
        return Entry(self.topic(entity.component, unique_id), config)

    def _hub_entity(
        self, unique_id: str, name: str, model: str
    ) -> dict[str, JsonValue]:
        """The common fields of an entity of the hub's own, named `name`."""
        config = self._common(unique_id, name, model)
        config["name"] = name
        config["device"] = self._hub_device()
        return config
