"""A device reading (value, unit, status, time) and its place in the Clone tree.

Pure: no I/O. A reading whose status is not OK carries no value; a sensor fault is a
status here, never an exception.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Final

from raspy.devices.template import JsonValue
from raspy.records import frozen

DEVICE_TREE: Final = "/device/"  # a device's keys: /device/<fullname>/<field>
VALUE_FIELD: Final = "value"
# set at every reading, while `/value` is published only when it changes
TIMESTAMP_FIELD: Final = "timestamp"
# a device's config changed (over MDP: `config` with a value, or `reset`): its
# service sets `/event/device/<fullname>/configured` to the wall time, for a minute
# (an ephemeral key), so that whoever shows the config (the MQTT bridge's discovery,
# a scenario) hears of it wherever the service runs
CONFIGURED_TREE: Final = "/event/device/"
CONFIGURED_FIELD: Final = "configured"
CONFIGURED_TTL_S: Final = 60.0


def value_key(fullname: str, field: str = VALUE_FIELD) -> str:
    """The Clone key of a device's field, `/device/<fullname>/<field>`."""
    return f"{DEVICE_TREE}{fullname}/{field}"


def configured_key(fullname: str) -> str:
    """The event key of a device's config change, `/event/device/<fullname>/configured`."""
    return f"{CONFIGURED_TREE}{fullname}/{CONFIGURED_FIELD}"


def configured_of_key(key: str) -> str | None:
    """The full name of a device whose config-change event `key` is; else None."""
    if not key.startswith(CONFIGURED_TREE):
        return None
    found = device_of_key(f"{DEVICE_TREE}{key[len(CONFIGURED_TREE) :]}")
    if found is None or found[1] != CONFIGURED_FIELD:
        return None
    return found[0]


def device_of_key(key: str) -> tuple[str, str] | None:
    """`(fullname, field)` of a device key; None for any other key of the tree.

    A device's full name is `<host>.<svc>.<device>[.<sub>...]`, no part empty; the
    field is what follows its `/` (never empty, `/` allowed). Not an error: most
    keys of the tree are not device keys, and the callers pass those over.
    """
    if not key.startswith(DEVICE_TREE):
        return None
    fullname, slash, field = key[len(DEVICE_TREE) :].partition("/")
    parts = fullname.split(".")
    if not slash or not field or len(parts) < 3 or not all(parts):
        return None
    return fullname, field


class Status(StrEnum):
    """What a read found; everything but OK means `value` is None."""

    OK = "ok"
    CRC_ERROR = "crc_error"  # 1-Wire: the scratchpad CRC does not match
    POWER_ON_VALUE = "power_on_value"  # DS18B20: 85 °C, no conversion happened
    ZERO_SCRATCHPAD = "zero_scratchpad"  # all-zero bytes: 0 °C with a valid CRC
    OUT_OF_RANGE = "out_of_range"  # above the sensor's range, e.g. 127.9375 °C
    UNPLUGGED = "unplugged"  # below the sensor's range, about -110 °C
    # MAX31850: the converter flags its thermocouple open or shorted (the detail says)
    THERMOCOUPLE_FAULT = "thermocouple_fault"
    EMPTY = "empty"  # the device file is empty or cut short
    MALFORMED = "malformed"  # the device file is not in the expected format
    UNREADABLE = "unreadable"  # the device file exists but reading it failed
    MISSING = "missing"  # the device vanished (unplugged from the bus)
    ERROR = "error"  # any other device failure (the detail says which)
    # a read of the device's bus has not returned for a while (a hung bus or driver):
    # its last value is not shown as if it were current
    NO_ANSWER = "no_answer"
    # written by the hub, not read: the remote service (raspy-poller) that owns the
    # device has had no MDP worker for `[devices] offline_after_s`
    OFFLINE = "offline"


@frozen
class Reading:
    """One value of a device at `wall_ts` (epoch s); `detail` explains a bad status."""

    value: JsonValue
    unit: str
    status: Status
    wall_ts: float
    detail: str = ""

    @classmethod
    def failed(cls, status: Status, unit: str, wall_ts: float, detail: str) -> Reading:
        assert status is not Status.OK
        return cls(None, unit, status, wall_ts, detail)

    def as_json(self) -> dict[str, JsonValue]:
        """The reading as JSON-compatible data (device-service replies)."""
        return {
            "value": self.value,
            "unit": self.unit,
            "status": self.status.value,
            "wall_ts": self.wall_ts,
            "detail": self.detail,
        }


def encode(value: JsonValue) -> bytes:
    """A tree value's body: JSON text, never empty (an empty body deletes)."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False).encode()


def tree_entries(fullname: str, reading: Reading) -> dict[str, bytes]:
    """Clone keys and values: `/device/<fullname>/value|unit|timestamp|status`.

    Every value is JSON text, so none is ever empty (an empty Clone value deletes).
    """
    return {
        value_key(fullname): encode(reading.value),
        value_key(fullname, "unit"): encode(reading.unit),
        value_key(fullname, TIMESTAMP_FIELD): encode(reading.wall_ts),
        value_key(fullname, "status"): encode(reading.status.value),
    }
