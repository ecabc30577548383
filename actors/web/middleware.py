"""What every answer of the web face passes through: the security headers, the
check of the `Host` name, the request body's limit, and a client gone while its
body was read.

Pure ASGI around the Starlette app (raspy.actors.web.app); nothing here speaks to
the hub.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Final

import structlog
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from raspy.web.hosts import refused_name

log = structlog.get_logger(component="web")

_SECURITY_HEADERS: Final = {
    # nothing inline, nothing from elsewhere (the charts are images from here)
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; "
    "style-src 'self'; img-src 'self'; connect-src 'self'; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    # same-origin, not no-referrer: with no-referrer a browser sends `Origin: null`
    # on form POSTs, and the same-origin check could not tell them from a foreign one
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


_DEFAULTS: Final = tuple(
    (name.lower().encode("latin-1"), value.encode("latin-1"))
    for name, value in {**_SECURITY_HEADERS, "Cache-Control": "no-store"}.items()
)


def secured(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """`headers` and each security header (and `Cache-Control: no-store`) they do
    not set themselves: SecurityHeaders' for our answers, and the server's
    (raspy.actors.web.server) for those uvicorn makes itself."""
    given = list(headers)
    present = {bytes(name).lower() for name, _ in given}
    return given + [(n, v) for n, v in _DEFAULTS if n not in present]


def cached(response: Response) -> Response:
    """A response browsers may keep for an hour (the static files); every other
    is `no-store` (SecurityHeaders)."""
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response


class SecurityHeaders:
    """The security headers, and `Cache-Control: no-store`, on every answer that
    has not set its own: the outermost layer, so that no answer is without them,
    Starlette's own (a 405, a 413 raised while a body is read, a 500) too. Set
    per response, they were missing on every answer no handler of ours made.
    uvicorn's own answers (a 400, a 503) never pass here: the server's h11
    connection adds them (raspy.actors.web.server)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = secured(message.get("headers", []))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_secured)


class HostCheck:
    """Refuse (400, one line) a request whose `Host` names no IP address and none of
    `names` (raspy.web.hosts): a page elsewhere whose name was made to point at
    the hub (DNS rebinding) would otherwise drive the login form, and every page
    after a login, from a household member's browser, as if it were the hub's own."""

    def __init__(self, app: ASGIApp, names: frozenset[str]) -> None:
        self.app = app
        self.names = names

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refused = refused_name(Headers(scope=scope).get("host"), self.names)
            if refused is not None:
                log.warning("web_host_refused", host=refused[:100])
                reason = (
                    f"this hub does not answer to the name {refused[:100]!r}: add it "
                    "to [http] hosts in raspyd's config to use it\n"
                )
                answer = Response(reason, 400, media_type="text/plain")
                await answer(scope, receive, send)
                return
        await self.app(scope, receive, send)


class BodyLimit:
    """Refuse a request body over `limit` bytes (413) before it is read: a declared
    length at once, one sent in chunks as soon as it passes the limit. Without it
    every body was read whole, whatever its size, the login form's too.
    `larger(path)` names a larger limit for a path (the scenario editor's forms)."""

    def __init__(
        self,
        app: ASGIApp,
        limit: int,
        larger: Callable[[str], int | None] = lambda path: None,
    ) -> None:
        self.app = app
        self.default = limit
        self.larger = larger

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.larger(scope.get("path", "")) or self.default
        reason = f"request body over {limit} bytes"
        declared = Headers(scope=scope).get("content-length", "0")
        if not declared.isdigit() or int(declared) > limit:
            too_large = Response(reason, 413, media_type="text/plain")
            await too_large(scope, receive, send)
            return
        received = 0

        async def bounded() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise HTTPException(413, reason)
            return message

        await self.app(scope, bounded, send)


class QuietDisconnect:
    """A client that leaves while its body is read ends its request without a trace:
    there is nobody to answer, and uvicorn would log the ClientDisconnect that
    reading the body raises as an error with a traceback."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        except ClientDisconnect:
            log.debug("web_client_left", path=scope.get("path", ""))
