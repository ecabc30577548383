"""MQTT payloads: command payloads in, result payloads out (pure).

State messages carry the tree's value as it is (JSON text: `21.5`, `true`, `"°C"`).
A command payload is JSON (`true`, `42`, `"text"`, `{...}`), or `ON`/`OFF` (any
case: true/false), or bare text (a string); empty means "no value". Anything else
(not UTF-8, too long, NaN) raises MalformedMessage("mqtt", ...).
"""

from __future__ import annotations

import json
import math
from typing import Final

from raspy import json_text
from raspy.devices.template import JsonValue
from raspy.errors import MalformedMessage, quote

MAX_COMMAND_BYTES: Final = 64 * 1024
_SWITCH_WORDS: Final = {"on": True, "off": False}


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    """A JSON real; one too large for a float (`1e999`) would be written back as
    Infinity, which is no JSON."""
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"{text} is out of range")
    return value


def command_text(payload: bytes) -> str:
    """A command payload as text; MalformedMessage when too long or not UTF-8."""
    if len(payload) > MAX_COMMAND_BYTES:
        raise MalformedMessage(
            "mqtt", "payload_too_long", f"{len(payload)} > {MAX_COMMAND_BYTES} bytes"
        )
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedMessage("mqtt", "bad_payload", "not UTF-8") from exc


def parse_command(payload: bytes) -> JsonValue:
    """The value of a command payload (None: no value)."""
    stripped = command_text(payload).strip()
    if not stripped:
        return None
    word = _SWITCH_WORDS.get(stripped.lower())
    if word is not None:
        return word
    try:
        value: JsonValue = json_text.loads(
            stripped, parse_constant=_reject_constant, parse_float=_finite
        )
    except ValueError:
        if stripped[:1] in '[{"':
            raise MalformedMessage(
                "mqtt", "bad_payload", f"not JSON: {quote(stripped)}"
            ) from None
        return stripped
    try:  # JSON escapes may name a lone surrogate, which no UTF-8 text can carry
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise MalformedMessage(
            "mqtt", "bad_payload", "a lone surrogate (\\ud800-\\udfff) in the text"
        ) from None
    return value


def result_payload(action: str, status: int, body: JsonValue) -> bytes:
    """`…/result`: `{"v": 1, "action", "status", "reply"}`, the MDP status as a
    number and the service's JSON reply (or the bridge's own refusal), keys sorted.
    Written by raspy's one JSON encoder (json_text.encode), as the core writes the
    tree: a lone surrogate from a reply escaped, a number JSON has not refused
    (decode_reply keeps a reply holding one as text)."""
    return json_text.encode(
        {"v": 1, "action": action, "status": status, "reply": body}, sort_keys=True
    )


def refusal(token: str, detail: str) -> dict[str, JsonValue]:
    """The reply of a command the bridge refused itself (same shape as a service's)."""
    return {"error": token, "detail": detail}


def decode_reply(body: bytes) -> JsonValue:
    """A service's JSON reply frame; text that is not strict JSON (NaN, Infinity,
    a real or an integer out of a float's range included: they would make
    `…/result` invalid JSON), or nested too deep (raspy.json_text), is kept as text."""
    try:
        value: JsonValue = json_text.loads(
            body, parse_constant=_reject_constant, parse_float=_finite
        )
    except ValueError:
        return body.decode("utf-8", "replace")
    return value
