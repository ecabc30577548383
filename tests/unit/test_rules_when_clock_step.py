"""A `when:` that reads the time and a step of the wall clock (rules.when_watch): a
crossing the minutes before a step back make again fires nothing, as an `at:` does
not fire again; a step back of more than 3 hours is a correction; a step forward of
more than 3 hours is a new time. A key's change that comes before the minute's
re-test follows the same rules for the crossing the step made, and fires the one
its key makes."""

from __future__ import annotations

import datetime as dt

from support.scenario_engine import Harness, harness, scenario, sets

from raspy.devices.template import JsonValue
from raspy.rules import model as m
from raspy.rules.expr import compile_expression

MARK = m.SetAction("/x/mark", "{trigger.value}")


def _at(hour: int, minute: int, second: int = 0) -> float:
    return dt.datetime(2026, 12, 6, hour, minute, second, tzinfo=dt.UTC).timestamp()


def _started(
    test: str,
    wall: float,
    tree: dict[str, JsonValue] | None = None,
    *more: str,
) -> Harness:
    triggers = [m.WhenTrigger(compile_expression(t), True) for t in (test, *more)]
    h = harness(scenario([MARK], triggers), tree=tree)
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


X = "/device/x/value"  # a sensor read every few seconds
DAYTIME_WARM = f"between('07:00', '22:00') and kv('{X}') > 20"


def test_a_reading_right_after_a_step_forward_of_hours_fires_nothing() -> None:
    """The Pi's clock set right by hours: the sensor's next reading, before the
    minute's re-test, finds the test true by the new time; the step made that
    crossing, not the reading, and it fires nothing, as the minute's re-test
    would not."""
    h = _started(DAYTIME_WARM, _at(3, 58, 30), {X: 21.0})
    assert _minutes(h, 1) == 0  # 03:59:30
    _step(h, 5 * 3600.0)  # 08:59:30
    assert sets(h.change(X, 21.5)) == []
    assert _minutes(h, 60) == 0
    assert sets(h.change(X, 19.0)) == []
    assert len(sets(h.change(X, 21.0))) == 1  # a crossing the reading makes fires


def test_a_reading_that_sees_a_step_forward_of_hours_first_tells_the_other_triggers() -> (
    None
):
    """The step is seen by whichever re-test comes first: a reading that saw it
    takes the new time for every trigger that reads the time, so the minute's
    re-test after it does not fire one that reads no key."""
    h = _started(DAYTIME_WARM, _at(3, 58, 30), {X: 21.0}, "between('07:00', '22:00')")
    _step(h, 5 * 3600.0)  # 08:58:30
    assert sets(h.change(X, 21.5)) == []
    assert _minutes(h, 60) == 0


def test_a_reading_right_after_a_step_back_does_not_fire_the_minute_again() -> None:
    """Fired at 22:14; at 22:15:20 the clock is set back 5 minutes, to 22:10:20,
    a minute already gone through that makes the test true again: the next
    reading fires nothing, nor do the minutes up to where the clock was."""
    h = _started(f"minute() % 2 == 0 and kv('{X}') > 20", _at(22, 13, 20), {X: 21.0})
    assert _minutes(h, 2) == 1  # 22:14; now 22:15:20, false
    _step(h, -300.0)  # 22:10:20
    assert sets(h.change(X, 21.5)) == []
    assert _minutes(h, 5) == 0  # to 22:15:20
    assert _minutes(h, 1) == 1  # 22:16: past the time before the step, it fires


def test_a_reading_that_makes_it_true_in_the_minutes_again_fires() -> None:
    """After a step back the key's part still fires at once: the reading went
    under 20 and back over it in the minutes again, and that crossing is the
    reading's, not the clock's."""
    h = _started(f"minute() % 2 == 0 and kv('{X}') > 20", _at(22, 13, 20), {X: 21.0})
    assert _minutes(h, 2) == 1
    _step(h, -300.0)  # 22:10:20: true by the clock again
    assert sets(h.change(X, 19.0)) == []
    assert len(sets(h.change(X, 21.0))) == 1


def test_a_reading_and_a_step_forward_of_hours_at_once_fire_what_the_reading_made() -> (
    None
):
    """The reading crosses 20 with the first re-test after the step: it is taken
    as the step seen first, then the reading, as when the minute's re-test comes
    between them (false by the reading before it, true by the one after it):
    what comes first does not change what fires."""
    h = _started(DAYTIME_WARM, _at(3, 58, 30), {X: 19.0})
    _step(h, 5 * 3600.0)  # 08:58:30
    assert len(sets(h.change(X, 21.0))) == 1


def test_a_reading_right_after_a_small_step_forward_fires_its_crossing_once() -> None:
    h = _started(DAYTIME_WARM, _at(6, 58, 30), {X: 21.0})
    assert _minutes(h, 1) == 0  # 06:59:30
    _step(h, 20 * 60.0)  # 07:19:30
    assert len(sets(h.change(X, 21.5))) == 1
    assert _minutes(h, 10) == 0
