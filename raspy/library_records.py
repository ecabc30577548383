"""The records of libraries that use `logging` (concurrent.futures' for a done
callback that raised, pykka's, ZeroMQ's), before a tool's deferred logging setup
(raspy.library_log.configure_later) is made: with no handler on the root logger,
Python's "last resort" wrote them to stderr as bare text (a traceback, for an
exception). A FirstRecord takes them meanwhile, at the level the setup will have:
one at or above it makes the setup, as a library event would, then goes out
through its handler (raspy.log: the same renderer, within the same budget)."""

from __future__ import annotations

import logging
from collections.abc import Callable


class FirstRecord(logging.Handler):
    """The root logger's handler until `configure` replaces it (raspy.log sets the
    root's handlers); a record below `level` is dropped, as the setup would."""

    def __init__(self, level: str, configure: Callable[[], None]) -> None:
        super().__init__(logging.getLevelNamesMapping()[level.upper()])
        self._configure = configure

    def createLock(self) -> None:
        """No lock (as logging.NullHandler): Handler.handle would hold one around
        emit, so around the setup, which takes its own; a thread inside the setup
        that logs a record would wait for it, and the emit for that thread. The
        setup is made once (its lock), each handler after it has its own."""
        self.lock = None

    def _at_fork_reinit(self) -> None:
        """No lock to make again in a forked child."""

    def emit(self, record: logging.LogRecord) -> None:
        self._configure()
        root = logging.getLogger()
        if self in root.handlers:  # configured by someone else, or not at all
            root.removeHandler(self)
        handlers = [h for h in root.handlers if record.levelno >= h.level]
        if not root.handlers and logging.lastResort is not None:
            handlers = [logging.lastResort]  # as it was: better than nothing
        for handler in handlers:
            handler.handle(record)


def hold(level: str, configure: Callable[[], None]) -> None:
    """Put a FirstRecord on the root logger, at `level`, unless logging has a
    handler there already (an application's own setup)."""
    root = logging.getLogger()
    if root.handlers:
        return
    root.setLevel(logging.getLevelNamesMapping()[level.upper()])
    root.addHandler(FirstRecord(level, configure))
