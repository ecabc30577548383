"""The JSON envelope shared by the in-process services' requests (devices, cron):
one frame, a JSON object with `v` and `action`, and only the keys the service knows.
Pure: frames in, the document or the reason it is refused out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from raspy import json_text
from raspy.devices.template import JsonValue
from raspy.errors import quote, shown
from raspy.records import frozen

VERSION: Final = 1
MAX_REQUEST_BYTES: Final = 64 * 1024
MAX_ACTION_CHARS: Final = 64


@frozen
class Refusal:
    """Why a request body is refused (a 400): the action if known, token, detail."""

    action: str | None
    token: str
    detail: str


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def parse(
    body: Sequence[bytes], keys: frozenset[str]
) -> dict[str, JsonValue] | Refusal:
    """The request document in `body`, or why it is refused."""
    if len(body) != 1:
        return Refusal(None, "bad_request", f"expected 1 frame, got {len(body)}")
    if len(body[0]) > MAX_REQUEST_BYTES:
        return Refusal(None, "bad_request", f"over {MAX_REQUEST_BYTES} bytes")
    try:
        document = json_text.loads(
            body[0].decode("utf-8"), parse_constant=_reject_constant
        )
    except (UnicodeDecodeError, ValueError) as exc:
        return Refusal(None, "bad_json", str(exc)[:200])
    if not isinstance(document, dict):
        return Refusal(None, "bad_request", "expected a JSON object")
    action = document.get("action")
    if not isinstance(action, str) or len(action) > MAX_ACTION_CHARS:
        detail = f"action: expected a string of at most {MAX_ACTION_CHARS} characters"
        return Refusal(None, "bad_request", detail)
    version = document.get("v")
    if type(version) is not int or version != VERSION:
        detail = f"v: expected {VERSION}, got {shown(version)}"
        return Refusal(action, "unsupported_version", detail)
    unknown = sorted(set(document) - keys)
    if unknown:
        return Refusal(action, "unknown_field", quote(", ".join(unknown)))
    return document
