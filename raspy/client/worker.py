"""The blocking MDP worker for external apps (RFC 7, RFC 18, majortomo dialect).

Heartbeats, reconnects and DISCONNECT come from WorkerCore; the socket is owned by one
thread, WorkerLink's. Imported by raspy.client.mdp, where its example lives.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Final

import structlog
import zmq

from raspy.client.link import WorkerLink, service_name
from raspy.closing import Closing
from raspy.cores.worker import WorkerCore, WorkerSettings
from raspy.errors import RaspyError, quote
from raspy.protocol import mdp
from raspy.protocol.mdp import Version
from raspy.transport.sockets import (
    DEFAULT_LINGER_MS,
    Context,
    CurveKeys,
    Socket,
    make_socket,
)

log = structlog.get_logger(component="mdp_worker")

_STOP_POLL_S: Final = 0.05  # how often serve() looks at its stop event
_MAX_BATCH: Final = 256  # pipe messages handled per wake-up, so timers still run
_PAUSE: Final = threading.Event()  # never set: a pause while no socket exists
_JOIN_GRACE_S: Final = 5.0
_PIPE_SEND_MS: Final = 5000  # a reply the I/O thread does not take by then: it is gone
# Worker I/O thread <-> caller pipe (inproc PAIR), first frame:
_REQUEST: Final = b"R"  # I/O -> caller: [R, client, *body]
_FAILED: Final = b"E"  # I/O -> caller: [E], the I/O thread ended on an error
_FINAL: Final = b"F"  # caller -> I/O: [F, client, *body]
_PARTIAL: Final = b"P"  # caller -> I/O: [P, client, *body]
_STOP: Final = b"X"  # caller -> I/O: [X], send DISCONNECT, close, end
_pipe_ids = itertools.count(1)


def to_bytes(value: bytes | str) -> bytes:
    """str as UTF-8; bytes unchanged."""
    return value.encode("utf-8") if isinstance(value, str) else value


class Worker(Closing):
    """A blocking MDP worker of one service on a DEALER socket.

    Heartbeats, broker liveness, reconnects (new socket + READY) and DISCONNECT are
    handled by WorkerCore (protocols.md §2.6, §2.7). With `heartbeat_while_busy`
    (the default, raspy's rule in §2.6) an I/O thread owns the socket, so
    heartbeats go on while a handler runs; requests and replies cross an inproc
    pipe. Without it the socket lives in the caller's thread, as in zguide's
    worker: a little faster, silent while busy (brokers then allow a busy worker
    their long busy timeout). Use a Worker from the thread that made it.
    """

    def __init__(
        self,
        endpoint: str,
        service: bytes | str,
        *,
        version: Version = Version.V02,
        heartbeat_interval_s: float = 2.5,
        heartbeat_liveness: int = 3,
        reconnect_initial_s: float = 2.5,
        reconnect_max_s: float = 32.0,
        heartbeat_while_busy: bool = True,
        linger_ms: int = DEFAULT_LINGER_MS,
        context: Context | None = None,
        curve: CurveKeys | None = None,
    ) -> None:
        settings = WorkerSettings(
            heartbeat_interval_s=heartbeat_interval_s,
            heartbeat_liveness=heartbeat_liveness,
            reconnect_initial_s=reconnect_initial_s,
            reconnect_max_s=reconnect_max_s,
        )
        core = WorkerCore(to_bytes(service), version, settings)
        self.endpoint = endpoint
        self.service = core.service
        self.version = version
        self._linger_ms = linger_ms
        self._own_context = context is None
        self._context: Context = zmq.Context() if context is None else context
        self._closed = False
        self._pending: deque[mdp.WorkerRequest] = deque()
        self._failure: BaseException | None = None
        self._link: WorkerLink | None = None
        self._pipe: Socket | None = None
        self._thread: threading.Thread | None = None
        if heartbeat_while_busy:
            self._start_io_thread(core, curve)
        else:
            self._link = WorkerLink(
                self._context, endpoint, core, self._pending.append, curve=curve
            )
            try:
                self._link.tick()  # connect and send READY now
            except zmq.ZMQError:
                if self._own_context:
                    self._context.term()
                raise

    def recv(self, timeout_s: float | None = None) -> tuple[bytes, list[bytes]] | None:
        """The next request as (client, body), or None after `timeout_s` (None: wait).

        Reply to it with reply(client, ...). Raises RaspyError if the I/O thread died.
        """
        self._check_usable()
        if self._pipe is not None:
            return self._recv_from_pipe(self._pipe, timeout_s)
        assert self._link is not None
        return self._recv_direct(self._link, timeout_s)

    def reply(
        self, client: bytes, body: Sequence[bytes], *, final: bool = True
    ) -> None:
        """Answer the request from `client`; final=False sends a PARTIAL (0.2 only).

        A reply to a request received before a reconnect is dropped and logged:
        the broker has forgotten it. Raises ValueError for an empty body, and
        RaspyError if the I/O thread died or took no reply for `_PIPE_SEND_MS`.
        """
        self._check_usable()
        if not body:
            raise ValueError("an MDP reply needs at least one body frame")
        if not final and self.version is Version.V01:
            raise ValueError("MDP/0.1 has no partial replies")
        if self._pipe is not None:
            try:
                self._pipe.send_multipart(
                    [_FINAL if final else _PARTIAL, client, *body]
                )
            except zmq.Again:
                raise self._thread_failed("takes no replies") from self._failure
        else:
            assert self._link is not None
            self._link.reply(client, body, final=final)

    def serve(
        self,
        handler: Callable[[list[bytes]], Sequence[bytes]],
        *,
        stop: threading.Event | None = None,
        max_requests: int | None = None,
    ) -> None:
        """Answer requests with handler(body) until `stop` is set or `max_requests`.

        The handler runs in the calling thread; its return value is the FINAL body.
        An exception from the handler ends serve() and propagates; close() then
        tells the broker, which gives the request to another worker.
        """
        served = 0
        timeout_s = None if stop is None else _STOP_POLL_S
        while max_requests is None or served < max_requests:
            if stop is not None and stop.is_set():
                return
            request = self.recv(timeout_s)
            if request is None:
                continue
            client, body = request
            self.reply(client, handler(body))
            served += 1

    def close(self) -> None:
        """Send DISCONNECT and close the socket with a bounded linger; idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._link is not None:
            self._link.close(self._linger_ms)
        if self._pipe is not None and self._thread is not None:
            with contextlib.suppress(zmq.Again):  # the I/O thread may have ended
                self._pipe.send_multipart([_STOP], zmq.NOBLOCK)
            self._thread.join(timeout=self._linger_ms / 1000 + _JOIN_GRACE_S)
            self._pipe.close(linger=0)
            if self._thread.is_alive():
                log.error("worker_thread_stuck", service=service_name(self.service))
        if self._own_context:
            self._context.term()

    # ------------------------------------------------------------ caller's thread

    def _recv_direct(
        self, link: WorkerLink, timeout_s: float | None
    ) -> tuple[bytes, list[bytes]] | None:
        until = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            if self._pending:
                request = self._pending.popleft()
                return request.client, list(request.body)
            link.tick()
            if self._pending:
                continue
            wait_ms = link.wait_ms(until)
            if until is not None and wait_ms == 0 and time.monotonic() >= until:
                return None
            sock = link.socket
            if sock is None:
                _PAUSE.wait(wait_ms / 1000)  # waiting to reconnect: no socket
            elif sock.poll(wait_ms):
                link.on_readable()

    # ------------------------------------------------------------ with I/O thread

    def _start_io_thread(self, core: WorkerCore, curve: CurveKeys | None) -> None:
        endpoint = f"inproc://raspy-worker-{next(_pipe_ids)}"
        pipe = make_socket(self._context, zmq.PAIR, linger_ms=0)
        pipe.setsockopt(zmq.SNDTIMEO, _PIPE_SEND_MS)
        pipe.bind(endpoint)
        self._pipe = pipe
        self._thread = threading.Thread(
            target=self._io_main,
            args=(endpoint, core, curve),
            name="raspy-worker-io",
            daemon=True,  # a forgotten close() must not keep the process alive
        )
        self._thread.start()

    def _recv_from_pipe(
        self, pipe: Socket, timeout_s: float | None
    ) -> tuple[bytes, list[bytes]] | None:
        wait_ms = -1 if timeout_s is None else max(0, math.ceil(timeout_s * 1000))
        if not pipe.poll(wait_ms):
            return None
        frames = pipe.recv_multipart()
        if frames[0] == _REQUEST:
            return frames[1], frames[2:]
        raise self._thread_failed("failed") from self._failure

    def _check_usable(self) -> None:
        if self._closed:
            raise ValueError("worker is closed")
        if self._failure is not None:
            raise self._thread_failed("failed") from self._failure

    def _thread_failed(self, what: str) -> RaspyError:
        return RaspyError(f"worker I/O thread of {quote(self.service)} {what}")

    def _io_main(
        self, endpoint: str, core: WorkerCore, curve: CurveKeys | None
    ) -> None:
        pipe = make_socket(self._context, zmq.PAIR, linger_ms=0)
        pipe.connect(endpoint)

        def deliver(request: mdp.WorkerRequest) -> None:
            pipe.send_multipart([_REQUEST, request.client, *request.body])

        link = WorkerLink(self._context, self.endpoint, core, deliver, curve=curve)
        try:
            self._io_loop(pipe, link)
        except Exception as exc:  # the edge of a loop: log, report, end
            log.exception("worker_thread_failed", service=service_name(self.service))
            self._failure = exc
            pipe.send_multipart([_FAILED])
        finally:
            link.close(self._linger_ms)
            pipe.close(linger=0)

    @staticmethod
    def _io_loop(pipe: Socket, link: WorkerLink) -> None:
        poller = zmq.Poller()
        poller.register(pipe, zmq.POLLIN)
        polled: Socket | None = None
        link.tick()  # connect and send READY
        while True:
            if link.socket is not polled:
                if polled is not None:
                    poller.unregister(polled)
                polled = link.socket
                if polled is not None:
                    poller.register(polled, zmq.POLLIN)
            events = dict(poller.poll(link.wait_ms()))
            if polled is not None and polled in events:
                link.on_readable()
            if pipe in events and not _from_caller(pipe, link):
                return
            link.tick()


def _from_caller(pipe: Socket, link: WorkerLink) -> bool:
    """Carry out the caller's replies; False once it asked to stop."""
    for _ in range(_MAX_BATCH):
        try:
            frames = pipe.recv_multipart(zmq.NOBLOCK)
        except zmq.Again:
            return True
        kind = frames[0]
        if kind == _STOP:
            return False
        link.reply(frames[1], frames[2:], final=kind == _FINAL)
    return True
