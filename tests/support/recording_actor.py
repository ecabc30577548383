"""An actor that records every message it is told (docs/style.md §7: a recording
actor, not a mock)."""

from __future__ import annotations

from typing import Any, Protocol

import pykka


class Inbox(Protocol):
    def put(self, item: Any, /) -> None: ...


class QueueRecorder(pykka.ThreadingActor):
    """Puts every message it is told into `inbox` (a queue the test reads)."""

    def __init__(self, inbox: Inbox) -> None:
        super().__init__()
        self._inbox = inbox

    def on_receive(self, message: Any) -> None:
        self._inbox.put(message)
