"""The web face's JSON API for app.js: a switch pressed or a slider moved, sent to
the device's service, and its answer or why it failed.
"""

from __future__ import annotations

import json
import math
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from raspy import json_text
from raspy.actors.web.backend import Backend
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


# a device service's refusals (raspy.devices.service): the user's to read, answered
# with their own status; anything else that is not 200 is the service's failure
_REFUSALS: Final = frozenset({b"400", b"404", b"501"})


async def device_command(
    request: Request, backend: Backend, session: Session
) -> Response:
    """app.js's switch and slider: the devices service's reply, or why it failed.

    A reply of 200 comes back whole (a switch held by its min_off_s says there
    what it holds, `pending`, which the page shows under it). A refusal (400 a bad
    value, 404 no such device, 501 a command it does not take) comes back with the
    device's status and reason; 502 says the service failed (a 500, or a reply that
    is not of its vocabulary),
    503 that no worker serves it now (nothing is sent), 504 that it did not answer."""
    try:
        command = forms.parse_device_command(await request.body())
    except forms.FormError as exc:
        return _ApiJson({"error": str(exc)}, status_code=400)
    try:
        # a board that is away: said at once, not as "no reply" after the page's
        # patience, and nothing is sent (as `raspy device` does)
        if not await backend.available(command.service, fresh=True):
            absent = f"{command.device}: no worker serves {command.service} now"
            return _ApiJson({"error": f"{absent}: nothing was sent"}, status_code=503)
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
    if frames[:1] == [b"200"] and isinstance(reply, dict):
        return _ApiJson({"ok": True, "reply": reply})
    status = frames[0] if frames else b"?"
    if isinstance(reply, dict):
        code = reply.get("error")
        detail = reply.get("detail") or code
    else:
        code = detail = None
    reason = f"{command.device}: {detail or 'refused'}"
    if status in _REFUSALS and isinstance(reply, dict):
        answer = {"error": reason, "code": code if isinstance(code, str) else None}
        return _ApiJson(answer, status_code=int(status))
    shown_status = status.decode("ascii", "replace")
    return _ApiJson({"error": f"{reason} ({shown_status})"}, status_code=502)
