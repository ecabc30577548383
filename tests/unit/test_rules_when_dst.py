"""A `when:` that reads the time on the days the clocks change (docs/scenarios.md,
"Time, DST and downtime"): it tests the wall clock as it reads, not a schedule, so
a window in the repeated hour becomes true in each pass and one in the skipped hour
never does."""

from __future__ import annotations

import datetime as dt
import random
from zoneinfo import ZoneInfo

from support.scenario_engine import HOST, Harness, no_sun, scenario, sets

from raspy.rules import engine
from raspy.rules import model as m
from raspy.rules.expr import compile_expression

NEW_YORK = ZoneInfo("America/New_York")


def _fires(test: str, day: dt.date) -> list[str]:
    """The local times (with their offset) at which `when: test` fires over the
    first four hours of `day`, a minute's re-test at a time."""
    settings = engine.EngineSettings(HOST, NEW_YORK, 60, 10_000)
    trigger = m.WhenTrigger(compile_expression(test), True)
    mark = m.SetAction("/x/mark", "{trigger.value}")
    core = engine.ScenarioCore(
        scenario([mark], [trigger]),
        settings,
        kv=lambda _key: None,
        kv_size=lambda _key: 0,
        sun=no_sun,
        rng=random.Random(1),
    )
    h = Harness(core, {})
    h.wall = dt.datetime.combine(day, dt.time(0, 0, 30), NEW_YORK).timestamp()
    h.feed(core.on_startup(h.mono, h.wall, fire=False))
    fired = []
    for _ in range(4 * 60):
        if sets(h.advance(60.0)):
            fired.append(
                dt.datetime.fromtimestamp(h.wall, NEW_YORK).strftime("%H:%M%z")
            )
    return fired


def test_a_window_in_the_repeated_hour_fires_in_each_pass() -> None:
    autumn = dt.date(2026, 11, 1)
    assert _fires("between('01:30', '01:45')", autumn) == ["01:30-0400", "01:30-0500"]
    # a window over the whole hour stays true from one pass into the other
    assert _fires("between('01:00', '02:00')", autumn) == ["01:00-0400"]


def test_a_window_in_the_skipped_hour_is_never_true() -> None:
    spring = dt.date(2026, 3, 8)
    assert _fires("between('02:00', '02:30')", spring) == []
    assert _fires("hour() >= 2", spring) == ["03:00-0400"]
