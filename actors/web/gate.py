"""Who may in: the login (its form, its POST, the logout) and page_route, the gate
every route but /login and /static passes through.

A route without a session goes to /login (pages) or gets 401 (/api, /events); every
change is a POST from the same origin carrying the session's CSRF token.
"""

from __future__ import annotations

import asyncio
import secrets
import string
from collections.abc import Awaitable, Callable
from typing import Final
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from raspy.actors.web.backend import SESSION_COOKIE, Backend, Handler
from raspy.web import forms, html
from raspy.web.editor import is_editor
from raspy.web.login import Session, client_key, csrf_ok, safe_next, same_origin

LOGIN_COOKIE: Final = "raspy_login"
ENDED_TOLD_S: Final = 86400
_FORM_TOKEN_CHARS: Final = 32  # secrets.token_urlsafe(24)
_URLSAFE: Final = frozenset(string.ascii_letters + string.digits + "-_")


def page_route(
    backend: Backend,
    handler: Handler,
    *,
    api: bool = False,
    form_limit: int = forms.MAX_FORM_BYTES,
) -> Callable[[Request], Awaitable[Response]]:
    """Wrap a handler: no session -> /login (pages) or 401 (api); POSTs need the
    same origin and the CSRF token (form field `csrf` or header X-CSRF-Token;
    `form_limit`: a form that holds a scenario's document is larger)."""

    async def endpoint(request: Request) -> Response:
        session = await backend.session(request)
        if session is None:
            if api:
                return JSONResponse({"error": "login required"}, status_code=401)
            # a session cookie the hub no longer knows: a session that ended
            ended = bool(request.cookies.get(SESSION_COOKIE))
            return RedirectResponse(_login_href(request, ended), status_code=303)
        if request.method == "POST":
            supplied = request.headers.get("x-csrf-token")
            if supplied is None:
                try:
                    body = await request.body()
                    supplied = forms.parse_form(body, limit=form_limit).get("csrf")
                except forms.FormError:
                    supplied = None
            if not _from_here(request) or not csrf_ok(session, supplied):
                return Response("CSRF check failed", status_code=403)
        return await handler(request, backend, session)

    return endpoint


def _login_href(request: Request, ended: bool = False) -> str:
    """/login, with the page asked for as its `next` (a GET's: the target of a
    POST is no page to go back to, but the editor's own page, whose text app.js
    kept at the Save), so that a login goes back there; `ended`: the browser's
    session ended (`ended=1`, or `ended=edit` from the editor's Save)."""
    fields: dict[str, str] = {}
    raw = request.scope.get("raw_path") or request.url.path.encode("utf-8")
    path = raw.decode("latin-1")
    saved = request.method == "POST" and is_editor(request.url.path)
    if request.method in ("GET", "HEAD"):
        query = request.scope.get("query_string") or b""
        target = path + ("?" + query.decode("latin-1") if query else "")
    else:
        target = path if saved else "/"
    target = safe_next(target)
    if target != "/":
        fields["next"] = target
    if ended:
        fields["ended"] = "edit" if saved else "1"
    return "/login" + ("?" + urlencode(fields, safe="/") if fields else "")


# what the login form says when a session ended (the `ended` of its address)
ENDED: Final = {
    "1": "Your session ended; log in again.",
    "edit": (
        "Your session ended; log in again. The text you were editing is kept in "
        "this tab: the editor offers to restore it."
    ),
}


async def login_form(request: Request, backend: Backend) -> Response:
    going = safe_next(request.query_params.get("next"))
    if await backend.session(request) is not None:
        return RedirectResponse(going, status_code=303)
    note = ENDED.get(request.query_params.get("ended", ""), "")
    return _login_page(request, "", status=200, next_path=going, note=note)


def _login_page(
    request: Request,
    message: str,
    *,
    status: int,
    next_path: str = "/",
    note: str = "",
) -> Response:
    token = _form_token(request.cookies.get(LOGIN_COOKIE, ""))
    page = html.login_page(token, message, next_path, note)
    response = Response(page, status, media_type="text/html")
    response.set_cookie(
        LOGIN_COOKIE,
        token,
        max_age=600,
        path="/login",
        httponly=True,
        samesite="strict",
    )
    return response


def _form_token(held: str) -> str:
    """The login form's token: the one the browser holds already, if any, so that
    two tabs on the login form (two pages whose session ended go there by
    themselves) both log in: a new cookie for the second replaced the first's."""
    if len(held) == _FORM_TOKEN_CHARS and set(held) <= _URLSAFE:
        return held
    return secrets.token_urlsafe(24)


async def login_submit(request: Request, backend: Backend) -> Response:
    try:
        fields = forms.parse_form(await request.body())
    except forms.FormError as exc:
        return _login_page(request, str(exc), status=400)
    going = safe_next(fields.get("next"))  # kept by a refusal: a second try goes too
    cookie = request.cookies.get(LOGIN_COOKIE, "")
    supplied = fields.get("csrf", "")
    # cookies are not told apart by port: a page on another port of the hub's name
    # may set the login cookie it sends, and only the Origin tells that page apart
    if (
        not _from_here(request)
        or not cookie
        or not secrets.compare_digest(
            cookie.encode("utf-8", "replace"), supplied.encode("utf-8", "replace")
        )
    ):
        return _login_page(
            request, "The form expired; try again.", status=403, next_path=going
        )
    now = backend.clock.monotonic()
    client = client_key(None if request.client is None else request.client.host)
    refusal = backend.throttle.refusal(client, now)
    if refusal is not None:
        return _login_page(request, refusal, status=429, next_path=going)
    secret = fields.get("secret", "")
    logins = backend.logins.fingerprint()  # before the check: a change after it wins
    # counted while it is checked: tries sent at once must not all pass the throttle
    backend.throttle.failed(client, now)
    if not await asyncio.to_thread(backend.check_secret, secret):
        return _login_page(
            request, "Wrong token or password.", status=401, next_path=going
        )
    backend.throttle.cleared(client, now)
    session = backend.sessions.create(now, logins)
    await backend.kept.save()  # stored before the browser has its cookie
    response = RedirectResponse(going, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        session.sid,
        # a day past the session: a browser back after it ended is told so
        max_age=int(backend.session_s) + ENDED_TOLD_S,
        path="/",
        httponly=True,
        samesite="strict",
        secure=False,  # plain HTTP on the LAN: a Secure cookie would never be sent
    )
    response.delete_cookie(
        LOGIN_COOKIE, path="/login", httponly=True, samesite="strict"
    )
    return response


async def logout(request: Request, backend: Backend, session: Session) -> Response:
    backend.sessions.drop(session.sid)
    await backend.kept.save()
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response


def _from_here(request: Request) -> bool:
    """Whether a POST's Origin names the host it was sent to (none sent: yes)."""
    origin, host = request.headers.get("origin"), request.headers.get("host")
    return same_origin(origin, host or "")
