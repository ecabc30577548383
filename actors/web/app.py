"""The web face's HTTP side: Starlette routes on the web server's asyncio loop.

Handlers never touch ZeroMQ: a service request is told to the WebActor with a
concurrent Future (Backend.request) and awaited here. Every route but /login and
/static needs a session: pages redirect to /login, /api and /events answer 401.
Every change is a POST carrying the session's CSRF token.
"""

from __future__ import annotations

import asyncio
import functools
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, tzinfo
from importlib import resources
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlencode

import structlog
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import (
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route

from raspy.actors.web.middleware import BodyLimit, QuietDisconnect, secure
from raspy.clock import Clock
from raspy.controls import Control
from raspy.errors import ConfigError
from raspy.web import forms, html, live
from raspy.web.control_html import MAX_CONTROL_FORM_BYTES
from raspy.web.control_html import body_limit as control_limit
from raspy.web.editor import SavedWarnings
from raspy.web.editor import body_limit as editor_limit
from raspy.web.login import (
    LoginThrottle,
    Session,
    Sessions,
    client_key,
    csrf_ok,
    safe_next,
    same_origin,
    verify,
)
from raspy.web.login_files import LoginFiles
from raspy.web.models import ReplyError, TitanicEntry
from raspy.web.session_file import KeptSessions

log = structlog.get_logger(component="web")

SESSION_COOKIE: Final = "raspy_session"
LOGIN_COOKIE: Final = "raspy_login"
REQUEST_TIMEOUT_S: Final = 5.0
KEEPALIVE_S: Final = 15.0
# no request needs more (forms and commands are parsed up to forms.MAX_FORM_BYTES)
MAX_BODY_BYTES: Final = forms.MAX_FORM_BYTES
# at most one batch per browser this often: changes in between are coalesced (the
# latest value per key), so 20 browsers cost the daemon little whatever the poll rate
BATCH_INTERVAL_S: Final = 0.25
_STATIC: Final = {
    "app.css": "text/css",
    "app.js": "text/javascript",
    "icon.svg": "image/svg+xml",  # named by every page: no browser asks /favicon.ico
}


@dataclass(frozen=True, slots=True)
class ServiceRequest:
    """Told to the WebActor: send an MDP request; `result` gets the reply frames."""

    service: bytes
    body: tuple[bytes, ...]
    result: Future[list[bytes]]


@dataclass(frozen=True, slots=True)
class WriteKey:
    """Told to the WebActor: write a tree key (a control's value); `result` is set
    once the Clone server has published it, an exception if it never will."""

    key: bytes
    body: bytes
    result: Future[None]


@dataclass(frozen=True, slots=True)
class ReadTitanic:
    """Told to the WebActor: the first `limit` queue entries; `result`: (total, them)."""

    limit: int
    result: Future[tuple[int, list[TitanicEntry]]]


@dataclass
class Backend:
    """What the handlers reach: the actor (by tell), the logins, the clock."""

    hostname: str
    tell: Callable[[object], None]
    logins: LoginFiles
    session_s: float
    clock: Clock
    zone: tzinfo = UTC  # the hub's ([core] timezone): times on the pages
    # the file where the sessions outlive a restart (None: in memory only)
    sessions_path: Path | None = None
    sessions: Sessions = field(init=False)
    kept: KeptSessions = field(init=False)  # the sessions' copy in sessions_path
    # one message per session for the page a POST redirects to (never in the URL)
    flashes: dict[str, html.Flash] = field(default_factory=dict)
    # one Save's warnings per session, for the edit page it redirects to
    warned: dict[str, SavedWarnings] = field(default_factory=dict)
    throttle: LoginThrottle = field(default_factory=LoginThrottle)
    # the services with a live worker, as the broker announced them (WatchServices);
    # replaced whole by the WebActor's thread, read here
    live_services: frozenset[str] = frozenset()
    controls: tuple[Control, ...] = ()  # [[controls]], on the Devices page

    def __post_init__(self) -> None:
        self.sessions = Sessions(self.session_s)
        self.kept = KeptSessions(self.sessions, self.sessions_path, self.clock)
        self.kept.load(self.logins.fingerprint())

    async def request(self, service: str, *body: bytes) -> list[bytes]:
        """One MDP request through the broker; TimeoutError after a few seconds."""
        result: Future[list[bytes]] = Future()
        self.tell(ServiceRequest(service.encode("utf-8"), tuple(body), result))
        return await asyncio.wait_for(asyncio.wrap_future(result), REQUEST_TIMEOUT_S)

    async def ask(self, service: str, *body: bytes) -> list[bytes]:
        """request(), raising ReplyError (with the service named) on a time-out."""
        try:
            return await self.request(service, *body)
        except TimeoutError:
            raise ReplyError(service, "no reply within a few seconds") from None

    async def available(self, service: str) -> bool:
        """Does the service have a live worker? Asked before a request that would
        otherwise wait in the broker until it times out. One the broker announced
        is taken at its word, with no round trip (a page, then its chart); any other
        is asked (mmi.service): an announcement may still be on its way."""
        if service in self.live_services:
            return True
        # a time-out: a page says so, as for any service that is silent
        reply = await self.ask("mmi.service", service.encode("utf-8"))
        return reply[:1] == [b"200"]

    async def write(self, key: bytes, body: bytes) -> None:
        """Write a tree key and wait until it is published (the live values have it
        by then); ValueError says why it was not, TimeoutError after a few seconds."""
        result: Future[None] = Future()
        self.tell(WriteKey(key, body, result))
        await asyncio.wait_for(asyncio.wrap_future(result), REQUEST_TIMEOUT_S)

    async def titanic(self, limit: int) -> tuple[int, list[TitanicEntry]]:
        result: Future[tuple[int, list[TitanicEntry]]] = Future()
        self.tell(ReadTitanic(limit, result))
        return await asyncio.wait_for(asyncio.wrap_future(result), REQUEST_TIMEOUT_S)

    async def session(self, request: Request) -> Session | None:
        return await self.checked_session(request.cookies.get(SESSION_COOKIE))

    async def checked_session(self, sid: str | None) -> Session | None:
        """session_of(), and the sessions saved if that dropped those of old login
        files."""
        session = self.session_of(sid)
        await self.kept.save()
        return session

    def session_of(self, sid: str | None) -> Session | None:
        """The live session of a cookie value; none once the login files changed."""
        return self.sessions.get(sid, self.clock.monotonic(), self.logins.fingerprint())

    def check_secret(self, secret: str) -> bool:
        """Any configured login matches (scrypt: run off the loop). A hash file made
        unreadable since the start logs why and lets nobody in."""
        try:
            hashes = self.logins.hashes()
        except ConfigError as exc:
            log.error("web_login_unusable", reason=str(exc))
            return False
        return any(verify(secret, expected) for expected in hashes)


Handler = Callable[[Request, Backend, Session], Awaitable[Response]]


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
                return secure(
                    JSONResponse({"error": "login required"}, status_code=401)
                )
            return secure(RedirectResponse(_login_href(request), status_code=303))
        if request.method == "POST":
            supplied = request.headers.get("x-csrf-token")
            if supplied is None:
                try:
                    body = await request.body()
                    supplied = forms.parse_form(body, limit=form_limit).get("csrf")
                except forms.FormError:
                    supplied = None
            origin, host = request.headers.get("origin"), request.headers.get("host")
            if not same_origin(origin, host or "") or not csrf_ok(session, supplied):
                return secure(Response("CSRF check failed", status_code=403))
        return secure(await handler(request, backend, session))

    return endpoint


def _login_href(request: Request) -> str:
    """/login, with the page asked for as its `next` (a GET's: the target of a
    POST is no page to go back to), so that a login goes back there."""
    if request.method not in ("GET", "HEAD"):
        return "/login"
    path = request.scope.get("raw_path") or request.url.path.encode("utf-8")
    query = request.scope.get("query_string") or b""
    target = path.decode("latin-1") + ("?" + query.decode("latin-1") if query else "")
    target = safe_next(target)
    if target == "/":
        return "/login"
    return "/login?" + urlencode({"next": target}, safe="/")


async def login_form(request: Request, backend: Backend) -> Response:
    going = safe_next(request.query_params.get("next"))
    if await backend.session(request) is not None:
        return secure(RedirectResponse(going, status_code=303))
    return _login_page("", status=200, next_path=going)


def _login_page(message: str, *, status: int, next_path: str = "/") -> Response:
    token = secrets.token_urlsafe(24)
    page = html.login_page(token, message, next_path)
    response = secure(Response(page, status, media_type="text/html"))
    response.set_cookie(
        LOGIN_COOKIE,
        token,
        max_age=600,
        path="/login",
        httponly=True,
        samesite="strict",
    )
    return response


async def login_submit(request: Request, backend: Backend) -> Response:
    try:
        fields = forms.parse_form(await request.body())
    except forms.FormError as exc:
        return _login_page(str(exc), status=400)
    going = safe_next(fields.get("next"))  # kept by a refusal: a second try goes too
    cookie = request.cookies.get(LOGIN_COOKIE, "")
    supplied = fields.get("csrf", "")
    if not cookie or not secrets.compare_digest(
        cookie.encode("utf-8", "replace"), supplied.encode("utf-8", "replace")
    ):
        return _login_page("The form expired; try again.", status=403, next_path=going)
    now = backend.clock.monotonic()
    client = client_key(None if request.client is None else request.client.host)
    refusal = backend.throttle.refusal(client, now)
    if refusal is not None:
        return _login_page(refusal, status=429, next_path=going)
    secret = fields.get("secret", "")
    logins = backend.logins.fingerprint()  # before the check: a change after it wins
    # counted while it is checked: tries sent at once must not all pass the throttle
    backend.throttle.failed(client, now)
    if not await asyncio.to_thread(backend.check_secret, secret):
        return _login_page("Wrong token or password.", status=401, next_path=going)
    backend.throttle.cleared(client, now)
    session = backend.sessions.create(now, logins)
    await backend.kept.save()  # stored before the browser has its cookie
    response = secure(RedirectResponse(going, status_code=303))
    response.set_cookie(
        SESSION_COOKIE,
        session.sid,
        max_age=int(backend.session_s),
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


async def static(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in _STATIC:
        return secure(Response("not found", 404))
    return secure(Response(_static_bytes(name), media_type=_STATIC[name]), cache=True)


@functools.cache
def _static_bytes(name: str) -> bytes:
    """A static file's content, read from the package once."""
    return resources.files("raspy.web").joinpath("static", name).read_bytes()


def events_route(hub: live.LiveHub) -> Handler:
    async def events(request: Request, backend: Backend, session: Session) -> Response:
        return StreamingResponse(
            _stream(backend, hub, session.sid),
            media_type="text/event-stream",
            headers={"X-Accel-Buffering": "no"},
        )

    return events


async def _stream(
    backend: Backend, hub: live.LiveHub, sid: str
) -> AsyncIterator[bytes]:
    """The live values: the current ones first, then each batch of changes."""
    woken = asyncio.Event()
    client = hub.join(woken.set)
    try:
        yield live.retry()
        while not hub.closed:
            try:
                await asyncio.wait_for(woken.wait(), KEEPALIVE_S)
                idle = False
            except TimeoutError:
                idle = True
            # before anything is sent, not only when idle: values changing more often
            # than KEEPALIVE_S would keep a logged-out session's stream going
            if await backend.checked_session(sid) is None:
                return  # logged out or expired: the browser gets 401 next time
            if idle:
                yield live.comment("ping")
                continue
            woken.clear()
            if client.overflowed:
                yield live.frame("reload", "{}")
                return
            chunk = client.take()
            if chunk:
                yield chunk
                await asyncio.sleep(BATCH_INTERVAL_S)
    finally:
        hub.leave(client)


def _larger(path: str) -> int | None:
    """The larger body limit of a path: the editor's forms, the controls' POSTs."""
    return editor_limit(path) or control_limit(path)


def build_app(backend: Backend, hub: live.LiveHub) -> Starlette:
    """The ASGI application (the page handlers are in raspy.actors.web.pages, the
    JSON API in raspy.actors.web.api)."""
    from raspy.actors.web import api, controls, editor
    from raspy.actors.web import pages as p

    def route(
        path: str,
        handler: Handler,
        *,
        methods: tuple[str, ...] = ("GET",),
        api: bool = False,
        form_limit: int = forms.MAX_FORM_BYTES,
    ) -> Route:
        endpoint = page_route(backend, handler, api=api, form_limit=form_limit)
        return Route(path, endpoint, methods=list(methods))

    async def login_get(request: Request) -> Response:
        return await login_form(request, backend)

    async def login_post(request: Request) -> Response:
        return await login_submit(request, backend)

    async def devices(request: Request, backend: Backend, session: Session) -> Response:
        return await p.devices_page(request, backend, session, tree=hub.values)

    async def control_form(
        request: Request, backend: Backend, session: Session
    ) -> Response:
        return await controls.control_form(request, backend, session, hub.values)

    async def device(request: Request, backend: Backend, session: Session) -> Response:
        return await p.device_page(request, backend, session, tree=hub.values)

    big = MAX_CONTROL_FORM_BYTES
    control_api = controls.control_api
    routes: list[Any] = [
        Route("/login", login_get, methods=["GET"]),
        Route("/login", login_post, methods=["POST"]),
        Route("/static/{name}", static, methods=["GET"]),
        route("/logout", logout, methods=("POST",)),
        route("/", devices),
        route("/device/{fullname}", device),
        route("/device/{fullname}/chart.svg", p.chart),
        route("/scenarios", p.scenarios_page),
        route("/scenarios/{name}", p.scenario_page),
        *editor.routes(route),  # before the buttons' /scenarios/{name}/{action}
        route("/scenarios/{name}/{action}", p.scenario_action, methods=("POST",)),
        route("/services", p.services_page),
        route("/titanic", p.titanic_page),
        route("/events", events_route(hub), api=True),
        route("/api/device", api.device_command, methods=("POST",), api=True),
        # a control's form may hold a text control's longest text
        route("/controls", control_form, methods=("POST",), form_limit=big),
        route("/api/control", control_api, methods=("POST",), api=True, form_limit=big),
        route("/{path:path}", p.not_found, methods=("GET", "POST")),  # last
    ]
    return Starlette(
        routes=routes,
        middleware=[
            Middleware(QuietDisconnect),
            Middleware(BodyLimit, limit=MAX_BODY_BYTES, larger=_larger),
        ],
    )
