"""The controls' POSTs (raspy.controls): a form from the Devices page without
JavaScript (/controls: back to the page, or the page again with the reason under
the control), or app.js's (/api/control: JSON). Both check the value against the
control's spec and write its key through the in-process Clone publisher.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import structlog
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from raspy.actors.web.backend import Backend
from raspy.controls import ControlError, body_of, check
from raspy.devices.template import JsonValue
from raspy.errors import quote
from raspy.web import forms
from raspy.web.control_html import MAX_CONTROL_FORM_BYTES
from raspy.web.login import Session

log = structlog.get_logger(component="web")


class _Refused(Exception):
    """A control's POST refused: the HTTP status and the reason, for a person."""

    def __init__(
        self, status: int, key: str, reason: str, sent: str | None = None
    ) -> None:
        super().__init__(reason)
        self.status = status
        self.key = key
        self.sent = sent  # the value's text as the form sent it


async def _write(request: Request, backend: Backend) -> tuple[str, JsonValue]:
    """The form's key and value, checked and written; _Refused says why not."""
    try:
        fields = forms.parse_form(await request.body(), limit=MAX_CONTROL_FORM_BYTES)
    except forms.FormError as exc:
        raise _Refused(400, "", str(exc)) from None
    key = fields.get("key", "")
    control = next((c for c in backend.controls if c.key == key), None)
    if control is None:
        raise _Refused(404, key, f"no control for the key {quote(key)}")
    sent = fields.get("value", "")
    try:
        value = check(control, sent)
    except ControlError as exc:
        raise _Refused(400, key, str(exc), sent) from None
    try:
        await backend.write(key.encode("utf-8"), body_of(value))
    except ValueError as exc:
        raise _Refused(503, key, f"not written: {exc}", sent) from None
    except TimeoutError:
        raise _Refused(504, key, "not confirmed within a few seconds", sent) from None
    log.info("control_set", key=key)
    return key, value


async def control_form(
    request: Request,
    backend: Backend,
    session: Session,
    tree: Callable[[str], Mapping[str, object]],
) -> Response:
    """Back to the Devices page, or that page again (400) with the reason under
    the control and the text sent in its field."""
    from raspy.actors.web import pages

    try:
        await _write(request, backend)
    except _Refused as exc:
        return await pages.devices_page(
            request,
            backend,
            session,
            tree=tree,
            refused={exc.key: str(exc)},
            sent={} if exc.sent is None else {exc.key: exc.sent},
            status=exc.status,
        )
    return RedirectResponse("/", status_code=303)


async def control_api(request: Request, backend: Backend, session: Session) -> Response:
    """app.js: `{"ok": true, "key", "value"}`, or `{"error"}` with the status."""
    try:
        key, value = await _write(request, backend)
    except _Refused as exc:
        return JSONResponse({"error": str(exc)}, status_code=exc.status)
    return JSONResponse({"ok": True, "key": key, "value": value})
