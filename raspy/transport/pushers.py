"""One inproc PUSH socket per thread, so any thread may hand frames to an I/O thread.

ZeroMQ sockets are not thread-safe; each thread that sends gets its own socket, made
lazily. Threads close theirs with close_for_this_thread() (actors in on_stop);
close_all() closes the rest once their threads are done.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import zmq

from raspy.transport.multipart import send_frames


class ThreadPushers:
    """Per-thread PUSH sockets connected to one inproc endpoint."""

    def __init__(self, context: zmq.Context[zmq.Socket[bytes]], endpoint: str) -> None:
        self._context = context
        self.endpoint = endpoint
        self._local = threading.local()
        self._lock = threading.Lock()
        self._sockets: list[zmq.Socket[bytes]] = []

    def send(self, frames: Sequence[bytes]) -> None:
        """Queue one message; PUSH with SNDHWM 0 never refuses one, so this never waits."""
        send_frames(self._socket(), frames, block=True)

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

    def close_for_this_thread(self) -> None:
        sock: zmq.Socket[bytes] | None = getattr(self._local, "socket", None)
        if sock is not None:
            sock.close()
            self._local.socket = None

    def close_all(self) -> None:
        """Close every socket made here; only once their threads are done."""
        with self._lock:
            for sock in self._sockets:
                if not sock.closed:
                    sock.close(linger=0)
            self._sockets.clear()
