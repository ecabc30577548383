"""Signals for a program's main loop, with no lock taken in the handler.

A Python signal handler runs between two steps of the main thread, which may hold a
lock right then (a log call's, a threading.Event's), and a second signal may
interrupt the first handler the same way: a handler that takes a lock can wait for
itself for ever. A burst of SIGHUPs stopped raspyd so, in Event.set. Here the handler
only appends the signal to a deque (atomic, no lock), and the interpreter's C-level
wakeup fd wakes a loop that waits in wait().
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
from collections import deque
from collections.abc import Iterable
from types import FrameType


class SignalInbox:
    """The signals received, for the main thread's loop (make it there).

    `noted` signals are caught too, but only counted (noted()): neither is_set() nor
    wait() returns them (raspy-poller's SIGHUP, which must not end it)."""

    def __init__(
        self,
        signums: Iterable[signal.Signals],
        *,
        noted: Iterable[signal.Signals] = (),
    ) -> None:
        self._read, self._write = os.pipe()
        for fd in (self._read, self._write):
            os.set_blocking(fd, False)
        self._received: deque[int] = deque()
        self._noted_signums = frozenset(noted)
        self._noted: deque[int] = deque()
        self._closed = False
        self._old_wakeup_fd = signal.set_wakeup_fd(
            self._write, warn_on_full_buffer=False
        )
        self._old_handlers = {
            signum: signal.signal(signum, self._on_signal)
            for signum in (*signums, *self._noted_signums)
        }

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        # nothing else: see the module docstring
        (self._noted if signum in self._noted_signums else self._received).append(
            signum
        )

    def noted(self) -> bool:
        """Has a noted signal come since the last call?"""
        came = False
        while self._noted:
            self._noted.popleft()
            came = True
        return came

    def poke(self) -> None:
        """From any thread: end the main loop's wait() now (raspyd failing)."""
        with contextlib.suppress(OSError):  # full: a wake-up is already there
            if not self._closed:
                os.write(self._write, b"\0")

    def is_set(self) -> bool:
        """Has a signal come that no wait() has taken yet?"""
        return bool(self._received)

    def wait(self, timeout_s: float) -> list[signal.Signals]:
        """The signals received since the last call, oldest first; waits up to
        `timeout_s` for one when there is none yet."""
        if not self._received:
            # a signal between the check and select has written to the wakeup fd
            select.select([self._read], [], [], timeout_s)
        with contextlib.suppress(BlockingIOError):
            while os.read(self._read, 512):
                pass
        taken: list[signal.Signals] = []
        while self._received:
            taken.append(signal.Signals(self._received.popleft()))
        return taken

    def close(self) -> None:
        """The handlers and wakeup fd as they were before."""
        self._closed = True
        for signum, handler in self._old_handlers.items():
            signal.signal(signum, handler)
        signal.set_wakeup_fd(self._old_wakeup_fd)
        os.close(self._read)
        os.close(self._write)
