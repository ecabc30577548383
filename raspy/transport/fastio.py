"""Multipart send/recv on the hot path without pyzmq's per-frame Python overhead.

pyzmq's sugar `send_multipart` ORs IntFlag enums per frame and `recv_multipart` goes
through two Python layers per frame; on a small board that doubled the broker's cost
per message (tools/bench_mdp.py). These call the Cython socket methods directly with
plain int flags. Semantics are those of send_multipart/recv_multipart with copy=True.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import zmq
from zmq.backend import Socket as _BaseSocket

_send = _BaseSocket.send
_recv = _BaseSocket.recv
_get = _BaseSocket.get
_NOBLOCK: Final = int(zmq.NOBLOCK)
_MORE_NOBLOCK: Final = int(zmq.NOBLOCK) | int(zmq.SNDMORE)
_RCVMORE: Final = int(zmq.RCVMORE)


def send_nowait(sock: zmq.Socket[bytes], frames: Sequence[bytes]) -> None:
    """Send all frames as one message; raises zmq.Again if the first frame cannot go.

    ZeroMQ queues a multipart message atomically: once the first frame is accepted,
    the rest are accepted too.
    """
    last = len(frames) - 1
    for index in range(last):
        _send(sock, frames[index], _MORE_NOBLOCK)
    _send(sock, frames[last], _NOBLOCK)


def recv_nowait(sock: zmq.Socket[bytes]) -> list[bytes]:
    """Receive one whole message as bytes frames; raises zmq.Again if none is waiting."""
    parts: list[bytes] = [_recv(sock, _NOBLOCK)]
    while _get(sock, _RCVMORE):
        parts.append(_recv(sock, _NOBLOCK))
    return parts
