"""SocketMonitor: a socket's monitor events (ZeroMQ's socket monitor) read on a Runner.

What a socket does not report itself comes through its monitor: a handshake made or
refused, a peer gone. Every owner that needs one opens, reads and closes it the same
way: the monitor closed if its registration fails (an open socket holds the
context's term() for ever), events read without blocking and a bounded number a
turn, none handed on once the owner closed it (an event's own handler may do that,
when it replaces the socket), and the monitor stopped before its socket is closed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Final

import zmq

from raspy.transport.runner import Runner
from raspy.transport.sockets import Socket, monitor_event

MAX_EVENTS_A_TURN: Final = 1000  # a burst (a thousand peers leaving) spans turns

OnEvent = Callable[[int, int], None]  # (the zmq.EVENT_* that fired, its value)


class SocketMonitor:
    """The `events` (a zmq.EVENT_* mask) of `sock`, each handed to `on_event` on the
    runner's thread; close() it before `sock` is closed."""

    def __init__(
        self, sock: Socket, events: int, runner: Runner, on_event: OnEvent
    ) -> None:
        self._sock = sock
        self._runner = runner
        self._on_event = on_event
        self._closed = False
        self._monitor = sock.get_monitor_socket(events)
        try:
            self._monitor.setsockopt(zmq.LINGER, 0)
            runner.register(self._monitor, self._read)
        except BaseException:  # no close() comes for a monitor never built
            self._stop()
            raise

    def close(self) -> None:
        """Stop and close the monitor; once is enough, more is harmless."""
        if self._closed:
            return
        self._closed = True
        self._runner.unregister(self._monitor)
        self._stop()

    def _stop(self) -> None:
        self._closed = True
        with contextlib.suppress(zmq.ZMQError):  # the socket may be closing already
            self._sock.disable_monitor()
        self._monitor.close(linger=0)

    def _read(self, _events: int) -> None:
        for _ in range(MAX_EVENTS_A_TURN):
            if self._closed:
                return  # closed by the last event's handler: the rest is stale
            try:
                event, value = monitor_event(self._monitor, zmq.NOBLOCK)
            except zmq.Again:
                return
            self._on_event(event, value)
