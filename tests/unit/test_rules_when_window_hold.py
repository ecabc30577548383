"""A `when:` trigger whose `for:` is as long as its time window (`between('22:00',
'06:00')` held `for: 8h`): the test held the whole window, so it fires as the window
ends. Its hold began at the minute's re-test, and its deadline fell on a later
minute's re-test: whether the hold came due before the re-test found it false
hung on how late the ticks came, and on the wall clock's slew against the
monotonic one. The times are passed in."""

from __future__ import annotations

import datetime as dt

from support.scenario_engine import Harness, harness, scenario, sets

from raspy.rules import model as m
from raspy.rules.expr import compile_expression

NIGHT = "between('22:00', '06:00')"
HOUR = 3600.0
EVENING = dt.datetime(2026, 3, 2, 21, 59, 30, tzinfo=dt.UTC).timestamp()
TEN_PM = EVENING + 30.0
SIX_AM = TEN_PM + 8 * HOUR


def _night(for_s: float, test: str = NIGHT) -> Harness:
    trigger = m.WhenTrigger(compile_expression(test), True, for_s, "night")
    mark = m.SetAction("/x/since", "{trigger.since}")
    h = harness(scenario([mark], [trigger]))
    h.wall = EVENING
    h.feed(h.core.on_startup(h.mono, h.wall, fire=False))
    return h


def _through_the_night(
    h: Harness, *, late_s: float = 0.0, slew_s: float = 0.0
) -> list[tuple[float, object]]:
    """Each of the engine's deadlines taken as it comes, until 06:05, but the
    first, 22:00's, taken `late_s` after it (a busy Pi); the wall clock gains
    `slew_s` over the night against the monotonic one (NTP slewing it). The wall
    times it fired at, with what it set."""
    fired: list[tuple[float, object]] = []
    per_s = slew_s / (8 * HOUR)
    while h.wall < SIX_AM + 300:
        deadline = h.core.next_deadline()
        assert deadline is not None
        step = deadline - h.mono + (late_s if h.wall < TEN_PM else 0.0)
        h.mono += step
        h.wall += step * (1 + per_s)
        for out in sets(h.feed(h.core.on_tick(h.mono, h.wall))):
            fired.append((h.wall, out.value))
    return fired


def _at_six(fired: list[tuple[float, object]]) -> list[tuple[int, object]]:
    """When it fired, in whole seconds from 06:00, and since when (seconds from
    22:00, rounded to the hundredth)."""
    return [
        (round(wall - SIX_AM), round(float(str(since)) - TEN_PM, 2))
        for wall, since in fired
    ]


def test_a_hold_as_long_as_its_window_fires_as_the_window_ends() -> None:
    assert _at_six(_through_the_night(_night(8 * HOUR))) == [(0, 0.0)]


def test_it_fires_though_the_tick_that_began_it_came_late() -> None:
    """The 22:00 re-test 40 ms late: the hold counted from then fell due after the
    06:00 re-test, which found the window over and dropped it; its `since` was
    the late tick's, not the minute's turn the window began at."""
    assert _at_six(_through_the_night(_night(8 * HOUR), late_s=0.04)) == [(0, 0.0)]


def test_it_fires_though_the_wall_clock_gains_on_the_monotonic_one() -> None:
    """The minute's turns are the wall clock's: 50 ms gained over the night put
    the 06:00 re-test before the hold's monotonic deadline."""
    fired = _through_the_night(_night(8 * HOUR), slew_s=0.05)
    assert _at_six(fired) == [(0, 0.0)]


def test_a_hold_longer_than_its_window_never_fires() -> None:
    for late_s, slew_s in ((0.0, 0.0), (0.04, 0.0), (0.0, 0.05), (0.0, -0.05)):
        h = _night(8 * HOUR + 60)
        assert _through_the_night(h, late_s=late_s, slew_s=slew_s) == []
