"""Blocking MDP client and worker for external apps (RFC 7, RFC 18, majortomo dialect).

Each object is used by one thread: the one that made it. Sockets come from
raspy.transport.sockets; the protocol rules live in raspy.protocol.mdp and
raspy.cores.worker.

Client example (Lazy Pirate: timeout, new socket, resend)::

    from raspy.client import Client, ClientTimeout

    with Client("tcp://127.0.0.1:5514", timeout_s=2.5, retries=3) as client:
        try:
            body = client.request("pi-kitchen.echo", "hello", "world")
        except ClientTimeout:
            raise SystemExit("no answer")
        for frame in body:
            print(frame.decode())

Worker example (heartbeats, reconnects and DISCONNECT are handled for you)::

    import threading
    from raspy.client import Worker

    def upper(body: list[bytes]) -> list[bytes]:
        return [frame.upper() for frame in body]

    stop = threading.Event()  # set it from a signal handler to end serve()
    with Worker("tcp://127.0.0.1:5514", "pi-kitchen.upper") as worker:
        worker.serve(upper, stop=stop)
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Final

import zmq

from raspy.closing import Closing
from raspy.errors import ClientTimeout, MalformedMessage, MalformedReply, quote
from raspy.library_log import library_logger
from raspy.protocol import mdp, mdp_decode
from raspy.protocol.frames import service_name, to_bytes
from raspy.protocol.mdp import ClientReply, Version
from raspy.ratelimit import LogRateLimiter
from raspy.transport.sockets import (
    Context,
    CurveKeys,
    Socket,
    check_endpoint,
    connect_socket,
    end_own_context,
    send_if_connected,
)

if TYPE_CHECKING:
    from raspy.client.worker import Worker

__all__ = ["Client", "ClientReply", "Version", "Worker"]

log = library_logger(component="mdp_client")

_POLL_SLICE_MS: Final = 200  # longest wait in one poll call (see _replies)


class _NoReply(Exception):
    """The reply timer of one attempt ran out."""


class Client(Closing):
    """A blocking MDP client on a DEALER socket; one request outstanding at a time.

    Lazy Pirate (docs/protocols.md §2.3): when no reply comes within `timeout_s`, the
    socket is closed (linger 0), a new one is made and the request sent again, up to
    `retries` sends in all (zguide's count: 3 means one send and two resends); then
    ClientTimeout is raised. A resent request may run twice at the worker. A reply
    that comes but cannot be decoded is not waited out: it raises MalformedReply (a
    ClientTimeout) at once, without a resend.
    """

    def __init__(
        self,
        endpoint: str,
        *,
        version: Version = Version.V02,
        timeout_s: float = 2.5,
        retries: int = 3,
        context: Context | None = None,
        curve: CurveKeys | None = None,
    ) -> None:
        if not 0 < timeout_s < math.inf or retries < 1:  # a NaN is no timeout either
            raise ValueError(
                f"timeout_s must be a finite number > 0 and retries >= 1, got "
                f"timeout_s={timeout_s!r}, retries={retries!r}"
            )
        self.endpoint = endpoint
        self.version = version
        self.timeout_s = timeout_s
        self.retries = retries
        self._own_context = context is None
        check_endpoint(endpoint)  # before a context is made: nothing to end
        self._context: Context = zmq.Context() if context is None else context
        self._curve = curve
        self._socket: Socket | None = None
        self._busy = False
        self._closed = False
        self._limiter = LogRateLimiter()

    def request(
        self,
        service: bytes | str,
        *body: bytes | str,
        until: float | None = None,
        retries: int | None = None,
    ) -> list[bytes]:
        """Send one request; return every reply body frame in order.

        In 0.2 and majortomo the PARTIAL bodies come first, then the FINAL body.
        Raises ClientTimeout after `retries` sends without a complete reply, or by
        `until` (time.monotonic()) when given: a caller's deadline (TitanicClient's
        wait) that a broker gone away must not stretch by the retries. `retries`
        given here counts for this call alone: 1 for a request that must not be
        sent twice (TitanicClient's submit). ValueError if there is no body frame
        (RFC 7 needs one). MalformedReply (a ClientTimeout) when a reply comes that
        cannot be decoded: the request is not sent again.
        """
        tries = self.retries if retries is None else retries
        if tries < 1:
            raise ValueError(f"retries must be >= 1, got {tries}")
        name, frames = self._encode(service, body)
        self._begin()
        collected: list[bytes] | None = None
        try:
            for attempt in range(1, tries + 1):
                timeout_s = self._attempt_s(until)
                if timeout_s <= 0:
                    raise self._timeout(name, tries, cut_short=True)
                sock = self._send(frames)
                try:
                    collected = self._collect(sock, name, timeout_s, until)
                except _NoReply:
                    last = attempt == tries or self._attempt_s(until) <= 0
                    self._retry(name, attempt, tries, last=last)
                else:
                    return collected
            cut_short = until is not None and self._attempt_s(until) <= 0
            raise self._timeout(name, tries, cut_short=cut_short)
        finally:
            self._busy = False
            if collected is None:
                self._drop_socket()  # interrupted: a late reply must not leak

    def request_parts(
        self, service: bytes | str, *body: bytes | str
    ) -> Iterator[ClientReply]:
        """Send one request; yield each reply (PARTIALs, then the FINAL) as it comes.

        The request is resent on timeout only while nothing has been yielded yet;
        after that a timeout raises ClientTimeout at once; a reply that cannot be
        decoded raises MalformedReply, never a resend. Leaving the loop early
        discards the socket, so the next request starts clean; after close(), reading
        on raises ValueError.
        """
        name, frames = self._encode(service, body)
        self._begin()
        done = False
        try:
            for attempt in range(1, self.retries + 1):
                sock = self._send(frames)
                yielded = False
                try:
                    for reply in self._replies(sock, name, self.timeout_s):
                        yielded = True
                        yield reply
                    done = True
                    return
                except _NoReply:
                    if yielded:  # not resent: the wait was for its next part
                        self._drop_socket()
                        raise self._timeout(name, 1, after_part=True) from None
                    self._retry(name, attempt, self.retries)
            raise self._timeout(name, self.retries)
        finally:
            self._busy = False
            if not done:
                self._drop_socket()

    def close(self) -> None:
        """Close the socket, and the context if this client made it."""
        if self._closed:
            return
        self._closed = True
        self._drop_socket()
        if self._own_context:
            end_own_context(self._context)

    def _encode(
        self, service: bytes | str, body: tuple[bytes | str, ...]
    ) -> tuple[bytes, list[bytes]]:
        name = to_bytes(service)
        frames = tuple(to_bytes(frame) for frame in body)
        if not name or not frames:
            raise ValueError("a request needs a service name and a body frame")
        return name, mdp.encode(mdp.ClientRequest(self.version, name, frames))

    def _begin(self) -> None:
        if self._closed:
            raise ValueError("client is closed")
        if self._busy:
            raise ValueError("a request is still outstanding on this client")
        self._busy = True

    def _send(self, frames: list[bytes]) -> Socket:
        sock = self._socket
        if sock is None:
            sock = connect_socket(
                self._context, zmq.DEALER, self.endpoint, linger_ms=0, curve=self._curve
            )
            self._socket = sock
        send_if_connected(sock, frames)  # unsent: meets its timeout, then retries
        return sock

    def _attempt_s(self, until: float | None) -> float:
        """How long the next attempt may wait for its reply."""
        if until is None:
            return self.timeout_s
        return min(self.timeout_s, until - time.monotonic())

    def _collect(
        self, sock: Socket, service: bytes, timeout_s: float, until: float | None
    ) -> list[bytes]:
        collected: list[bytes] = []
        for reply in self._replies(sock, service, timeout_s, until):
            if reply.final and not collected:
                return list(reply.body)
            collected.extend(reply.body)
        return collected

    def _replies(
        self,
        sock: Socket,
        service: bytes,
        timeout_s: float,
        until: float | None = None,
    ) -> Iterator[ClientReply]:
        """Replies to the request just sent, until FINAL; _NoReply on timeout, `until`
        (the caller's deadline) included: a PARTIAL gives the next one `timeout_s`
        more, never more than that."""
        deadline = time.monotonic() + timeout_s
        while True:
            if self._closed:  # between two parts of a stream: the socket is gone
                raise ValueError("client is closed")
            wait_ms = math.ceil((deadline - time.monotonic()) * 1000)
            if wait_ms <= 0:
                raise _NoReply
            # in slices: a Ctrl-C that lands just before the poll starts (Python only
            # sets a flag) is then seen within one slice, not after the whole timeout
            if not sock.poll(min(wait_ms, _POLL_SLICE_MS)):
                continue
            frames = sock.recv_multipart()
            try:
                reply = mdp_decode.decode_at_client(frames, self.version)
            except MalformedMessage as exc:
                # the broker's answer, unreadable: asked again, it would run the
                # handler again and come back the same (a broker of another
                # version or dialect), so the request ends here
                raise MalformedReply(
                    f"{self.endpoint}: malformed reply from service "
                    f"{_shown_service(service)}: {exc}",
                    exc.reason,
                ) from None
            if reply.service and reply.service != service:
                self._rejected("wrong_service", frames, reply.service, service)
                continue
            yield reply
            if reply.final:
                return
            deadline = time.monotonic() + timeout_s
            if until is not None:
                deadline = min(deadline, until)

    def _retry(
        self, service: bytes, attempt: int, tries: int, *, last: bool = False
    ) -> None:
        """Drop the socket; log the resend when attempt `attempt` of `tries` (the
        call's count, which may differ from the client's) is not the last."""
        self._drop_socket()
        if attempt < tries and not last:
            log.warning(
                "request_retried",
                service=service_name(service),
                count=attempt,
                endpoint=self.endpoint,
            )

    def _timeout(
        self,
        service: bytes,
        tries: int,
        *,
        cut_short: bool = False,
        after_part: bool = False,
    ) -> ClientTimeout:
        how = (
            "by the caller's deadline" if cut_short else _waited(tries, self.timeout_s)
        )
        more = " more" if after_part else ""
        return ClientTimeout(
            f"{self.endpoint}: no{more} reply from service"
            f" {_shown_service(service)} {how}"
        )

    def _rejected(
        self, reason: str, frames: list[bytes], service: bytes, expected: bytes
    ) -> None:
        """A reply dropped: `service` is the broker's, outside text (quoted, cut)."""
        if self._limiter.should_log(reason, time.monotonic()):
            log.warning(
                "reply_rejected",
                reason=reason,
                service=quote(service),
                expected=service_name(expected),
                frames=len(frames),
            )

    def _drop_socket(self) -> None:
        if self._socket is not None:
            self._socket.close(linger=0)
            self._socket = None


def _waited(tries: int, timeout_s: float) -> str:
    """How long a request went unanswered, as a person says it: `in 90 s`, `in 3
    tries of 5 s each`."""
    if tries == 1:
        return f"in {timeout_s:g} s"
    return f"in {tries} tries of {timeout_s:g} s each"


def _shown_service(service: bytes) -> str:
    """A service name as it was given (a name in bytes that are not UTF-8: escaped)."""
    try:
        name: bytes | str = service.decode("utf-8")
    except UnicodeDecodeError:
        name = service
    return quote(name)


if not TYPE_CHECKING:  # a type checker reads Worker's import above: a name this
    # module lacks is an error in a caller's check, not an object

    def __getattr__(name: str) -> object:
        """`Worker` from raspy.client.worker, when asked for (PEP 562): a client
        alone (`raspy call`, a process of its own) does not load the worker's code."""
        if name == "Worker":
            from raspy.client.worker import Worker

            return Worker
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
