"""The web face's HTTP side: Starlette routes on the web server's asyncio loop.

Handlers never touch ZeroMQ: they reach the hub through Backend
(raspy.actors.web.backend). Every route but /login and /static passes the gate
(raspy.actors.web.gate): pages redirect to /login, /api and /events answer 401.
Here: the application built, the static files, the live stream.
"""

from __future__ import annotations

import asyncio
import functools
import socket
from collections.abc import AsyncIterator
from importlib import resources
from typing import Any, Final

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route, request_response
from starlette.types import ASGIApp

from raspy.actors.web.backend import Backend, Handler
from raspy.actors.web.gate import login_form, login_submit, logout, page_route
from raspy.actors.web.middleware import (
    BodyLimit,
    HostCheck,
    QuietDisconnect,
    SecurityHeaders,
    cached,
)
from raspy.web import forms, live
from raspy.web.control_html import MAX_CONTROL_FORM_BYTES
from raspy.web.control_html import body_limit as control_limit
from raspy.web.editor import body_limit as editor_limit
from raspy.web.hosts import own_names
from raspy.web.login import Session

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


async def static(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in _STATIC:
        return Response("not found", 404)
    return cached(Response(_static_bytes(name), media_type=_STATIC[name]))


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


def build_app(backend: Backend, hub: live.LiveHub) -> ASGIApp:
    """The ASGI application (the page handlers are in raspy.actors.web.pages and
    raspy.actors.web.scenarios, the JSON API in raspy.actors.web.api), inside
    SecurityHeaders (no answer leaves without them) and HostCheck (a request
    under a name not the hub's is refused)."""
    from raspy.actors.web import api, controls, editor, scenarios
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
        route("/scenarios", scenarios.scenarios_page),
        route("/scenarios/{name}", scenarios.scenario_page),
        *editor.routes(route),  # before the buttons' /scenarios/{name}/{action}
        route(
            "/scenarios/{name}/{action}", scenarios.scenario_action, methods=("POST",)
        ),
        route("/services", p.services_page),
        route("/titanic", p.titanic_page),
        route("/events", events_route(hub), api=True),
        route("/api/device", api.device_command, methods=("POST",), api=True),
        # a control's form may hold a text control's longest text
        route("/controls", control_form, methods=("POST",), form_limit=big),
        route("/api/control", control_api, methods=("POST",), api=True, form_limit=big),
    ]
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(QuietDisconnect),
            Middleware(BodyLimit, limit=MAX_BODY_BYTES, larger=_larger),
        ],
    )
    # any other target, behind the gate: a route's `{path:path}` matched no path
    # with a newline (`/x%0aY`), nor `*` or an absolute URL (`http://host/x`)
    app.router.default = request_response(page_route(backend, p.not_found))
    names = own_names((socket.gethostname(), backend.hostname), backend.hosts)
    return SecurityHeaders(HostCheck(app, names))
