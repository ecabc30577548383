"""A DEALER's first send made after its CURVE handshake was refused, on purpose.

libzmq drops the pipe of a connection whose handshake failed (no reconnect after a
refusal), and a DEALER without a pipe blocks a send without NOBLOCK for ever. Right
after connect() the pipe is there, so a client that sends at once wins that race
nearly always; a thread slowed down between the two (a loaded board) loses it. A
HandshakeFirstContext loses it every time: its DEALERs' connect() returns only once
the socket has no pipe left (POLLOUT gone), the refusal taken in. A refusing hub is
a real CURVE ROUTER whose ZAP handler (raspy's own) knows no client key.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zmq
import zmq.auth

from raspy.config import SecurityConfig
from raspy.transport.curve import start_curve_server
from raspy.transport.sockets import Context, CurveKeys, make_socket
from support.wait import wait_until
from support.zmqctx import RecordingContext, checked_context


class _HandshakeFirstSocket(zmq.Socket[bytes]):
    """A socket whose DEALER connect() waits for its connection's pipe to go."""

    def connect(self, addr: str) -> Any:
        done = super().connect(addr)
        if self.type == zmq.DEALER:
            wait_until(
                lambda: not self.poll(0, zmq.POLLOUT),
                what=f"the handshake with {addr!r} refused and its pipe dropped",
            )
        return done


class HandshakeFirstContext(RecordingContext):
    """A checked context whose DEALERs connect() until their handshake failed."""

    _socket_class = _HandshakeFirstSocket


@contextmanager
def handshake_first_context() -> Iterator[Context]:
    """A HandshakeFirstContext, terminated and checked on exit (checked_context)."""
    with checked_context(made=HandshakeFirstContext) as context:
        yield context


@dataclass(frozen=True, slots=True)
class RefusingHub:
    """Where the hub listens, client keys it refuses (ZAP: an unknown key), and its
    own keys (for a socket of the same server on a context without ZAP, which takes
    every key)."""

    endpoint: str
    refused: CurveKeys
    server: CurveKeys


@contextmanager
def refusing_hub(context: Context, folder: Path) -> Iterator[RefusingHub]:
    """A CURVE ROUTER on an ephemeral port of 127.0.0.1 whose ZAP allowlist (in
    `folder`) is empty: every client's handshake ends refused by ZAP."""
    allowed = folder / "authorized"
    allowed.mkdir()
    _, secret_file = zmq.auth.create_certificates(folder, "hub")
    server = start_curve_server(context, SecurityConfig(str(secret_file), str(allowed)))
    try:
        sock = make_socket(context, zmq.ROUTER, linger_ms=0, curve=server.keys)
        try:
            port = sock.bind_to_random_port("tcp://127.0.0.1")
            public, secret = zmq.curve_keypair()
            keys = CurveKeys(public, secret, server_key=server.keys.public_key)
            yield RefusingHub(f"tcp://127.0.0.1:{port}", keys, server.keys)
        finally:
            sock.close(linger=0)
    finally:
        server.stop()
