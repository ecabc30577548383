"""The blocking MDP worker for external apps (RFC 7, RFC 18, majortomo dialect).

Heartbeats, reconnects and DISCONNECT come from WorkerCore; the socket is owned by one
thread: the caller's, or the I/O runner's (raspy.client.link.LinkOwner). Imported by raspy.client.mdp, where its example lives.
"""

from __future__ import annotations

import enum
import math
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Final, Literal

import zmq

from raspy.client.link import LinkOwner, Reply, WorkerLink
from raspy.closing import Closing
from raspy.cores.worker import WorkerCore, WorkerSettings
from raspy.errors import RaspyError, quote
from raspy.library_log import library_logger
from raspy.protocol import mdp
from raspy.protocol.frames import to_bytes
from raspy.protocol.mdp import Version
from raspy.transport.runner import Runner
from raspy.transport.sockets import (
    DEFAULT_LINGER_MS,
    Context,
    CurveKeys,
    check_endpoint,
)

log = library_logger(component="mdp_worker")

_STOP_POLL_S: Final = 0.05  # how often serve() looks at its stop event
_PAUSE: Final = threading.Event()  # never set: a pause while no socket exists
_JOIN_GRACE_S: Final = 5.0


class _Ended(enum.Enum):
    """What wakes a caller that waits for a request when no request comes."""

    FAILED = "failed"  # the I/O thread died
    CLOSED = "closed"  # close() was called, e.g. from a signal handler


Request = tuple[bytes, list[bytes]]
_Closed = Literal[_Ended.CLOSED]


def reply_frames(body: Sequence[bytes | str]) -> tuple[bytes, ...]:
    """A reply body as frames, checked in the caller's thread: on the I/O thread a
    frame ZeroMQ cannot send was lost unseen, and the broker kept the worker busy.

    str frames go as UTF-8, any buffer (bytearray, memoryview, zmq.Frame) as its
    bytes; a bare bytes or str (not a list of frames) and a frame that is no buffer
    are a TypeError.
    """
    given: object = body  # what a handler returns is not checked by its type
    if isinstance(given, (bytes, bytearray, memoryview, str)):
        raise TypeError(
            f"a reply body is a list of frames, not one {type(given).__name__}: "
            "wrap it in a list"
        )
    frames: list[bytes] = []
    for index, item in enumerate(body):
        frame: object = item
        if isinstance(frame, (bytes, str)):
            frames.append(to_bytes(frame))
            continue
        try:  # any buffer pyzmq sent before (bytearray, memoryview, zmq.Frame)
            frames.append(bytes(memoryview(frame)))  # type: ignore[arg-type]
        except TypeError:
            raise TypeError(
                f"reply frame {index} is a {type(frame).__name__}, not bytes or str"
            ) from None
    return tuple(frames)


class Worker(Closing):
    """A blocking MDP worker of one service on a DEALER socket.

    Heartbeats, broker liveness, reconnects (new socket + READY) and DISCONNECT are
    handled by WorkerCore (docs/protocols.md §2.6, §2.7). With `heartbeat_while_busy`
    (the default, raspy's rule in §2.6) an I/O thread (a Runner) owns the socket,
    so heartbeats go on while a handler runs. Without it the socket lives in the
    caller's thread, as in zguide's
    worker: a little faster, silent while busy (brokers then allow a busy worker
    their long busy timeout). `show_busy_heartbeats` (with the I/O thread) shows a
    raspy broker at each connection's first request that this worker heartbeats while
    busy (two HEARTBEATs before the handler), so that it is given up after liveness x
    interval even with a request at it; off by default, so a worker's first answer to
    its first request is its reply. Requests reach the caller through a queue, replies
    the runner as commands. Use a Worker from the thread that made it.
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
        show_busy_heartbeats: bool = False,
        linger_ms: int = DEFAULT_LINGER_MS,
        context: Context | None = None,
        curve: CurveKeys | None = None,
    ) -> None:
        settings = WorkerSettings(
            heartbeat_interval_s=heartbeat_interval_s,
            heartbeat_liveness=heartbeat_liveness,
            reconnect_initial_s=reconnect_initial_s,
            reconnect_max_s=reconnect_max_s,
            show_busy_heartbeats=heartbeat_while_busy and show_busy_heartbeats,
        )
        core = WorkerCore(to_bytes(service), version, settings)
        self._core = core
        self.endpoint = endpoint
        self.service = core.service
        self.version = version
        self._linger_ms = linger_ms
        self._own_context = context is None
        check_endpoint(endpoint)  # before a context is made: nothing to end
        self._context: Context = zmq.Context() if context is None else context
        self._closed = False
        self._pending: deque[mdp.WorkerRequest] = deque()
        self._failure: BaseException | None = None
        self._link: WorkerLink | None = None
        self._runner: Runner | None = None
        # from the runner: requests, then FAILED if it dies; CLOSED from close()
        self._requests: queue.SimpleQueue[mdp.WorkerRequest | _Ended] = (
            queue.SimpleQueue()
        )
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

    @property
    def sessions(self) -> int:
        """How many connections the broker has taken this worker on (it spoke first
        with anything but DISCONNECT): one more after each loss and reconnect, so a
        caller can resend what the hub may have lost or marked stale meanwhile. Any
        thread may read it."""
        return self._core.sessions

    @property
    def heard(self) -> bool:
        """Has the broker spoken on the connection under way (raspy-poller's
        HubReach looks at why not)? Any thread may read it."""
        return self._core.heard

    def recv(self, timeout_s: float | None = None) -> Request | None:
        """The next request as (client, body), or None after `timeout_s` (None: wait).

        Reply to it with reply(client, ...). Raises RaspyError if the I/O thread died,
        and ValueError once the worker is closed, also when close() comes while it
        waits (from a signal handler). An infinite timeout_s waits as None does; a
        NaN is a ValueError.
        """
        if timeout_s is not None:
            if math.isnan(timeout_s):
                raise ValueError(
                    f"timeout_s must be a number of seconds, got {timeout_s!r}"
                )
            # infinite: for ever, as None (no deadline a clock could be asked for);
            # a deadline already past: no wait
            timeout_s = None if timeout_s == math.inf else max(0.0, timeout_s)
        request = self._receive(timeout_s)
        if request is _Ended.CLOSED:
            raise ValueError("worker is closed")
        return request

    def reply(
        self, client: bytes, body: Sequence[bytes | str], *, final: bool = True
    ) -> None:
        """Answer the request from `client`; final=False sends a PARTIAL (0.2 only).

        `body` is a list of frames: bytes, or str sent as UTF-8. A reply to a
        request received before a reconnect is dropped and logged: the broker has
        forgotten it. Raises TypeError for a body that is not a list of frames
        (b"x" instead of [b"x"]) or a frame of another type, ValueError for an empty
        body, and RaspyError if the I/O thread died.
        """
        self._check_usable()
        frames = reply_frames(body)
        if not frames:
            raise ValueError("an MDP reply needs at least one body frame")
        if not final and self.version is Version.V01:
            raise ValueError("MDP/0.1 has no partial replies")
        if self._runner is not None:
            done = self._runner.call(Reply(client, frames, final))
            if done.done() and done.exception() is not None:
                raise self._thread_failed("takes no replies") from self._failure
        else:
            assert self._link is not None
            self._link.reply(client, frames, final=final)

    def serve(
        self,
        handler: Callable[[list[bytes]], Sequence[bytes | str]],
        *,
        stop: threading.Event | None = None,
        max_requests: int | None = None,
    ) -> None:
        """Answer requests with handler(body) until `stop` is set, `max_requests`,
        or close() (from a signal handler: serve() then returns).

        The handler runs in the calling thread; its return value is the FINAL body,
        a list of frames as reply() takes. An exception from the handler, or the
        TypeError of a body that is not a list of frames, ends serve() and
        propagates; close() then tells the broker, which gives the request to
        another worker.
        """
        served = 0
        timeout_s = None if stop is None else _STOP_POLL_S
        while max_requests is None or served < max_requests:
            if self._closed or (stop is not None and stop.is_set()):
                return
            request = self._receive(timeout_s)
            if request is _Ended.CLOSED:
                return
            if request is None:
                continue
            client, body = request
            answer = handler(body)
            if self._was_closed():  # in the handler: the broker has the request back
                return
            self.reply(client, answer)
            served += 1

    def close(self) -> None:
        """Send DISCONNECT and close the socket with a bounded linger; idempotent."""
        if self._closed:
            return
        self._closed = True
        self._requests.put(_Ended.CLOSED)  # wakes a recv() that waits (reentrant)
        if self._link is not None:
            self._link.close(self._linger_ms)
        stopped = self._runner is None or self._runner.stop(
            timeout_s=self._linger_ms / 1000 + _JOIN_GRACE_S
        )
        if self._own_context and stopped:  # a stuck runner's socket keeps it open
            self._context.term()

    # ------------------------------------------------------------ caller's thread

    def _receive(self, timeout_s: float | None) -> Request | _Closed | None:
        self._check_usable()
        if self._runner is not None:
            return self._recv_from_runner(timeout_s)
        assert self._link is not None
        return self._recv_direct(self._link, timeout_s)

    def _recv_direct(
        self, link: WorkerLink, timeout_s: float | None
    ) -> Request | _Closed | None:
        until = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            if self._closed:  # by a signal handler, while this thread waited
                return _Ended.CLOSED
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
                continue
            try:
                readable = sock.poll(wait_ms)
            except zmq.ZMQError:
                if self._was_closed():  # close() took the socket from the poll
                    return _Ended.CLOSED
                raise
            if readable:
                link.on_readable()

    # ------------------------------------------------------------ with I/O runner

    def _start_io_thread(self, core: WorkerCore, curve: CurveKeys | None) -> None:
        link = WorkerLink(
            self._context, self.endpoint, core, self._requests.put, curve=curve
        )
        runner = Runner(
            "worker", LinkOwner(link, self._linger_ms), on_failure=self._io_failed
        )
        try:
            runner.start()
        except RuntimeError:
            if runner.stop() and self._own_context:
                self._context.term()
            if isinstance(runner.failure, zmq.ZMQError):
                raise runner.failure from None  # as the direct mode raises it
            raise
        self._runner = runner

    def _io_failed(self, error: BaseException) -> None:
        """On the runner's thread: the caller's next recv() or reply() raises."""
        self._failure = error
        self._requests.put(_Ended.FAILED)

    def _recv_from_runner(self, timeout_s: float | None) -> Request | _Closed | None:
        try:
            request = self._requests.get(timeout=timeout_s)
        except queue.Empty:
            return None
        if request is _Ended.CLOSED:
            return request
        if request is _Ended.FAILED:
            raise self._thread_failed("failed") from self._failure
        return request.client, list(request.body)

    def _was_closed(self) -> bool:
        """Read afresh: a signal handler may have called close() meanwhile."""
        return self._closed

    def _check_usable(self) -> None:
        if self._closed:
            raise ValueError("worker is closed")
        if self._failure is not None:
            raise self._thread_failed("failed") from self._failure

    def _thread_failed(self, what: str) -> RaspyError:
        return RaspyError(f"worker I/O thread of {quote(self.service)} {what}")
