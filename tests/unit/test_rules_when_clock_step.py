"""A `when:` that reads the time and a step of the wall clock back (rules.when_watch):
a crossing the minutes before the step make again fires nothing, as an `at:` does
not fire again; a step back of more than 3 hours is a correction."""

from __future__ import annotations

import datetime as dt

from support.scenario_engine import Harness, harness, scenario, sets

from raspy.rules import model as m
from raspy.rules.expr import compile_expression

MARK = m.SetAction("/x/mark", "{trigger.value}")


def _at(hour: int, minute: int, second: int = 0) -> float:
    return dt.datetime(2026, 12, 6, hour, minute, second, tzinfo=dt.UTC).timestamp()


def _started(test: str, wall: float) -> Harness:
    trigger = m.WhenTrigger(compile_expression(test), True)
    h = harness(scenario([MARK], [trigger]))
    h.wall = wall
    h.feed(h.core.on_startup(h.mono, h.wall, fire=False))
    return h


def _minutes(h: Harness, count: int) -> int:
    """`count` minutes go by, a minute's re-test at a time: the runs they started."""
    fired = 0
    for _ in range(count):
        fired += len(sets(h.advance(60.0)))
    return fired


def _step(h: Harness, seconds: float) -> None:
    """The wall clock alone steps (NTP); the monotonic clock goes on."""
    h.wall += seconds


def test_a_between_fired_at_22_does_not_fire_again_after_a_step_back() -> None:
    h = _started("between('22:00', '06:00')", _at(21, 58, 30))
    assert _minutes(h, 4) == 1  # 22:02:30: it fired at 22:00
    _step(h, -300.0)  # 21:57:30
    assert _minutes(h, 10) == 0  # 22:00 comes again: no second firing
    assert h.core.status.runs == 1


def test_a_crossing_after_the_time_before_the_step_fires_again() -> None:
    h = _started("minute() % 2 == 0", _at(22, 13, 20))
    assert _minutes(h, 3) == 2  # 22:14, 22:16; now 22:16:20
    _step(h, -300.0)  # 22:11:20: 22:12, 22:14 and 22:16 come again
    assert _minutes(h, 5) == 0  # to 22:16:20
    assert _minutes(h, 2) == 1  # 22:18: past the time before the step, it fires


def test_a_step_back_of_more_than_three_hours_is_a_correction() -> None:
    h = _started("between('22:00', '22:30')", _at(21, 58, 30))
    assert _minutes(h, 4) == 1
    _step(h, -4 * 3600.0)  # 18:02:30: the clock was four hours ahead
    assert _minutes(h, 4 * 60) == 1  # 22:00 by the right clock fires


def test_a_small_step_forward_across_its_start_fires_it_once() -> None:
    """NTP steps the clock 20 minutes forward across 07:00: the minute's re-test
    after it finds the test true and fires, once, as an `at: "07:00"` skipped by
    such a step fires once at once."""
    h = _started("between('07:00', '08:00')", _at(6, 58, 30))
    assert _minutes(h, 1) == 0  # 06:59:30
    _step(h, 20 * 60.0)  # 07:19:30
    assert _minutes(h, 10) == 1


def test_a_step_forward_of_more_than_three_hours_is_a_new_time() -> None:
    """A Pi whose clock was set at boot to a time hours behind, set right by NTP:
    the test true by the new time is taken as at a start, and fires nothing, as
    an `at:` the step went over does not; it fires at its next crossing. It fired
    at once, for a time that was not seen."""
    h = _started("between('07:00', '22:00')", _at(3, 58, 30))
    assert _minutes(h, 1) == 0  # 03:59:30
    _step(h, 5 * 3600.0)  # 08:59:30
    assert _minutes(h, 60) == 0
    assert _minutes(h, 22 * 60) == 1  # 22:00 false, then 07:00 tomorrow fires
