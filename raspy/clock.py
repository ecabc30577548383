"""Time as a dependency: cores take `now`, shells take a Clock."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def monotonic(self) -> float:
        """Seconds on a clock that never jumps (deadlines, heartbeats, ttl)."""
        ...

    def wall(self) -> float:
        """Seconds since the epoch (display and values that survive restarts)."""
        ...


class SystemClock:
    """The real clocks of this machine."""

    def monotonic(self) -> float:
        return time.monotonic()

    def wall(self) -> float:
        return time.time()
