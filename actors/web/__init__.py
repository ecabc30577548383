"""The web face in raspyd: WebActor (the ZeroMQ side) and WebServer (the HTTP thread).

WebActor is an in-process MDP client like the scenario actors: it sends requests
through the outbox as peer `<owner>/r<id>` and the edge routes the replies back here;
it follows the daemon's own Clone updates (CloneSubscribe, no socket, no polling)
and the services' comings and goings (WatchServices), so that a page need not ask
the broker whether an announced service is there.
WebServer (raspy.actors.web.server) runs uvicorn on an asyncio loop in its own
thread; it owns the listening socket and every connection. The two meet only through
pykka tell() (HTTP -> actor, with a concurrent Future to answer) and
loop.call_soon_threadsafe (actor -> HTTP, the tree changes for the live pages).
"""

from __future__ import annotations

import contextlib
import socket
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from datetime import UTC, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import pykka
import structlog

from raspy import names
from raspy.actors import messages as msgs
from raspy.actors.clone.publisher import ClonePublisher
from raspy.actors.clone.server import subscribe_seeded
from raspy.actors.steady import SteadyActor
from raspy.actors.web.app import build_app
from raspy.actors.web.backend import (
    REQUEST_TIMEOUT_S,
    Backend,
    ReadTitanic,
    ServiceRequest,
    WriteKey,
)
from raspy.actors.web.server import WebServer, bind_socket
from raspy.actors.worker import (
    LocalClient,
    LocalReply,
    PeerLinks,
    RejectedReply,
    UnroutableReply,
    leave,
    local_peer_id,
)
from raspy.config import Config
from raspy.control_tables import declared
from raspy.controls import Control
from raspy.errors import ConfigError, StoreError
from raspy.records import frozen
from raspy.storage import tables
from raspy.storage.store import Store, Table
from raspy.transport.outbox import Outbox
from raspy.web.live import LIVE_PREFIXES, is_live
from raspy.web.login_files import LoginFiles
from raspy.web.models import TitanicEntry
from raspy.web.session_file import sessions_path
from raspy.web.start_files import check_login_modes, remove_leftovers

if TYPE_CHECKING:
    from raspy.actors.supervisor import Runtime

log = structlog.get_logger(component="web")

_ASK_TIMEOUT_S: Final = 5.0
CHILD: Final = "web"
WEB_PORT_OFFSET: Final = 4  # docs/architecture.md: the web face at port_base + 4
MAX_PORT: Final = 65535


@frozen
class _HttpFailed:
    error: BaseException


@frozen
class WebSettings:
    bind: str
    port: int
    hostname: str
    session_s: float
    logins: LoginFiles
    zone: tzinfo = UTC  # the hub's ([core] timezone)
    max_key_bytes: int = 255  # the Clone server's ([clone] max_key_bytes)
    # the sessions kept across restarts, in the data dir (None: in memory only)
    sessions_path: Path | None = None
    controls: tuple[Control, ...] = ()  # [[controls]]: set on the Devices page
    hosts: tuple[str, ...] = ()  # [http] hosts: names served besides the own ones


class WebActor(SteadyActor):
    """See the module docstring. A told message that fails is counted and logged
    (SteadyActor); only its HTTP thread's failure stops it (then it is restarted)."""

    def __init__(
        self, settings: WebSettings, links: PeerLinks, sock: socket.socket
    ) -> None:
        super().__init__("web", links.stats, links.clock.monotonic)
        self._sock = sock  # bound by the caller: a taken port fails the start there
        self._settings = settings
        self._links = links
        # a page waits REQUEST_TIMEOUT_S for its answer, then gives up its future
        self._client: LocalClient[Future[list[bytes]]] = LocalClient(
            links.outbox,
            local_peer_id(f"web.{uuid.uuid4().hex[:12]}"),
            timeout_s=REQUEST_TIMEOUT_S,
        )
        self._server: WebServer | None = None
        self._backend: Backend | None = None
        # the controls' writes (raspy.controls), by the uuid of their update
        self._publisher: ClonePublisher | None = None
        self._writes: dict[bytes, Future[None]] = {}
        self._control_keys = frozenset(c.key for c in settings.controls)

    def on_start(self) -> None:
        links, settings = self._links, self._settings
        backend = self._backend = Backend(
            hostname=settings.hostname,
            tell=self.actor_ref.tell,
            logins=settings.logins,
            session_s=settings.session_s,
            clock=links.clock,
            zone=settings.zone,
            sessions_path=settings.sessions_path,
            controls=settings.controls,
            hosts=settings.hosts,
        )
        server = self._server = WebServer(
            lambda hub: build_app(backend, hub),
            self._sock,
            controls=settings.controls,
        )
        server.on_failure = self._http_failed
        try:
            self._connect(server)
        except BaseException:
            self._release()  # pykka calls neither on_stop nor on_failure here
            raise
        log.info("web_started", endpoint=f"http://{settings.bind}:{settings.port}/")

    def _connect(self, server: WebServer) -> None:
        links = self._links
        self._client.attach(links.edge, self.actor_ref, _ASK_TIMEOUT_S)
        links.edge.ask(msgs.WatchServices(self.actor_ref), timeout=_ASK_TIMEOUT_S)
        if links.clone is not None:
            # a control's key is subscribed as a prefix (the Clone server has no
            # other kind): what it brings under it is dropped here (_wanted)
            keys = tuple(c.key for c in self._settings.controls)
            prefixes = (*LIVE_PREFIXES, *keys)
            stored: list[tuple[str, bytes]] = []
            for prefix in prefixes:
                # a control's write that the server drops is said (KeyRefused); the
                # tree where the subscription begins: no change sent twice
                seed = subscribe_seeded(
                    links.clone, prefix, self.actor_ref, refusals=prefix in keys
                )
                stored += [(key, body) for key, body in seed if self._wanted(key)]
            if self._settings.controls:
                outbox = links.clone.ask(
                    msgs.GetPublishOutbox(), timeout=_ASK_TIMEOUT_S
                )
                assert isinstance(outbox, Outbox)
                self._publisher = ClonePublisher(outbox, self._settings.max_key_bytes)
            server.feed(stored, seed=True)
        server.start()

    def _wanted(self, key: str) -> bool:
        """A live key or a control's own: not one a control's key only prefixes
        (`/house/modest/x` under `/house/mode`)."""
        return is_live(key) or key in self._control_keys

    def _http_failed(self, error: BaseException) -> None:
        with contextlib.suppress(pykka.ActorDeadError):
            self.actor_ref.tell(_HttpFailed(error))

    def on_stop(self) -> None:
        self._release()
        log.info("web_stopped")

    def on_failure(self, *_exc_info: object) -> None:
        self._release()

    def _release(self) -> None:
        """Stop the HTTP thread, close the socket, leave the broker and the tree."""
        for result in self._client.forget(lambda _: True):
            result.cancel()  # no reply can reach a stopping actor: end them now
        server, self._server = self._server, None
        if server is not None:
            server.stop()
        self._sock.close()
        leave(self._links, self.actor_ref, [self._client.owner])

    def receive(self, message: Any) -> Any:
        match message:
            case msgs.KeyChanged(key=raw, body=body, uuid=made):
                key = raw.decode("utf-8", "replace")
                if not self._wanted(key):
                    return None  # under a control's key, not it: nothing of ours
                if self._server is not None:
                    self._server.feed([(key, body)])
                written = self._writes.pop(made, None) if made else None
                if written is not None:  # after the feed: the page shows it
                    with contextlib.suppress(InvalidStateError):
                        written.set_result(None)
            case WriteKey(key=key, body=body, result=result):
                self._write(key, body, result)
            case msgs.KeyRefused(uuid=made, reason=reason):
                refused = self._writes.pop(made, None)
                if refused is not None:
                    with contextlib.suppress(InvalidStateError):
                        refused.set_exception(ValueError(reason))
            case ServiceRequest(service=service, body=body, result=result):
                self._send(service, body, result)
            case msgs.MdpFrames(frames=frames, peer_id=peer_id):
                self._on_reply(peer_id, frames)
            case msgs.ServiceAvailabilityChanged(service=service, available=up):
                self._service_changed(service.decode("utf-8", "replace"), up)
            case ReadTitanic(limit=limit, result=result):
                _answer(result, lambda: titanic_queue(self._links.store, limit))
            case _HttpFailed():  # logged by its thread (web_server_failed)
                self.stop()
            case _:
                log.warning("unexpected_message", kind=type(message).__name__)
        return None

    def _write(self, key: bytes, body: bytes, result: Future[None]) -> None:
        """A control's value, through the in-process publisher; `result` is set
        when it comes back published (or refused)."""
        self._writes = {k: f for k, f in self._writes.items() if not f.done()}
        if self._publisher is None:
            result.set_exception(ValueError("the tree is not served ([clone] is off)"))
            return
        try:
            self._writes[self._publisher.update(key, body)] = result
        except ValueError as exc:
            result.set_exception(exc)

    def _service_changed(self, service: str, available: bool) -> None:
        backend = self._backend
        if backend is not None:
            live = backend.live_services
            backend.live_services = live | {service} if available else live - {service}

    def _send(
        self, service: bytes, body: tuple[bytes, ...], result: Future[list[bytes]]
    ) -> None:
        now = self._links.clock.monotonic()
        for abandoned in self._client.expire(now):
            abandoned.cancel()  # the page gave up waiting already
        self._client.request(service, body, result, now)

    def _on_reply(self, peer_id: bytes, frames: tuple[bytes, ...]) -> None:
        match self._client.reply(peer_id, frames):
            case LocalReply(request_id=request_id, body=body):
                result = self._client.take(request_id)
                if result is not None:
                    with contextlib.suppress(InvalidStateError):  # the page gave up
                        result.set_result(list(body))
            case UnroutableReply():
                self._links.stats.incr("web.unroutable")
            case RejectedReply(error=error):
                log.warning("frame_rejected", reason=error.reason)


def _answer(result: Future[Any], work: Callable[[], Any]) -> None:
    try:
        value = work()
    except (StoreError, OSError) as exc:
        with contextlib.suppress(InvalidStateError):
            result.set_exception(exc)
        return
    with contextlib.suppress(InvalidStateError):
        result.set_result(value)


def titanic_queue(store: Store, limit: int) -> tuple[int, list[TitanicEntry]]:
    """How many requests wait in Titanic's queue, and the first `limit` of them
    (one read view: a consistent picture)."""
    entries: list[TitanicEntry] = []
    with store.read_view() as view:
        total = view.count(Table.TITANIC_QUEUE)
        queued = view.iter_from(Table.TITANIC_QUEUE, b"", None, limit)
        for position, (key, _) in enumerate(queued, 1):
            _, raw_uuid = tables.decode_queue_key(key)
            data = view.get(Table.TITANIC_REQUESTS, raw_uuid)
            if data is None:
                continue
            record = tables.decode_titanic_request(data)
            entries.append(
                TitanicEntry(
                    position,
                    raw_uuid.decode("ascii"),
                    record.service.decode("utf-8", "replace"),
                    record.created,
                    len(record.body),
                )
            )
    return total, entries


def check_config(config: Config) -> None:
    """[http]: a port after the port base's four, and beyond loopback only with a
    login configured (password_hash_file itself is checked by raspy.config_files,
    before this)."""
    http = config.http
    if not http.enabled:
        return
    problems: list[str] = []
    port = config.network.port_base + WEB_PORT_OFFSET
    if port > MAX_PORT:  # the port base alone may go up to 65532
        problems.append(
            f"network.port_base: {config.network.port_base} leaves no port for the "
            f"web face (port base + {WEB_PORT_OFFSET} = {port}); at most "
            f"{MAX_PORT - WEB_PORT_OFFSET} with [http] enabled"
        )
    logins = LoginFiles(config.data_dir, http.password_hash_file)
    if not names.is_loopback(http.bind) and not logins.configured():
        problems.append(
            f"http.bind: {http.bind} is beyond loopback and no login is "
            "configured: run `raspy web-token --data-dir "
            f"{config.data_dir}` or set http.password_hash_file"
        )
    if problems:
        raise ConfigError(problems)


def check_files(config: Config) -> None:
    """At raspyd's start, before the web face's first: the login files' modes
    warned about, the temp files a write cut short left in the data dir removed
    (raspy.web.start_files). Not at a later start of the web face: its predecessor
    may be writing the sessions file."""
    if not config.http.enabled:
        return
    check_login_modes(LoginFiles(config.data_dir, config.http.password_hash_file))
    # against the files' own times, which the system's clock wrote
    remove_leftovers(Path(config.data_dir), time.time())


def start_web(rt: Runtime) -> None:
    """Start the web face when [http] enabled, with or without a Clone server; again
    after the Clone server restarts (the live pages need a subscription on the new
    one). Its first start fails raspyd (a taken port is said at once); a later one is
    retried."""
    config = rt.config
    if not config.http.enabled:
        return
    settings = WebSettings(
        bind=config.http.bind,
        port=config.network.port_base + WEB_PORT_OFFSET,
        hostname=rt.hostname,
        session_s=config.http.session_s,
        logins=LoginFiles(config.data_dir, config.http.password_hash_file),
        sessions_path=sessions_path(config.data_dir),
        zone=rt.zone(),
        controls=declared(config.controls, config.clone.max_key_bytes),
        max_key_bytes=config.clone.max_key_bytes,
        hosts=config.http.hosts,
    )

    def start(clone: pykka.ActorRef[Any] | None) -> pykka.ActorRef[Any]:
        sock = bind_socket(settings.bind, settings.port)
        try:
            return WebActor.start(settings, rt.peer_links(clone), sock)
        except BaseException:
            sock.close()
            raise

    rt.follow_clone_or_none(CHILD, start, critical=True)
