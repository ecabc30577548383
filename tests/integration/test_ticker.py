"""DeadlineTicker: Tick to an actor when the deadline on its clock is reached."""

from __future__ import annotations

import threading
from typing import Any

import pykka
from support.clock import FakeClock
from support.wait import wait_until

from raspy.actors import messages as msgs
from raspy.actors.ticker import DeadlineTicker


class TickCounter(pykka.ThreadingActor):
    """Counts the Ticks told to it (a real actor, not a mock)."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()
        self.ticks = 0

    def on_receive(self, message: Any) -> None:
        if isinstance(message, msgs.Tick):
            with self.lock:
                self.ticks += 1


def _ticks(ref: pykka.ActorRef[TickCounter]) -> int:
    return int(ref.proxy().ticks.get(timeout=5))


def test_tick_comes_once_when_the_clock_reaches_the_deadline() -> None:
    clock = FakeClock()
    counter = TickCounter.start()
    ticker = DeadlineTicker(counter, clock, name="test-ticker")
    ticker.start()
    try:
        ticker.set(clock.monotonic() + 10)
        assert _ticks(counter) == 0
        clock.advance(10)
        wait_until(lambda: _ticks(counter) == 1, what="one Tick at the deadline")
        ticker.set(clock.monotonic() + 1)
        clock.advance(1)
        wait_until(lambda: _ticks(counter) == 2, what="a Tick for the next deadline")
    finally:
        ticker.stop()
        counter.stop()


def test_an_earlier_deadline_replaces_a_later_one() -> None:
    clock = FakeClock()
    counter = TickCounter.start()
    ticker = DeadlineTicker(counter, clock, name="test-ticker")
    ticker.start()
    try:
        ticker.set(clock.monotonic() + 60)
        ticker.set(clock.monotonic() + 5)
        clock.advance(5)
        wait_until(
            lambda: _ticks(counter) == 1, what="the Tick of the earlier deadline"
        )
    finally:
        ticker.stop()
        counter.stop()
