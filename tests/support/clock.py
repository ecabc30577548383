"""A clock that moves only when the test says so."""

from __future__ import annotations


class FakeClock:
    """Implements raspy.clock.Clock; advance() moves both clocks together."""

    def __init__(
        self, monotonic: float = 1000.0, wall: float = 1_700_000_000.0
    ) -> None:
        self._monotonic = monotonic
        self._wall = wall

    def monotonic(self) -> float:
        return self._monotonic

    def wall(self) -> float:
        return self._wall

    def advance(self, seconds: float) -> None:
        self._monotonic += seconds
        self._wall += seconds
