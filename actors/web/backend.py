"""What the web face's handlers reach (Backend): the WebActor by tell, with the
messages it is told, the logins and sessions, the clock; and the shape of a handler.

Nothing here touches ZeroMQ: a service request is told to the WebActor with a
concurrent Future and awaited on the server's loop (REQUEST_TIMEOUT_S at most).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, tzinfo
from pathlib import Path
from typing import Final

import structlog
from starlette.requests import Request
from starlette.responses import Response

from raspy.clock import Clock
from raspy.controls import Control
from raspy.errors import ConfigError
from raspy.records import frozen
from raspy.web import html
from raspy.web.editor import SavedWarnings
from raspy.web.login import (
    LoginThrottle,
    SecretHash,
    Session,
    Sessions,
    unmatchable_hash,
    verify,
)
from raspy.web.login_files import LoginFiles
from raspy.web.models import ReplyError, TitanicEntry
from raspy.web.session_file import KeptSessions

log = structlog.get_logger(component="web")

SESSION_COOKIE: Final = "raspy_session"
REQUEST_TIMEOUT_S: Final = 5.0
# a login is checked against this many hashes, whichever files exist: the token's
# and the password's, an unmatchable one in place of each that is absent
LOGIN_KINDS: Final = 2
_ABSENT: Final[SecretHash] = unmatchable_hash()


@frozen
class ServiceRequest:
    """Told to the WebActor: send an MDP request; `result` gets the reply frames."""

    service: bytes
    body: tuple[bytes, ...]
    result: Future[list[bytes]]


@frozen
class WriteKey:
    """Told to the WebActor: write a tree key (a control's value); `result` is set
    once the Clone server has published it, an exception if it never will."""

    key: bytes
    body: bytes
    result: Future[None]


@frozen
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
    # [http] hosts: names served besides IP addresses and the machine's own
    hosts: tuple[str, ...] = ()
    # each device's friendly name as its service last listed it (fullname -> name):
    # a remote board gone keeps its devices' names on the pages (its readings stay
    # in the tree; the names come only with a list reply). One entry a device seen.
    labels: dict[str, str] = field(default_factory=dict)

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

    async def available(self, service: str, *, fresh: bool = False) -> bool:
        """Does the service have a live worker? Asked before a request that would
        otherwise wait in the broker until it times out. One the broker announced
        is taken at its word, with no round trip (a page, then its chart), unless
        `fresh` (a command: the announcement that it left may still be on its way,
        and the command would wait, then be dropped); any other is asked
        (mmi.service): an announcement may still be on its way."""
        if service in self.live_services and not fresh:
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
        unreadable since the start logs why and lets nobody in. Always LOGIN_KINDS
        checks, every one run: one per file present, stopping at the first match,
        made a login without a `raspy web-token` twice as fast as one with it."""
        try:
            hashes = self.logins.hashes()
        except ConfigError as exc:
            log.error("web_login_unusable", reason=str(exc))
            return False
        hashes = hashes[:LOGIN_KINDS]
        checked = [verify(secret, expected) for expected in hashes]
        for _ in range(LOGIN_KINDS - len(hashes)):
            verify(secret, _ABSENT)  # its answer is no: only its time counts
        return any(checked)


Handler = Callable[[Request, Backend, Session], Awaitable[Response]]
