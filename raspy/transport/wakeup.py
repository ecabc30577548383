"""Wakeup: a self-pipe that any thread may poke to wake a zmq.Poller loop.

No ZeroMQ socket is involved, so threads that must not own sockets (a store's writer,
an application's API calls) can wake an I/O thread safely.
"""

from __future__ import annotations

import contextlib
import os
import threading


class Wakeup:
    """Register `read_fd` with a zmq.Poller; notify() from any thread; drain() after."""

    def __init__(self) -> None:
        self.read_fd, self._write_fd = os.pipe()
        os.set_blocking(self.read_fd, False)
        os.set_blocking(self._write_fd, False)
        self._lock = threading.Lock()
        self._closed = False

    def notify(self) -> None:
        with self._lock:
            if self._closed:
                return  # a late notice after close: nothing left to wake
            with contextlib.suppress(BlockingIOError):  # full: a wake-up is pending
                os.write(self._write_fd, b"\x00")

    def drain(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while os.read(self.read_fd, 4096):
                pass

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            os.close(self._write_fd)
            os.close(self.read_fd)
