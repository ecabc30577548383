"""The web face's HTTP thread: uvicorn (Starlette on h11) on its own asyncio loop.

It owns the listening socket and every connection and touches no ZeroMQ socket. Tree
changes from the WebActor reach its LiveHub through feed() (any thread), drained in
batches on the loop with call_soon_threadsafe.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import threading
from collections.abc import Callable
from typing import Any, Final

import h11
import structlog
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol, RequestResponseCycle

from raspy.actors.web.middleware import secured
from raspy.controls import Control
from raspy.web.live import LiveHub

log = structlog.get_logger(component="web")

_START_TIMEOUT_S: Final = 10.0
# The stop fits in the supervisor's (raspy.child_set.STOP_TIMEOUT_S, 3 s), so that a
# restarted web face finds its port free: requests in flight get _GRACE_S (uvicorn's
# graceful shutdown, then they are cancelled), uvicorn is then forced, and a loop that
# still has not ended is stuck: the listening socket is closed under it.
_GRACE_S: Final = 1  # uvicorn types it int
_FORCE_AFTER_S: Final = _GRACE_S + 0.5
_GIVE_UP_AFTER_S: Final = 0.5
STOP_BUDGET_S: Final = _FORCE_AFTER_S + _GIVE_UP_AFTER_S
HEADER_TIMEOUT_S: Final = 10.0
MAX_CONNECTIONS: Final = 256  # uvicorn's limit_concurrency: more get 503
# Connections open at once from one address. A browser opens at most 6 to a host,
# and each open page holds one more for its live stream: 32 is five busy browsers
# on one address (a reverse proxy's, all of them behind it), and one client needs
# eight addresses to fill MAX_CONNECTIONS.
MAX_CONNECTIONS_PER_ADDRESS: Final = 32
# An IPv6 client from beyond the hub's own network is counted by its /64: such a
# host is given a whole /64 (2^64 addresses, SLAAC and privacy addresses), and
# could otherwise open 32 from each. One in the hub's own /64 (the home LAN: every
# phone, tablet and wall dashboard there has its address in the router's one /64)
# or a link-local one (all in fe80::/64) is counted by its address, as an IPv4 one.
IPV6_PREFIX_BITS: Final = 64


def counted_as(address: str, local: str = "") -> str:
    """What the per-address cap counts a peer under: an IPv4 address as it is, an
    IPv4-mapped one (`::ffff:192.0.2.7`, a dual-stack socket's) as its IPv4
    address, an IPv6 one by its /64 (`2001:db8:0:1::/64`) unless it is link-local
    or in the /64 of `local`, the address it reached the hub at (the accepted
    socket's own): then as it is; text that is no address as it is."""
    ip = _address(address)
    if ip is None:
        return address
    if isinstance(ip, ipaddress.IPv4Address):
        return str(ip)
    if ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    network = ipaddress.ip_network(f"{ip}/{IPV6_PREFIX_BITS}", strict=False)
    own = _address(local)
    if ip.is_link_local or (own is not None and own in network):
        return str(ip)
    return str(network)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """`text` as an address (a link-local one's zone, `fe80::1%eth0`, left out),
    or None when it is none."""
    try:
        return ipaddress.ip_address(text.partition("%")[0])
    except ValueError:
        return None


class _SecuredConnection(h11.Connection):
    """h11's connection with the security headers on every response it writes that
    lacks them: uvicorn answers some requests itself, never asking the app (a 400
    for a request h11 cannot read, a 503 past limit_concurrency, a 500 when the
    app fails before it answers), and those went without them."""

    def send(self, event: h11.Event) -> bytes | None:  # type: ignore[override]
        if isinstance(event, h11.Response):
            event = h11.Response(
                status_code=event.status_code,
                headers=secured(event.headers.raw_items()),
                reason=event.reason,
                http_version=event.http_version,
            )
        return super().send(event)


class _HeaderDeadline(H11Protocol):
    """h11 with a deadline for a request's headers, and one for its body, and a cap
    on the connections of one address. uvicorn has none: a client that connects and
    sends its headers (or its body) a byte at a time, or never ends them, held its
    connection for ever, and 256 of them (limit_concurrency) made every other
    browser get 503. A connection whose next request has not begun `timeout_s`
    after it opened, or after the last response, is closed; so is one whose
    request's body is not all in `timeout_s` after its headers (the handler reading
    it sees the client gone). The deadlines alone bound how long each connection
    lasts, not how many one client holds: ~26 new ones a second kept 256 open. One
    beyond `per_address` open from its address (an IPv6 one from beyond the hub's
    own /64: its /64, counted_as) is closed at once. Its h11 connection puts the
    security headers on uvicorn's own answers too (_SecuredConnection)."""

    timeout_s = HEADER_TIMEOUT_S
    per_address = MAX_CONNECTIONS_PER_ADDRESS
    # address -> connections open from it; one dict per server (_protocol_with),
    # touched only on its loop
    open_from: dict[str, int] = {}  # noqa: RUF012  # replaced per server
    _address = ""

    def __init__(self, config: uvicorn.Config, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        size = config.h11_max_incomplete_event_size  # as uvicorn makes its own
        self.conn = (
            _SecuredConnection(h11.SERVER)
            if size is None
            else _SecuredConnection(h11.SERVER, size)
        )

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        address = "" if self.client is None else str(self.client[0])
        local = "" if self.server is None else str(self.server[0])
        self._address = counted_as(address, local)
        count = self.open_from.get(self._address, 0) + 1
        self.open_from[self._address] = count
        if count > self.per_address:
            log.warning(
                "web_connection_refused",
                address=address,
                counted_as=self._address,
                reason=f"over {self.per_address} connections open from it",
            )
            transport.close()
            return
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        count = self.open_from.get(self._address, 0) - 1
        if count > 0:
            self.open_from[self._address] = count
        else:
            self.open_from.pop(self._address, None)

    def handle_events(self) -> None:
        before = self.cycle
        super().handle_events()
        cycle = self.cycle  # a new one: a request's headers came in
        if cycle is not before and cycle.more_body:
            self.loop.call_later(self.timeout_s, self._check_body, cycle)

    def _check_body(self, cycle: RequestResponseCycle) -> None:
        if cycle is self.cycle and cycle.more_body and not self.transport.is_closing():
            self.transport.close()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm()

    def _arm(self) -> None:
        waiting_after = self.cycle  # a new request replaces it
        self.loop.call_later(self.timeout_s, self._check, waiting_after)

    def _check(self, waiting_after: object) -> None:
        if self.cycle is waiting_after and not self.transport.is_closing():
            self.transport.close()


def _protocol_with(timeout_s: float) -> type[H11Protocol]:
    """_HeaderDeadline with its deadline (tests use a short one) and its own count
    of the connections per address."""
    fields = {"timeout_s": timeout_s, "open_from": {}}
    return type("HeaderDeadline", (_HeaderDeadline,), fields)


class WebServer:
    """uvicorn on its own thread and loop; tree changes reach its LiveHub in batches."""

    def __init__(
        self,
        app_for: Callable[[LiveHub], Any],
        sock: socket.socket,
        *,
        header_timeout_s: float = HEADER_TIMEOUT_S,
        max_connections: int = MAX_CONNECTIONS,
        controls: tuple[Control, ...] = (),
    ) -> None:
        self.hub = LiveHub(controls=controls)
        self._header_timeout_s = header_timeout_s
        self._max_connections = max_connections
        self._sock = sock
        self._app_for = app_for
        self._lock = threading.Lock()
        self._queued: list[tuple[bool, list[tuple[str, bytes]]]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: uvicorn.Server | None = None
        self._started = threading.Event()
        self._thread = threading.Thread(
            target=self._main, name="raspy-web-http", daemon=True
        )
        self.failure: BaseException | None = None
        self.on_failure: Callable[[BaseException], None] | None = None

    def start(self) -> None:
        self._thread.start()
        if not self._started.wait(_START_TIMEOUT_S) or self.failure is not None:
            raise RuntimeError(f"web server did not start: {self.failure}")

    def stop(self) -> None:
        """End serving within STOP_BUDGET_S; the port is free when this returns."""
        loop, server = self._loop, self._server
        if server is not None:
            server.should_exit = True
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop has already ended
                loop.call_soon_threadsafe(self.hub.close)
        if self._thread.ident is not None:  # started (a failed start may not have)
            self._thread.join(_FORCE_AFTER_S)
            if self._thread.is_alive() and server is not None:
                server.force_exit = True  # skip what is left of the graceful part
                self._thread.join(_GIVE_UP_AFTER_S)
            if self._thread.is_alive():
                log.error("web_server_stuck", waited_s=STOP_BUDGET_S)
                _stop_listening(self._sock)  # its loop closes it, if it ever ends
                return
        self._sock.close()  # uvicorn has closed it already

    def feed(self, changes: list[tuple[str, bytes]], *, seed: bool = False) -> None:
        """Any thread: queue changes for the hub; one wake-up per batch, not per key."""
        with self._lock:
            self._queued.append((seed, changes))
            first = len(self._queued) == 1
        loop = self._loop
        if first and loop is not None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._drain)

    def _drain(self) -> None:
        with self._lock:
            queued, self._queued = self._queued, []
        for seed, changes in queued:
            if seed:
                self.hub.seed(changes)
            else:
                self.hub.publish(changes)

    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # uvicorn may sys.exit(): report it
            self.failure = exc
            log.exception("web_server_failed")
            if self.on_failure is not None:
                self.on_failure(exc)
        finally:
            self._started.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._drain()
        config = uvicorn.Config(
            self._app_for(self.hub),
            http=_protocol_with(self._header_timeout_s),
            loop="asyncio",
            ws="none",
            lifespan="off",
            log_config=None,
            log_level="warning",
            access_log=False,
            server_header=False,
            proxy_headers=False,
            limit_concurrency=self._max_connections,
            timeout_keep_alive=5,
            timeout_graceful_shutdown=_GRACE_S,
        )
        self._server = uvicorn.Server(config)
        serving = asyncio.create_task(self._server.serve(sockets=[self._sock]))
        while not self._server.started and not serving.done():
            await asyncio.sleep(
                0.01
            )  # uvicorn has no start event; a short bounded wait
        self._started.set()
        await serving


def _stop_listening(sock: socket.socket) -> None:
    """Free the port of a listening socket that a stuck loop still polls: on Linux
    shutdown() ends the listener and leaves the descriptor valid for its owner
    (closing it would pull it from under the loop); elsewhere, close it."""
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        sock.close()


class ListenError(RuntimeError):
    """The web face's address cannot be listened on; `errno` says why (EADDRINUSE:
    taken, a runtime failure; anything else: an address this host does not have)."""

    def __init__(self, message: str, errno: int | None) -> None:
        super().__init__(message)
        self.errno = errno


def bind_socket(host: str, port: int) -> socket.socket:
    """The listening socket, bound here so that a taken port fails the start."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise ListenError(
            f"web face cannot listen on {host}:{port}: {exc.strerror}", exc.errno
        ) from exc
    return sock
