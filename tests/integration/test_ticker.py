"""DeadlineTicker: Tick to an actor when the deadline on its clock is reached."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pykka
import pytest
from support.clock import FakeClock
from support.wait import wait_until

from raspy.actors import messages as msgs
from raspy.ticker import DeadlineTicker


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


@dataclass
class Ticking:
    clock: FakeClock
    counter: pykka.ActorRef[TickCounter]
    ticker: DeadlineTicker


@pytest.fixture
def ticking() -> Iterator[Ticking]:
    clock = FakeClock()
    counter = TickCounter.start()
    ticker = DeadlineTicker(counter, clock, name="test-ticker")
    ticker.start()
    try:
        yield Ticking(clock, counter, ticker)
    finally:
        ticker.stop()
        counter.stop()


def test_tick_comes_once_when_the_clock_reaches_the_deadline(ticking: Ticking) -> None:
    ticking.ticker.set(ticking.clock.monotonic() + 10)
    assert _ticks(ticking.counter) == 0
    ticking.clock.advance(10)
    wait_until(lambda: _ticks(ticking.counter) == 1, what="one Tick at the deadline")
    ticking.ticker.set(ticking.clock.monotonic() + 1)
    ticking.clock.advance(1)
    wait_until(
        lambda: _ticks(ticking.counter) == 2, what="a Tick for the next deadline"
    )


def test_an_earlier_deadline_replaces_a_later_one(ticking: Ticking) -> None:
    ticking.ticker.set(ticking.clock.monotonic() + 60)
    ticking.ticker.set(ticking.clock.monotonic() + 5)
    ticking.clock.advance(5)
    wait_until(
        lambda: _ticks(ticking.counter) == 1, what="the Tick of the earlier deadline"
    )
