"""A stand-in for an I/O runner's register and unregister (raspy.transport.runner):
the test calls the registered handlers itself, on its own thread, which owns every
socket (SocketMonitor's and SocketSet's tests)."""

from __future__ import annotations

import zmq

from raspy.transport.runner import Handler


class RunnerByHand:
    """What was registered, by target; `read()` hands each handler a POLLIN."""

    def __init__(self) -> None:
        self.handlers: dict[object, Handler] = {}

    def register(self, target: object, handler: Handler, events: int = 0) -> None:
        self.handlers[target] = handler

    def unregister(self, target: object) -> None:
        self.handlers.pop(target, None)

    def read(self) -> None:
        for handler in list(self.handlers.values()):
            handler(zmq.POLLIN)
