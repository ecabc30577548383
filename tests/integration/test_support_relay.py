"""tests/support/relay.py itself: a relayed connection lives as long as the relay,
idle or not, and ends when the relay is closed."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from support.relay import Relay

pytestmark = pytest.mark.timeout(30)

# past the 5 s timeout the relay's connect left on its connection to the peer
IDLE_S = 6.0


@contextlib.contextmanager
def _echo_server() -> Iterator[int]:
    """A peer on 127.0.0.1 that sends back what it reads, one connection at a
    time, until it is closed; its port."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return  # closed
            with conn:
                while data := _received(conn):
                    conn.sendall(data)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)
        listener.close()
        thread.join(timeout=5)


def _received(conn: socket.socket) -> bytes:
    try:
        return conn.recv(65536)
    except OSError:
        return b""


def _echoed(client: socket.socket, data: bytes) -> bytes:
    client.sendall(data)
    got = b""
    while len(got) < len(data):
        chunk = client.recv(65536)
        if not chunk:
            break
        got += chunk
    return got


def test_an_idle_connection_lives_as_long_as_the_relay() -> None:
    """The connection to the peer kept the 5 s timeout of its connect: a link idle
    for 5 s was closed by the relay, as no network closes it."""
    with _echo_server() as port, Relay(port) as relay:
        client = socket.create_connection(("127.0.0.1", relay.port), timeout=10)
        with client:
            assert _echoed(client, b"hello") == b"hello"
            idle_until = time.monotonic() + IDLE_S
            while (left := idle_until - time.monotonic()) > 0:
                time.sleep(left)  # idle is the point: nothing to poll for
            assert _echoed(client, b"still here") == b"still here"
            relay.close()
            assert client.recv(1) == b""  # the relay's end, said at once
