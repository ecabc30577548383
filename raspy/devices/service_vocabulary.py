"""The devices service's vocabulary: a request as parsed, the reply frames and the
effects a handled request asks of its actor.

Shared by the handler (raspy.devices.service, where the requests and replies are
described), the actors that serve it (DeviceServiceActor, GpioServiceActor), the
services with actions of their own (`drive`, raspy-poller's board, the history
service) that answer in its shape. Pure: no sockets, no clock, no logging.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Final

from raspy.devices import request_body
from raspy.devices.reading import Reading
from raspy.devices.template import DeviceConfig, JsonValue
from raspy.records import frozen

VERSION: Final = request_body.VERSION
MAX_REQUEST_BYTES: Final = request_body.MAX_REQUEST_BYTES
OK: Final = b"200"
BAD_REQUEST: Final = b"400"
NOT_FOUND: Final = b"404"
DEVICE_ERROR: Final = b"500"
UNKNOWN_ACTION: Final = b"501"
_KEYS: Final = frozenset({"v", "action", "device", "value"})


@frozen
class Publish:
    """Put this reading of `device` into the Clone tree (reading.tree_entries())."""

    device: str
    fullname: str
    reading: Reading


@frozen
class PollRequested:
    """Read `device` now (off the actor thread) and publish what comes."""

    device: str


@frozen
class ConfigChanged:
    """`device` has a new config: save it, and reschedule its poller."""

    device: str
    config: DeviceConfig


@frozen
class RescanRequested:
    """Look for new devices on the service's bus."""


Effect = Publish | PollRequested | ConfigChanged | RescanRequested


@frozen
class Handled:
    """The reply frames `[status, json]` and the effects to carry out, in order."""

    reply: tuple[bytes, bytes]
    effects: tuple[Effect, ...] = ()


@frozen
class Request:
    """A well-formed request of vocabulary version 1 (`value` None: no value)."""

    action: str
    device: str | None
    value: JsonValue


def _encode(document: dict[str, JsonValue]) -> bytes:
    text = json.dumps(document, ensure_ascii=False, allow_nan=False, sort_keys=True)
    # a lone surrogate a request named ("\ud800" in its JSON) and a reply echoes
    # has no UTF-8: it goes back as that JSON escape (only a string can hold one)
    return text.encode("utf-8", "backslashreplace")


def handled_ok(
    action: str, effects: Sequence[Effect] = (), **fields: JsonValue
) -> Handled:
    """A 200 reply with `fields`, and the effects that go with it."""
    return Handled(
        (OK, _encode({"v": VERSION, "action": action, **fields})), tuple(effects)
    )


def handled_error(
    status: bytes, action: str | None, token: str, detail: str
) -> Handled:
    """An error reply: `status`, the error `token` and what is wrong; no effects."""
    document: dict[str, JsonValue] = {
        "v": VERSION,
        "action": action,
        "error": token,
        "detail": detail,
    }
    return Handled((status, _encode(document)))


def device_error(action: str, detail: str) -> tuple[bytes, bytes]:
    """A 500 reply (the device, or storing its settings, failed)."""
    return handled_error(DEVICE_ERROR, action, "device_error", detail).reply


def refused(
    status: bytes, action: str | None, token: str, detail: str
) -> tuple[bytes, bytes]:
    """An error reply of the vocabulary, for services with actions of their own."""
    return handled_error(status, action, token, detail).reply


def ok(action: str, **fields: JsonValue) -> tuple[bytes, bytes]:
    """A 200 reply of the vocabulary, for services with actions of their own."""
    return handled_ok(action, (), **fields).reply


def parse_request(body: Sequence[bytes]) -> Request | Handled:
    """The request in `body`, or the 400 reply that refuses it."""
    parsed = request_body.parse(body, _KEYS)
    if isinstance(parsed, request_body.Refusal):
        return handled_error(BAD_REQUEST, parsed.action, parsed.token, parsed.detail)
    document = parsed
    action = str(document["action"])
    device = document.get("device")
    if device is not None and not isinstance(device, str):
        return handled_error(
            BAD_REQUEST, action, "bad_request", "device: expected a string"
        )
    return Request(action, device, document.get("value"))
