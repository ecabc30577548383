"""WorkerLink: a worker's DEALER socket driven by its WorkerCore.

Used only by the thread that made it (the socket's owner): the caller's thread, or
the worker's I/O runner (LinkOwner). It carries out the core's outputs and never
blocks on a send.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Final

import zmq

from raspy.cores.worker import (
    Connect,
    Deliver,
    Reconnect,
    Rejected,
    ReplyDropped,
    Send,
    WorkerCore,
    WorkerOutput,
)
from raspy.library_log import library_logger
from raspy.protocol import mdp
from raspy.protocol.frames import service_name
from raspy.ratelimit import LogRateLimiter
from raspy.records import frozen
from raspy.transport.runner import Runner, UnknownCommand
from raspy.transport.sockets import (
    RECONNECT_MAX_MS,
    Context,
    CurveKeys,
    Socket,
    connect_socket,
)

log = library_logger(component="mdp_worker")

_MAX_BATCH: Final = 256  # messages drained per wake-up, so timers still run


class WorkerLink:
    """One worker connection at a time; requests go to `deliver`."""

    def __init__(
        self,
        context: Context,
        endpoint: str,
        core: WorkerCore,
        deliver: Callable[[mdp.WorkerRequest], None],
        *,
        curve: CurveKeys | None = None,
    ) -> None:
        self.core = core
        self.socket: Socket | None = None
        self._context = context
        self._endpoint = endpoint
        self._deliver = deliver
        self._curve = curve
        self._limiter = LogRateLimiter()

    def tick(self) -> None:
        """Run the core's timers if one is due (heartbeat, expiry, reconnect)."""
        deadline = self.core.next_deadline()
        if deadline is not None:
            now = time.monotonic()
            if now >= deadline:
                self._apply(self.core.on_tick(now))

    def wait_ms(self, until: float | None = None) -> int:
        """Milliseconds to the next timer (or `until`, if sooner); -1 for none."""
        deadline = self.core.next_deadline()
        if until is not None:
            deadline = until if deadline is None else min(deadline, until)
        if deadline is None:
            return -1
        return max(0, math.ceil((deadline - time.monotonic()) * 1000))

    def on_readable(self) -> None:
        """Feed what the socket holds to the core (bounded per call)."""
        sock = self.socket
        for _ in range(_MAX_BATCH):
            if sock is None or sock is not self.socket:
                return  # the core reconnected: what is left belongs to the old socket
            try:
                frames = sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            sessions = self.core.sessions
            outputs = self.core.on_frames(frames, time.monotonic())
            if self.core.sessions > sessions:  # the broker spoke: it took our READY
                self._log_connection("worker_connected")
            self._apply(outputs)

    def reply(self, client: bytes, body: Sequence[bytes], *, final: bool) -> None:
        self._apply(self.core.reply(client, body, time.monotonic(), final=final))

    def close(self, linger_ms: int) -> None:
        """DISCONNECT if connected, then close with a bounded linger, whatever the
        DISCONNECT met: an open socket would hang the context's term() for ever."""
        try:
            last_words = self.core.close()
            if self.socket is not None:  # none if the connect itself failed
                self._apply(last_words)
        except zmq.ZMQError as exc:  # e.g. ETERM: the context is terminating
            log.debug("last_words_dropped", reason=str(exc))
        finally:
            if self.socket is not None:
                self.socket.close(linger=linger_ms)
                self.socket = None

    def _apply(self, outputs: list[WorkerOutput]) -> None:
        for out in outputs:
            if isinstance(out, Deliver):
                self._deliver(out.request)
            elif isinstance(out, Send):
                self._send(out.frames)
            elif isinstance(out, Connect):
                self._connect()
            elif isinstance(out, Reconnect):
                self._drop_socket()
                log.warning(
                    "broker_lost",
                    service=service_name(self.core.service),
                    endpoint=self._endpoint,
                    reason=out.reason,
                    delay_s=out.after_s,
                )
            elif isinstance(out, Rejected):
                if self._limiter.should_log(out.reason, time.monotonic()):
                    log.warning(
                        "message_rejected",
                        reason=out.reason,
                        detail=out.detail,
                        frames=out.frames,
                    )
            elif isinstance(out, ReplyDropped):
                log.warning("reply_dropped", client=out.client.hex(), reason=out.reason)

    def _send(self, frames: list[bytes]) -> None:
        sock = self.socket
        assert sock is not None, "the core sends only while connected"
        try:
            sock.send_multipart(frames, zmq.NOBLOCK)
        except zmq.Again:
            # Only when the broker stopped reading: the core will notice its silence.
            if self._limiter.should_log("send_dropped", time.monotonic()):
                log.warning("send_dropped", reason="hwm", frames=len(frames))

    def _connect(self) -> None:
        self._drop_socket()
        self.socket = connect_socket(
            self._context,
            zmq.DEALER,
            self._endpoint,
            linger_ms=0,
            curve=self._curve,
            reconnect_max_ms=RECONNECT_MAX_MS,  # a broker away for hours: every 2 s
        )
        # ZeroMQ connects in the background, to a broker there or not: connected is
        # said when the broker first speaks (a heartbeat or a request)
        self._log_connection("worker_connecting")

    def _log_connection(self, event: str) -> None:
        log.info(
            event,
            service=service_name(self.core.service),
            endpoint=self._endpoint,
            version=self.core.version.value,
        )

    def _drop_socket(self) -> None:
        if self.socket is not None:
            self.socket.close(linger=0)
            self.socket = None


@frozen
class Reply:
    """A caller's reply, carried to the runner's thread (final=False: PARTIAL)."""

    client: bytes
    body: tuple[bytes, ...]
    final: bool


class LinkOwner:
    """A WorkerLink on an I/O Runner: heartbeats go on while the caller is busy."""

    def __init__(self, link: WorkerLink, linger_ms: int) -> None:
        self._link = link
        self._linger_ms = linger_ms
        self._runner: Runner | None = None
        self._polled: Socket | None = None

    def open(self, runner: Runner) -> None:
        self._runner = runner
        self._link.tick()  # connect and send READY
        self._watch_socket()

    def next_deadline(self) -> float | None:
        return self._link.core.next_deadline()

    def on_turn(self, now: float) -> None:
        self._link.tick()
        self._watch_socket()

    def execute(self, command: object) -> object:
        if not isinstance(command, Reply):
            raise UnknownCommand("worker", command)
        self._link.reply(command.client, command.body, final=command.final)
        return None

    def close(self) -> None:
        self._link.close(self._linger_ms)

    def _watch_socket(self) -> None:
        """A reconnect makes a new socket: poll that one instead of the old."""
        sock, runner = self._link.socket, self._runner
        if sock is self._polled or runner is None:
            return
        if self._polled is not None:
            runner.unregister(self._polled)
        self._polled = sock
        if sock is not None:
            runner.register(sock, lambda _events: self._link.on_readable())
