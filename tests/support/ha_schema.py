"""Home Assistant's MQTT discovery schema, as its MQTT docs write it, for the tests
that check raspy's configs field by field: the discovery topic, the entity fields
every MQTT platform takes, and the fields of sensor, binary_sensor, switch, light
(basic schema), button, and the number, select and text the controls make; and a
device trigger's (device_automation), which is no entity: its own fields only.
"""

from __future__ import annotations

import re
from typing import Any, Final

PREFIX: Final = "homeassistant"
# `<discovery_prefix>/<component>/[<node_id>/]<object_id>/config`; node_id and
# object_id: only letters, digits, underscore and hyphen
TOPIC: Final = re.compile(
    r"homeassistant/(?P<component>[a-z_]+)/(?:[a-zA-Z0-9_-]+/)?[a-zA-Z0-9_-]+/config"
)
STR, INT, BOOL, LIST, MAP = "string", "integer", "boolean", "list", "map"
FLOAT: Final = "number"
NULLABLE_STR: Final = "string or null"

# The fields every MQTT entity platform documents (availability, device, naming, ...)
ENTITY: Final = {
    "availability_topic": STR,
    "availability_mode": STR,
    "availability_template": STR,
    "payload_available": STR,
    "payload_not_available": STR,
    "device": MAP,
    "enabled_by_default": BOOL,
    "encoding": STR,
    "entity_category": STR,
    "entity_picture": STR,
    "icon": STR,
    "json_attributes_template": STR,
    "json_attributes_topic": STR,
    "name": NULLABLE_STR,
    "object_id": STR,
    "default_entity_id": STR,
    "qos": INT,
    "unique_id": STR,
    "origin": MAP,  # discovery payloads: the application that sent them
}
DEVICE: Final = {
    "configuration_url": STR,
    "connections": LIST,
    "hw_version": STR,
    "identifiers": LIST,
    "manufacturer": STR,
    "model": STR,
    "model_id": STR,
    "name": STR,
    "serial_number": STR,
    "suggested_area": STR,
    "sw_version": STR,
    "via_device": STR,
}
ORIGIN: Final = {"name": STR, "sw_version": STR, "support_url": STR}
# binary_sensor device classes, as Home Assistant's binary sensor docs list them
BINARY_SENSOR_CLASSES: Final = {
    "battery", "battery_charging", "carbon_monoxide", "cold", "connectivity", "door",
    "garage_door", "gas", "heat", "light", "lock", "moisture", "motion", "moving",
    "occupancy", "opening", "plug", "power", "presence", "problem", "running",
    "safety", "smoke", "sound", "tamper", "update", "vibration", "window",
}  # fmt: skip
COMPONENTS: Final[dict[str, dict[str, Any]]] = {
    # Home Assistant's MQTT device trigger page: no entity fields (no unique_id,
    # no availability); `platform` only in a device discovery message, not on a
    # component's own topic; `origin`, as on every discovery payload
    "device_automation": {
        "entity": False,
        "required": {"automation_type", "topic", "type", "subtype", "device"},
        "fields": {
            "automation_type": STR,
            "payload": STR,
            "qos": INT,
            "topic": STR,
            "type": STR,
            "subtype": STR,
            "device": MAP,
            "value_template": STR,
            "origin": MAP,
        },
        "enums": {"automation_type": {"trigger"}},
    },
    "sensor": {
        "required": {"state_topic"},
        "fields": {
            "state_topic": STR,
            "device_class": STR,
            "state_class": STR,
            "unit_of_measurement": STR,
            "value_template": STR,
            "expire_after": INT,
            "force_update": BOOL,
            "last_reset_value_template": STR,
            "suggested_display_precision": INT,
            "options": LIST,
        },
        "enums": {"state_class": {"measurement", "total", "total_increasing"}},
        "ranges": {"suggested_display_precision": (0, None)},  # decimals: 0 or more
    },
    "binary_sensor": {
        "required": {"state_topic"},
        "fields": {
            "state_topic": STR,
            "payload_on": STR,
            "payload_off": STR,
            "device_class": STR,
            "value_template": STR,
            "expire_after": INT,
            "force_update": BOOL,
            "off_delay": INT,
        },
        "enums": {"device_class": BINARY_SENSOR_CLASSES},
    },
    "switch": {
        "required": {"command_topic"},
        "fields": {
            "command_topic": STR,
            "command_template": STR,
            "state_topic": STR,
            "payload_on": STR,
            "payload_off": STR,
            "state_on": STR,
            "state_off": STR,
            "optimistic": BOOL,
            "retain": BOOL,
            "value_template": STR,
            "device_class": STR,
        },
        "enums": {"device_class": {"outlet", "switch"}},
    },
    "light": {
        "required": {"command_topic"},
        "fields": {
            "schema": STR,
            "command_topic": STR,
            "state_topic": STR,
            "state_value_template": STR,
            "payload_on": STR,
            "payload_off": STR,
            "on_command_type": STR,
            "brightness_command_topic": STR,
            "brightness_command_template": STR,
            "brightness_scale": INT,
            "brightness_state_topic": STR,
            "brightness_value_template": STR,
            "optimistic": BOOL,
            "retain": BOOL,
        },
        "enums": {
            # Home Assistant takes basic (also when absent), json or template and
            # refuses the config for any other word; these fields are basic's
            "schema": {"basic"},
            "on_command_type": {"last", "first", "brightness"},
        },
    },
    "button": {
        "required": {"command_topic"},
        "fields": {
            "command_topic": STR,
            "command_template": STR,
            "payload_press": STR,
            "device_class": STR,
            "retain": BOOL,
        },
        "enums": {"device_class": {"identify", "restart", "update"}},
    },
    "number": {
        "required": {"command_topic"},
        "fields": {
            "command_topic": STR,
            "command_template": STR,
            "state_topic": STR,
            "value_template": STR,
            "min": FLOAT,
            "max": FLOAT,
            "step": FLOAT,
            "mode": STR,
            "unit_of_measurement": STR,
            "device_class": STR,
            "payload_reset": STR,
            "optimistic": BOOL,
            "retain": BOOL,
        },
        "enums": {"mode": {"auto", "box", "slider"}},
        "ranges": {"step": (0.001, None)},  # Home Assistant's smallest step
    },
    "select": {
        "required": {"command_topic", "options"},
        "fields": {
            "command_topic": STR,
            "command_template": STR,
            "state_topic": STR,
            "value_template": STR,
            "options": LIST,
            "optimistic": BOOL,
            "retain": BOOL,
        },
        "enums": {},
    },
    "text": {
        "required": {"command_topic"},
        "fields": {
            "command_topic": STR,
            "command_template": STR,
            "state_topic": STR,
            "value_template": STR,
            "min": INT,
            "max": INT,
            "mode": STR,
            "pattern": STR,
            "optimistic": BOOL,
            "retain": BOOL,
        },
        "enums": {"mode": {"text", "password"}},
        "ranges": {"min": (0, None), "max": (1, 255)},  # a state: 255 at most
    },
}
# sensor device classes and the units Home Assistant accepts with them
SENSOR_UNITS: Final = {
    "temperature": {"°C", "°F", "K"},
    "humidity": {"%"},
    "wind_speed": {"m/s", "km/h", "mph", "kn", "ft/s", "Beaufort"},
}


def _type_ok(value: object, expected: str) -> bool:
    match expected:
        case "string":
            return isinstance(value, str)
        case "string or null":
            return value is None or isinstance(value, str)
        case "integer":
            return isinstance(value, int) and not isinstance(value, bool)
        case "boolean":
            return isinstance(value, bool)
        case "number":
            return isinstance(value, int | float) and not isinstance(value, bool)
        case "list":
            return isinstance(value, list)
        case _:
            return isinstance(value, dict)


def schema_problems(topic_name: str, config: dict[str, Any]) -> list[str]:
    """Everything in one discovery message that Home Assistant's docs do not allow."""
    match = TOPIC.fullmatch(topic_name)
    if match is None:
        return [f"{topic_name}: not a discovery topic"]
    component = match["component"]
    if component not in COMPONENTS:
        return [f"{topic_name}: component {component} not checked here"]
    schema = COMPONENTS[component]
    fields = {**(ENTITY if schema.get("entity", True) else {}), **schema["fields"]}
    problems = [f"{k}: required" for k in schema["required"] if k not in config]
    for key, value in config.items():
        if key not in fields:
            problems.append(f"{key}: not a documented {component} field")
        elif not _type_ok(value, fields[key]):
            problems.append(f"{key}: expected a {fields[key]}, got {value!r}")
    for key, allowed in schema["enums"].items():
        if key in config and config[key] not in allowed:
            problems.append(f"{key}: {config[key]!r} not one of {sorted(allowed)}")
    for key, (low, high) in schema.get("ranges", {}).items():
        value = config.get(key, low)
        if value < low or (high is not None and value > high):
            problems.append(f"{key}: {value!r} out of {low}..{high}")
    if config.get("qos", 0) not in (0, 1, 2):
        problems.append(f"qos: {config['qos']}")
    for key, value in config.items():
        if key.endswith("_topic") and ("+" in value or "#" in value):
            problems.append(f"{key}: a wildcard in {value}")
    device = config.get("device", {})
    for key, value in device.items():
        if key not in DEVICE or not _type_ok(value, DEVICE[key]):
            problems.append(f"device.{key}: undocumented or mistyped: {value!r}")
    if "device" in config and not (
        device.get("identifiers") or device.get("connections")
    ):
        problems.append("device: needs identifiers or connections")
    for key, value in config.get("origin", {}).items():
        if key not in ORIGIN or not _type_ok(value, ORIGIN[key]):
            problems.append(f"origin.{key}: undocumented or mistyped: {value!r}")
    if "origin" in config and "name" not in config["origin"]:
        problems.append("origin.name: required")
    if component in ("number", "text") and config.get("min", 0) >= config.get(
        "max", 255
    ):
        problems.append("max: must be above min")  # Home Assistant refuses the config
    if component == "select" and not all(isinstance(o, str) for o in config["options"]):
        problems.append("options: texts only")
    if component == "sensor" and config.get("device_class") in SENSOR_UNITS:
        units = SENSOR_UNITS[config["device_class"]]
        if config.get("unit_of_measurement") not in units:
            problems.append(f"unit_of_measurement: {config.get('unit_of_measurement')}")
    return problems
