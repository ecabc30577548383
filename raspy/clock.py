"""Time as a dependency: cores take `now`, shells take a Clock."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable


class Clock(Protocol):
    def monotonic(self) -> float:
        """Seconds on a clock that never jumps (deadlines, heartbeats, ttl)."""
        ...

    def wall(self) -> float:
        """Seconds since the epoch (display and values that survive restarts)."""
        ...


@runtime_checkable
class MovingClock(Clock, Protocol):
    """A clock that moves only when told (a test's): it calls each listener after each
    move, so that a thread waiting for a time on it sleeps until the clock moves
    instead of reading it again and again."""

    def listen(self, moved: Callable[[], None]) -> Callable[[], None]:
        """Call `moved()` after each move from now on; returns the call that stops it."""
        ...


class SystemClock:
    """The real clocks of this machine."""

    def monotonic(self) -> float:
        return time.monotonic()

    def wall(self) -> float:
        return time.time()
