"""What browsers send, checked (pure): login and button forms, device commands,
and the request bodies the web face sends to the services in their name.

Every parser returns a typed value or raises FormError with a one-line reason.
"""

from __future__ import annotations

import json
import math
from typing import Final
from urllib.parse import parse_qsl

from raspy import json_text
from raspy.devices.reading import value_key
from raspy.errors import RaspyError, quote
from raspy.names import DEVICES_SUFFIX
from raspy.records import frozen

MAX_FORM_BYTES: Final = 8 * 1024
MAX_NAME_CHARS: Final = 255
DEVICE_ACTIONS: Final = frozenset({"set", "on", "off", "toggle", "log"})
SCENARIO_ACTIONS: Final = frozenset({"enable", "disable", "run"})
# what a form body is, said when one is not (a script that sent JSON, say)
_FORM: Final = (
    "expected name=value fields joined by &, percent-encoded, as a browser sends a form"
)


class FormError(RaspyError):
    """A browser's request that is refused (400), with the reason."""


def parse_form(body: bytes, *, limit: int = MAX_FORM_BYTES) -> dict[str, str]:
    """An application/x-www-form-urlencoded body; the first value of each field
    (`limit`: the editor's forms hold a scenario's document)."""
    if len(body) > limit:
        raise FormError(f"form over {limit} bytes")
    try:
        text = body.decode("ascii")
    except UnicodeDecodeError as exc:
        byte = body[exc.start]
        raise FormError(
            f"not a form: byte 0x{byte:02x} at offset {exc.start} is not ASCII ({_FORM})"
        ) from None
    bare = next((f for f in text.split("&") if "=" not in f), None) if text else None
    if bare is not None:
        raise FormError(f"not a form: the field {quote(bare)} has no '=' ({_FORM})")
    pairs = parse_qsl(text, keep_blank_values=True)
    fields: dict[str, str] = {}
    for name, value in pairs:
        fields.setdefault(name, value)
    return fields


def _name(value: object, what: str) -> str:
    if (
        not isinstance(value, str)
        or not value
        or len(value) > MAX_NAME_CHARS
        or not value.isprintable()
    ):
        raise FormError(f"{what}: expected a name of 1..{MAX_NAME_CHARS} characters")
    return value


@frozen
class DeviceCommand:
    """A switch press or a slider move: one action for one device of one service."""

    service: str  # `<host>.<svc>.devices`
    device: str
    action: str
    value: bool | int | float | None  # an int stays one: a dimmer takes only ints

    def request_body(self) -> bytes:
        """The devices service's request (raspy.devices.service's envelope)."""
        document: dict[str, object] = {
            "v": 1,
            "action": self.action,
            "device": self.device,
        }
        if self.value is not None:
            document["value"] = self.value
        return json.dumps(document).encode("utf-8")


def parse_device_command(body: bytes) -> DeviceCommand:
    """`{"service", "device", "action", "value"?}` as JSON from app.js."""
    if len(body) > MAX_FORM_BYTES:
        raise FormError(f"command over {MAX_FORM_BYTES} bytes")
    try:
        document = json_text.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise FormError(f"not JSON: {quote(str(exc))}") from None
    if not isinstance(document, dict):
        raise FormError("expected a JSON object")
    unknown = sorted(set(document) - {"service", "device", "action", "value"})
    if unknown:
        raise FormError(f"unknown field {quote(unknown[0])}")
    service = _name(document.get("service"), "service")
    if not service.endswith(DEVICES_SUFFIX):
        raise FormError(f"service: expected a name ending in {DEVICES_SUFFIX}")
    action = document.get("action")
    if action not in DEVICE_ACTIONS:
        raise FormError(f"action: expected one of {', '.join(sorted(DEVICE_ACTIONS))}")
    value = document.get("value")
    if (
        value is not None
        and not isinstance(value, bool)
        and (not isinstance(value, int | float) or not math.isfinite(value))
    ):
        raise FormError("value: expected true, false, a number or null")
    return DeviceCommand(
        service, _name(document.get("device"), "device"), action, value
    )


def scenario_request(action: str, name: str) -> bytes:
    """`<host>.core.scenario`'s request for a button of the scenarios page."""
    if action not in SCENARIO_ACTIONS:
        raise FormError(f"expected one of {', '.join(sorted(SCENARIO_ACTIONS))}")
    document = {"v": 1, "action": action, "name": _name(name, "scenario")}
    return json.dumps(document).encode("utf-8")


def scenario_get_request(name: str) -> bytes:
    """`<host>.core.scenario`'s request for a scenario's own page."""
    document = {"v": 1, "action": "get", "name": _name(name, "scenario")}
    return json.dumps(document).encode("utf-8")


def history_request(fullname: str, since: float, until: float | None) -> bytes:
    """`<host>.logger.history`'s request for a device's value over a range."""
    document = {
        "v": 1,
        "action": "history",
        "key": value_key(fullname),
        "since": since,
        "until": until,
        "resolution": "auto",
    }
    return json.dumps(document).encode("utf-8")


def list_request() -> bytes:
    return b'{"v": 1, "action": "list"}'
