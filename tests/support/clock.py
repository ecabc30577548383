"""A clock that moves only when the test says so."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from raspy.clock import SystemClock


class FakeClock:
    """Implements raspy.clock.MovingClock; advance() moves both clocks together and
    then tells the listeners (the ticker threads waiting on it)."""

    def __init__(
        self, monotonic: float = 1000.0, wall: float = 1_700_000_000.0
    ) -> None:
        self._monotonic = monotonic
        self._wall = wall
        self._lock = threading.Lock()
        self._listeners: list[Callable[[], None]] = []

    def monotonic(self) -> float:
        return self._monotonic

    def wall(self) -> float:
        return self._wall

    def advance(self, seconds: float) -> None:
        self._monotonic += seconds
        self._wall += seconds
        self._moved()

    def step_wall(self, seconds: float) -> None:
        """The wall clock alone steps (NTP setting the clock), as a real one does."""
        self._wall += seconds
        self._moved()

    def listen(self, moved: Callable[[], None]) -> Callable[[], None]:
        with self._lock:
            self._listeners.append(moved)

        def stop() -> None:
            with self._lock:
                if moved in self._listeners:
                    self._listeners.remove(moved)

        return stop

    def _moved(self) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for moved in listeners:
            moved()


class CountingSystemClock(SystemClock):
    """The system clock, counting how often it is read (idle wake-ups)."""

    def __init__(self) -> None:
        self.reads = 0

    def monotonic(self) -> float:
        self.reads += 1
        return time.monotonic()


class CountingFakeClock(FakeClock):
    """A FakeClock counting how often it is read (idle wake-ups)."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def monotonic(self) -> float:
        self.reads += 1
        return super().monotonic()
