"""The actor an in-process test client's replies are routed to: it hands each one
to the test through a queue."""

from __future__ import annotations

import queue
from typing import Any

import pykka

from raspy.actors import messages as msgs


class Owner(pykka.ThreadingActor):
    def __init__(self, received: queue.SimpleQueue[msgs.MdpFrames]) -> None:
        super().__init__()
        self.received = received

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, msgs.MdpFrames):
            self.received.put(message)
        return None
