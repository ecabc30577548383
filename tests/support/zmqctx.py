"""A ZeroMQ context whose termination is checked: an open socket fails the test.

A term that does not finish is left running on its own thread: the context is never
destroyed under it (libzmq aborts when a socket is closed while another thread is
inside zmq_ctx_term), and the error names the sockets still open.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Final

import zmq

from raspy.transport.sockets import term_within

TERM_TIMEOUT_S: Final = 5.0


class ContextLeftOpen(AssertionError):
    """term() did not finish in time; `terminating` is the thread still inside it."""

    def __init__(
        self, open_sockets: list[str], terminating: threading.Thread, timeout_s: float
    ) -> None:
        named = ", ".join(open_sockets) or "none made through this context"
        super().__init__(
            f"ZeroMQ context term did not finish within {timeout_s}s: sockets left "
            f"open: {named} (the context is left to thread {terminating.name}, "
            "which terminates it once they close)"
        )
        self.open_sockets = open_sockets
        self.terminating = terminating


# RecordingContext follows sockets through pyzmq's own (private) bookkeeping hooks;
# a pyzmq without them must be noticed here, not as a silent empty list later
assert hasattr(zmq.Context, "_add_socket"), "pyzmq's Context._add_socket is gone"
assert hasattr(zmq.Context, "_rm_socket"), "pyzmq's Context._rm_socket is gone"


class RecordingContext(zmq.Context[zmq.Socket[bytes]]):
    """A context that knows its open sockets and the thread that made each one,
    without asking libzmq about a socket another thread may be using."""

    _open: weakref.WeakKeyDictionary[zmq.Socket[Any], str]
    _open_lock: threading.Lock

    def __init__(self) -> None:
        super().__init__()
        self._open = weakref.WeakKeyDictionary()
        self._open_lock = threading.Lock()

    # pyzmq's own bookkeeping hooks: socket() adds, Socket.close() (by whatever
    # path: ours, destroy(), garbage collection) removes
    def _add_socket(self, socket: Any) -> None:
        super()._add_socket(socket)
        made = f"{zmq.SocketType(socket.type).name} made by {_thread_name()}"
        with self._open_lock:
            self._open[socket] = made

    def _rm_socket(self, socket: Any) -> None:
        super()._rm_socket(socket)
        with self._open_lock:
            self._open.pop(socket, None)

    def open_sockets(self) -> list[str]:
        with self._open_lock:
            return sorted(self._open.values())


def _thread_name() -> str:
    return threading.current_thread().name


@contextmanager
def checked_context(
    *,
    term_timeout_s: float = TERM_TIMEOUT_S,
    made: Callable[[], RecordingContext] = RecordingContext,
) -> Iterator[zmq.Context[zmq.Socket[bytes]]]:
    """A context terminated on exit; ContextLeftOpen if a socket keeps it open."""
    ctx = made()
    try:
        yield ctx
    finally:
        terminating = term_within(ctx, term_timeout_s)
        if terminating is not None:
            # never destroy() here: closing sockets under a running term aborts libzmq
            raise ContextLeftOpen(ctx.open_sockets(), terminating, term_timeout_s)


def dealer(
    ctx: zmq.Context[zmq.Socket[bytes]], endpoint: str, routing_id: bytes = b""
) -> zmq.Socket[bytes]:
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    if routing_id:
        sock.setsockopt(zmq.ROUTING_ID, routing_id)
    sock.connect(endpoint)
    return sock


def recv(sock: zmq.Socket[bytes], timeout_ms: int = 3000) -> list[bytes]:
    """One message, or an AssertionError naming the wait."""
    if not sock.poll(timeout_ms):
        raise AssertionError(f"no message within {timeout_ms} ms")
    return sock.recv_multipart()
