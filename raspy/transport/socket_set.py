"""SocketSet: the sockets one owner opens, replaces and closes on its runner's thread.

The Clone client starts over with new sockets whenever its core says so, and its core
may say so while one of them is being read; the hub probe swaps its DEALER for a
plain one. Each socket is held under a name, with a reader that hands whole messages
on, a bounded batch a turn, and stops as soon as the socket it reads was closed or
replaced (what is left there is the old connection's), and with the monitor that
watches it, if any (raspy.transport.monitor), closed with it.
"""

from __future__ import annotations

from collections.abc import Callable, KeysView
from typing import Final

import zmq

from raspy.records import frozen
from raspy.transport.monitor import OnEvent, SocketMonitor
from raspy.transport.multipart import recv_frames
from raspy.transport.runner import Runner
from raspy.transport.sockets import Socket

BATCH: Final = 1000  # messages read from one socket a turn

OnMessage = Callable[[list[bytes]], None]


@frozen
class _Held:
    sock: Socket
    monitor: SocketMonitor | None


class SocketSet:
    """Sockets by name on `runner`; every method runs on the runner's thread."""

    def __init__(self, runner: Runner) -> None:
        self._runner = runner
        self._held: dict[str, _Held] = {}

    def add(
        self,
        name: str,
        sock: Socket,
        on_message: OnMessage,
        *,
        watch: tuple[int, OnEvent] | None = None,
    ) -> Socket:
        """Hold `sock` under `name` (closing the one held there before), hand what
        it receives to `on_message`, and its monitor's `watch` events (a zmq.EVENT_*
        mask, a handler), which are read first, to theirs; `sock` is closed if this
        fails: an open socket holds the context's term()."""
        self.close(name)
        monitor = None
        try:
            if watch is not None:
                monitor = SocketMonitor(sock, watch[0], self._runner, watch[1])
            self._held[name] = _Held(sock, monitor)
            self._runner.register(sock, self._reader(name, sock, on_message))
        except BaseException:
            self._held.pop(name, None)
            if monitor is not None:
                monitor.close()
            self._runner.unregister(sock)
            sock.close(linger=0)
            raise
        return sock

    def __getitem__(self, name: str) -> Socket:
        return self._held[name].sock

    def keys(self) -> KeysView[str]:
        """The names held now (with [], `dict(sockets)` is a copy by name)."""
        return self._held.keys()

    def close(self, name: str) -> None:
        """Close the socket held under `name`, if any, its monitor first."""
        held = self._held.pop(name, None)
        if held is None:
            return
        if held.monitor is not None:
            held.monitor.close()
        self._runner.unregister(held.sock)
        held.sock.close(linger=0)

    def close_all(self) -> None:
        for name in list(self._held):
            self.close(name)

    def _reader(
        self, name: str, sock: Socket, on_message: OnMessage
    ) -> Callable[[int], None]:
        def read(_events: int) -> None:
            for _ in range(BATCH):
                held = self._held.get(name)
                if held is None or held.sock is not sock:
                    return  # closed or replaced by what the last message made
                try:
                    frames = recv_frames(sock)
                except zmq.Again:
                    return
                on_message(frames)

        return read
