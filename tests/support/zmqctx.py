"""A ZeroMQ context whose termination is checked: an open socket fails the test."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import zmq


@contextmanager
def checked_context() -> Iterator[zmq.Context[zmq.Socket[bytes]]]:
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    try:
        yield ctx
    finally:
        done = threading.Event()

        def _term() -> None:
            ctx.term()
            done.set()

        closer = threading.Thread(target=_term, name="ctx-term", daemon=True)
        closer.start()
        if not done.wait(5):
            ctx.destroy(linger=0)
            raise AssertionError("a ZeroMQ socket was left open (context.term hung)")


def dealer(ctx: zmq.Context[zmq.Socket[bytes]], endpoint: str) -> zmq.Socket[bytes]:
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)
    return sock


def recv(sock: zmq.Socket[bytes], timeout_ms: int = 3000) -> list[bytes]:
    """One message, or an AssertionError naming the wait."""
    if not sock.poll(timeout_ms):
        raise AssertionError(f"no message within {timeout_ms} ms")
    return sock.recv_multipart()
