"""Sun triggers far north (Tromsø, 69.65° N, Europe/Oslo): polar day and night, the
long days around them, and offsets that push a fire past midnight.

What a household expects: every real sunrise and sunset fires once (also the sunset at
00:20 that ends a long day, and two in one local day), none fires twice, a day without
the event is skipped (said once, by absent_days), and no search runs for ever.
The reference is the sun's altitude itself, sampled each minute.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import astral
import astral.sun
import pytest

from raspy.rules.model import SunEvent, SunTrigger
from raspy.rules.timing import (
    SunLocation,
    TimeScheduler,
    absent_days,
    next_sun,
    sun_time,
)

OSLO = ZoneInfo("Europe/Oslo")
TROMSO = SunLocation(69.65, 18.96, OSLO)
BERLIN = SunLocation(52.52, 13.40, ZoneInfo("Europe/Berlin"))
# The altitude astral's sunrise means: the sun's radius below the horizon, lifted by
# the refraction there (about -0.83°).
_HORIZON_ZENITH = 90.0 + astral.sun.SUN_APPARENT_RADIUS
HORIZON = -(_HORIZON_ZENITH - 90.0 + astral.refraction_at_zenith(_HORIZON_ZENITH))


def _oslo(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> float:
    return datetime(year, month, day, hour, minute, tzinfo=OSLO).timestamp()


def _altitude_crossings(
    start: float, end: float, rising: bool, step_s: int = 60
) -> list[float]:
    """Each sample (every step_s) just past where the sun's centre crosses HORIZON
    the given way."""
    observer = astral.Observer(TROMSO.latitude, TROMSO.longitude, 0.0)
    found: list[float] = []
    previous = None
    for n in range(int((end - start) / step_s) + 1):
        at = start + step_s * n
        up = (
            astral.sun.elevation(
                observer, datetime.fromtimestamp(at, UTC), with_refraction=False
            )
            >= HORIZON
        )
        if previous is not None and up != previous and up == rising:
            found.append(at)
        previous = up
    return found


def _chain(event: SunEvent, offset_s: float, start: float, end: float) -> list[float]:
    fires: list[float] = []
    at = start
    while (fire := next_sun(event, offset_s, at, TROMSO)) is not None and fire < end:
        fires.append(fire)
        at = fire
    return fires


@pytest.mark.parametrize(
    ("event", "rising"), [(SunEvent.SUNSET, False), (SunEvent.SUNRISE, True)]
)
@pytest.mark.parametrize(
    ("first", "last"),
    [((5, 12), (5, 21)), ((7, 22), (8, 1))],
    ids=["polar_day_begins", "polar_day_ends"],
)
def test_every_sunrise_and_sunset_around_the_polar_day_fires_once(
    event: SunEvent,
    rising: bool,
    first: tuple[int, int],
    last: tuple[int, int],
) -> None:
    """Around the polar day sunsets fall after midnight (00:21 on 18 May ends the
    17th) and a local day may hold two (00:14 and 23:56 on 27 July)."""
    start, end = _oslo(2026, *first), _oslo(2026, *last)
    fires = _chain(event, 0.0, start, end)
    crossings = _altitude_crossings(start, end, rising)
    assert len(fires) == len(crossings)
    for fire, crossing in zip(fires, crossings, strict=True):
        assert crossing - 60 <= fire <= crossing + 1  # to the second, in its minute


@pytest.mark.parametrize("offset_s", [-12 * 3600.0, -3600.0, 2 * 3600.0, 12 * 3600.0])
def test_an_offset_moves_every_fire_by_real_seconds_even_past_midnight(
    offset_s: float,
) -> None:
    """`sunset + 2h` after a sunset at 23:50 fires at 01:50 the next day: each event
    fires once, on the day after when the offset says so, never twice, never lost."""
    start, end = _oslo(2026, 5, 10), _oslo(2026, 5, 22)
    plain = _chain(SunEvent.SUNSET, 0.0, start - 86_400, end + 86_400)
    shifted = _chain(SunEvent.SUNSET, offset_s, start, end)
    assert shifted == [m + offset_s for m in plain if start < m + offset_s < end]


def test_an_offset_past_midnight_in_berlin_fires_the_day_after_each_sunset() -> None:
    berlin = BERLIN.tz
    start = datetime(2026, 6, 20, 12, tzinfo=berlin).timestamp()
    fires, at = [], start
    for _ in range(3):
        fire = next_sun(SunEvent.SUNSET, 3 * 3600.0, at, BERLIN)
        assert fire is not None
        fires.append(fire)
        at = fire
    sunsets = [sun_time(SunEvent.SUNSET, start + 86_400 * n, BERLIN) for n in range(3)]
    assert fires == [s + 3 * 3600.0 for s in sunsets if s is not None]
    days = [datetime.fromtimestamp(f, berlin).date() for f in fires]
    assert days == [date(2026, 6, 21), date(2026, 6, 22), date(2026, 6, 23)]


def test_in_the_polar_night_sunrise_waits_for_january_and_says_which_days_lack_it() -> (
    None
):
    december = _oslo(2026, 12, 1, 12)
    assert sun_time(SunEvent.SUNRISE, december, TROMSO) is None
    first = next_sun(SunEvent.SUNRISE, 0.0, december, TROMSO)
    assert first is not None
    assert _altitude_crossings(first - 120, first + 120, rising=True) != []
    first_day = datetime.fromtimestamp(first, OSLO).date()
    # Nothing between: the sun stays below the horizon all those days.
    between = _altitude_crossings(december, first - 120, rising=True, step_s=300)
    assert between == []
    assert absent_days(0.0, december, first, OSLO) == (
        date(2026, 12, 2),
        first_day - timedelta(days=1),
    )


def test_in_the_polar_night_the_scheduler_has_the_next_sunrise_weeks_away() -> None:
    """What `raspy scenario show` prints as the trigger's next fire: the day the sun
    rises again, not nothing (docs/scenarios.md said "has no line")."""
    scheduler = TimeScheduler(OSLO, TROMSO)
    december = _oslo(2026, 12, 7, 12)
    trigger = SunTrigger(SunEvent.SUNRISE, 0.0)
    first = scheduler.add("dawn-lamp#0", trigger, december, 100.0)
    assert first == next_sun(SunEvent.SUNRISE, 0.0, december, TROMSO)
    assert first is not None
    assert datetime.fromtimestamp(first, OSLO).date() == date(2027, 1, 15)
    assert scheduler.next_wall("dawn-lamp#0") == first


def test_absent_days_is_none_from_one_day_to_the_next() -> None:
    today = _oslo(2026, 3, 1, 7)
    tomorrow = _oslo(2026, 3, 2, 6, 55)
    assert absent_days(0.0, today, tomorrow, OSLO) is None
    # With an offset the days are the event's, not the fire's.
    assert absent_days(-6 * 3600.0, today - 6 * 3600, tomorrow - 6 * 3600, OSLO) is None


def test_dawn_and_dusk_through_the_polar_day_never_fail() -> None:
    """At midsummer the sun never goes 6° below the horizon: dusk is None that day,
    and the next one is in August."""
    midsummer = _oslo(2026, 6, 21, 12)
    assert sun_time(SunEvent.DUSK, midsummer, TROMSO) is None
    dusk = next_sun(SunEvent.DUSK, 0.0, midsummer, TROMSO)
    assert dusk is not None
    assert (
        date(2026, 8, 1)
        <= datetime.fromtimestamp(dusk, OSLO).date()
        <= date(2026, 8, 31)
    )


def test_through_the_polar_night_dusk_comes_each_day_and_sunset_on_none() -> None:
    """docs/cookbook.md, recipe 8: in Tromsø no sunset comes from 27 November to
    14 January (a porch light on `sunset` stays off all those weeks), while the sun
    comes within 6° of the horizon each noon, so `dusk` comes every day."""
    day = date(2026, 11, 27)
    while day <= date(2027, 1, 14):
        noon = _oslo(day.year, day.month, day.day, 12)
        assert sun_time(SunEvent.SUNSET, noon, TROMSO) is None, day
        assert sun_time(SunEvent.DUSK, noon, TROMSO) is not None, day
        day += timedelta(days=1)
    for back in (date(2026, 11, 26), date(2027, 1, 15)):
        noon = _oslo(back.year, back.month, back.day, 12)
        assert sun_time(SunEvent.SUNSET, noon, TROMSO) is not None, back
