"""The web face's JSON API for app.js: a switch pressed or a slider moved, sent to
the device's service, and its answer or why it failed.
"""

from __future__ import annotations

import json
import math
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from raspy import json_text
from raspy.actors.web.app import Backend
from raspy.web import forms
from raspy.web.login import Session
from raspy.web.models import ReplyError


class _ApiJson(JSONResponse):
    """JSON for app.js, whose text may come from any worker's reply: a lone
    surrogate (`\\ud800`) is sent escaped, not a UnicodeEncodeError (a 500)."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, allow_nan=False, separators=(",", ":")).encode()


def _number_or_text(text: str) -> float | str:
    """A reply's number, or its text when no float holds it (1e400 would be
    infinity, which JSON cannot carry: shown as written, as the live values)."""
    number = float(text)
    return number if math.isfinite(number) else text


async def device_command(
    request: Request, backend: Backend, session: Session
) -> Response:
    """app.js's switch and slider: the devices service's reply, or why it failed."""
    try:
        command = forms.parse_device_command(await request.body())
    except forms.FormError as exc:
        return _ApiJson({"error": str(exc)}, status_code=400)
    try:
        frames = await backend.ask(command.service, command.request_body())
    except ReplyError as exc:
        return _ApiJson({"error": str(exc)}, status_code=504)
    try:  # NaN and Infinity as their text, too
        reply = (
            json_text.loads(frames[1], parse_constant=str, parse_float=_number_or_text)
            if len(frames) == 2
            else None
        )
    except ValueError:
        reply = None
    if frames[:1] != [b"200"] or not isinstance(reply, dict):
        detail = (
            reply.get("detail") or reply.get("error")
            if isinstance(reply, dict)
            else None
        )
        status = frames[0].decode("ascii", "replace") if frames else "?"
        return _ApiJson(
            {"error": f"{command.device}: {detail or 'refused'} ({status})"},
            status_code=502,
        )
    return _ApiJson({"ok": True, "reply": reply})
