"""`sun_up()` (docs/scenarios.md, Conditions and expressions): true while the sun is
above the horizon at the hub's place, between today's sunrise and sunset; all of a
polar day true, all of a polar night false; null on a hub without a place, as
`sun('sunset')` is."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from support.expr_context import make_context
from support.scenario_engine import harness, sets

from raspy.rules.document import load_scenario
from raspy.rules.expr import ExpressionError, compile_expression
from raspy.rules.model import SunEvent
from raspy.rules.sun import SunLocation, sun_is_up, sun_time

OSLO = ZoneInfo("Europe/Oslo")
TROMSO = SunLocation(69.65, 18.96, OSLO)
BERLIN = SunLocation(52.52, 13.40, ZoneInfo("Europe/Berlin"))
NEAR_S = 30.0  # around the instant itself, the sampled crossing may differ


def _at(location: SunLocation, year: int, month: int, day: int, hour: int) -> float:
    return datetime(year, month, day, hour, tzinfo=location.tz).timestamp()


@pytest.mark.parametrize(("month", "day"), [(3, 20), (6, 21), (10, 26), (12, 21)])
def test_in_berlin_it_is_up_between_today_s_sunrise_and_sunset(
    month: int, day: int
) -> None:
    start = _at(BERLIN, 2026, month, day, 0)
    sunrise = sun_time(SunEvent.SUNRISE, start, BERLIN)
    sunset = sun_time(SunEvent.SUNSET, start, BERLIN)
    assert sunrise is not None
    assert sunset is not None
    for minute in range(0, 24 * 60, 7):
        at = start + minute * 60.0
        if min(abs(at - sunrise), abs(at - sunset)) < NEAR_S:
            continue
        assert sun_is_up(at, BERLIN) == (sunrise <= at < sunset), minute


@pytest.mark.parametrize(
    ("month", "day", "up"),
    [(6, 21, True), (7, 1, True), (12, 21, False), (1, 1, False)],
    ids=["midsummer", "july", "midwinter", "new-year"],
)
def test_far_north_it_is_up_all_polar_day_and_down_all_polar_night(
    month: int, day: int, up: bool
) -> None:
    start = _at(TROMSO, 2026, month, day, 0)
    assert sun_time(SunEvent.SUNRISE, start, TROMSO) is None  # no rise that day
    assert {sun_is_up(start + hour * 3600.0, TROMSO) for hour in range(24)} == {up}


@pytest.mark.parametrize(("answer", "value"), [(True, True), (False, False)])
def test_the_function_gives_what_the_hub_says(answer: bool, value: bool) -> None:
    seen: list[float] = []

    def sun_up(wall_ts: float) -> bool | None:
        seen.append(wall_ts)
        return answer

    context = make_context(wall_ts=1_800_000_000.0, sun_up=sun_up)
    assert compile_expression("sun_up()").evaluate(context) is value
    assert seen == [1_800_000_000.0]


def test_without_a_place_it_is_null_as_sun_is() -> None:
    context = make_context(sun={})
    assert compile_expression("sun_up()").evaluate(context) is None
    assert compile_expression("sun('sunset')").evaluate(context) is None
    assert compile_expression("not sun_up()").evaluate(context) is True


def test_it_takes_no_argument() -> None:
    with pytest.raises(ExpressionError) as caught:
        compile_expression("sun_up('sunset')")
    assert caught.value.reason == "sun_up() takes 0 arguments, got 1"


def test_a_scenario_without_a_place_loads_and_its_test_is_false() -> None:
    doc = load_scenario(
        "name: a\ntriggers: [{event: /event/go}]\nactions:\n"
        "  - if: sun_up()\n    then: [{set: /s, value: day}]\n"
        "    else: [{set: /s, value: night}]\n"
    )
    h = harness(doc)
    h.change("/event/go", 1)
    assert [s.value for s in sets(h.outputs)] == ["night"]
    assert h.core.status.last_error is None


def test_on_a_day_with_two_sunsets_sun_sunset_is_the_evening_s() -> None:
    """At the edge of a polar day a date holds two sunsets: the one just past
    midnight is the evening before's, late; `sun('sunset')` is "today's event"
    (docs/scenarios.md), the one at the day's end."""
    start = _at(TROMSO, 2027, 7, 27, 12)
    sunset = sun_time(SunEvent.SUNSET, start, TROMSO)
    assert sunset is not None
    assert datetime.fromtimestamp(sunset, OSLO).hour == 23
    sunrise = sun_time(SunEvent.SUNRISE, start, TROMSO)
    assert sunrise is not None
    assert sunrise < sunset
