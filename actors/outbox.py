"""The inproc outbox: any thread pushes frames to the edge through its own PUSH socket.

One socket per thread (ZeroMQ sockets are not thread-safe); sockets are made lazily and
closed by close_for_this_thread() (actors call it in on_stop) or close_all().
"""

from __future__ import annotations

import threading
from typing import Final

import zmq

MDP_CHANNEL: Final = b"M"


class Outbox:
    """Pushes `[channel, peer_id, *frames]` to the edge's PULL socket."""

    def __init__(self, context: zmq.Context[zmq.Socket[bytes]], endpoint: str) -> None:
        self._context = context
        self.endpoint = endpoint
        self._local = threading.local()
        self._lock = threading.Lock()
        self._sockets: list[zmq.Socket[bytes]] = []

    def _socket(self) -> zmq.Socket[bytes]:
        sock: zmq.Socket[bytes] | None = getattr(self._local, "socket", None)
        if sock is None or sock.closed:
            sock = self._context.socket(zmq.PUSH)
            sock.setsockopt(zmq.LINGER, 1000)
            sock.setsockopt(zmq.SNDHWM, 0)
            sock.connect(self.endpoint)
            self._local.socket = sock
            with self._lock:
                self._sockets.append(sock)
        return sock

    def send_mdp(self, peer_id: bytes, frames: list[bytes]) -> None:
        """Frames from an in-process MDP peer (worker or client) to the broker."""
        self._socket().send_multipart([MDP_CHANNEL, peer_id, *frames], copy=False)

    def close_for_this_thread(self) -> None:
        sock: zmq.Socket[bytes] | None = getattr(self._local, "socket", None)
        if sock is not None:
            sock.close()
            self._local.socket = None

    def close_all(self) -> None:
        """Close every socket this outbox made; only once their threads are done."""
        with self._lock:
            for sock in self._sockets:
                if not sock.closed:
                    sock.close(linger=0)
            self._sockets.clear()
