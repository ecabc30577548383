"""Time as a dependency: cores take `now`, shells take a Clock."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final, Protocol, runtime_checkable

REREAD_S: Final = 0.25  # a clock that says nothing when it moves: re-read this often
LONGEST_WAIT_S: Final = 3600.0  # below any Condition timeout limit


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


def listen_if_moving(
    clock: Clock, moved: Callable[[], None]
) -> Callable[[], None] | None:
    """`clock.listen(moved)` on a MovingClock (the call that stops it); None on any
    other clock, which tells nobody when it moves."""
    return clock.listen(moved) if isinstance(clock, MovingClock) else None


def wait_s(clock: Clock, until_due: float | None, *, listening: bool) -> float | None:
    """How long a thread waiting on a Condition sleeps, its next deadline `until_due`
    s away on `clock` (None: it has none); None sleeps until notified. An idle
    wake-up costs on a Pi: on the system clock, whose monotonic time is the one the
    Condition counts, exactly until the deadline; on a clock it is `listening` to (a
    MovingClock), until the clock moves; on any other, REREAD_S at the most."""
    if isinstance(clock, SystemClock):
        return None if until_due is None else min(until_due, LONGEST_WAIT_S)
    if listening:
        return None
    return REREAD_S if until_due is None else min(until_due, REREAD_S)
