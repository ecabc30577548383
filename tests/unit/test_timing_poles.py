"""Sun triggers and `sun_up()` at the poles and within half a degree of them.

The facts: at a pole the sun's altitude is its declination, which moves about 0.4°
a day and the same way all day long, so the sun rises once a year and sets once.
Its upper edge, lifted by refraction, shows while its centre is still 0.83° down,
about two days' move of the declination: the sun rises two days before the
equinox it moves towards and sets two days after the other. The 2026 equinoxes are
on 20 March at 14:46 UTC and 23 September at 00:05 UTC: at the North Pole the sun
rises on 18 March and sets on 25 September, at the South Pole it sets on 22 March
and rises on 20 September (in the evening, UTC: the 21st in New Zealand's time,
which the station keeps). Half a degree off the pole the altitude also swings 0.5°
each way over the day, so for two or three days around an equinox the sun rises
and sets every day before the polar day or night begins.

astral computes the altitude of any latitude beyond 89.8° as at 89.8°: at a pole
the sun rose, set and rose again around each equinox, at times that depended on the
longitude, which at a pole is no place.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import astral
import astral.sun
import pytest

from raspy.rules.model import SunEvent
from raspy.rules.sun import sun_is_up, sun_time
from raspy.rules.timing import SunLocation, next_sun

_HORIZON_ZENITH = 90.0 + astral.sun.SUN_APPARENT_RADIUS
HORIZON = -(_HORIZON_ZENITH - 90.0 + astral.refraction_at_zenith(_HORIZON_ZENITH))
UTC_ZONE = ZoneInfo("UTC")
_YEAR_START = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
_YEAR_END = datetime(2027, 1, 1, tzinfo=UTC).timestamp()


def _fires(event: SunEvent, location: SunLocation) -> list[date]:
    """The dates (UTC) a trigger on `event` fires in 2026."""
    fires: list[date] = []
    at = _YEAR_START
    while (fire := next_sun(event, 0.0, at, location)) is not None:
        if fire >= _YEAR_END:
            break
        fires.append(datetime.fromtimestamp(fire, UTC).date())
        at = fire
    return fires


@pytest.mark.parametrize(
    ("latitude", "sunrise", "sunset", "dawn", "dusk"),
    [
        (90.0, date(2026, 3, 18), date(2026, 9, 25), (3, 1, 8), (10, 5, 12)),
        (-90.0, date(2026, 9, 20), date(2026, 3, 22), (9, 4, 10), (4, 5, 12)),
    ],
    ids=["north", "south"],
)
@pytest.mark.parametrize("longitude", [0.0, 135.0])
def test_at_a_pole_each_event_fires_once_a_year_whatever_the_longitude(
    latitude: float,
    longitude: float,
    sunrise: date,
    sunset: date,
    dawn: tuple[int, int, int],
    dusk: tuple[int, int, int],
) -> None:
    location = SunLocation(latitude, longitude, UTC_ZONE)
    rises, sets = _fires(SunEvent.SUNRISE, location), _fires(SunEvent.SUNSET, location)
    assert (rises, sets) == ([sunrise], [sunset])
    (dawn_day,) = _fires(SunEvent.DAWN, location)
    (dusk_day,) = _fires(SunEvent.DUSK, location)
    assert (dawn_day.month, dusk_day.month) == (dawn[0], dusk[0])
    assert dawn[1] <= dawn_day.day <= dawn[2]
    assert dusk[1] <= dusk_day.day <= dusk[2]


def test_at_a_pole_the_instant_does_not_depend_on_the_longitude() -> None:
    day = datetime(2026, 3, 18, 12, tzinfo=UTC).timestamp()
    instants = {
        round(sun_time(SunEvent.SUNRISE, day, SunLocation(90.0, lon, UTC_ZONE)) or 0)
        for lon in (-120.0, 0.0, 60.0, 179.0)
    }
    assert len(instants) == 1
    assert 0 not in instants


@pytest.mark.parametrize(
    ("latitude", "month", "up_after"),
    [(90.0, 3, True), (90.0, 9, False), (-90.0, 3, False), (-90.0, 9, True)],
)
def test_at_a_pole_sun_up_changes_once_around_each_equinox(
    latitude: float, month: int, up_after: bool
) -> None:
    location = SunLocation(latitude, 0.0, UTC_ZONE)
    start = datetime(2026, month, 10, tzinfo=UTC).timestamp()
    seen = [sun_is_up(start + 600.0 * n, location) for n in range(6 * 24 * 25)]
    changes = sum(a != b for a, b in itertools.pairwise(seen))
    assert (changes, seen[0], seen[-1]) == (1, not up_after, up_after)


@pytest.mark.parametrize("latitude", [90.0, -90.0, 89.5, -89.5, 89.9])
@pytest.mark.parametrize(("month", "day"), [(6, 21), (12, 21)])
def test_at_the_solstices_near_a_pole_no_event_and_sun_up_all_day(
    latitude: float, month: int, day: int
) -> None:
    """Polar day at the summer solstice, polar night at the winter one."""
    location = SunLocation(latitude, 0.0, UTC_ZONE)
    noon = datetime(2026, month, day, 12, tzinfo=UTC).timestamp()
    assert [sun_time(e, noon, location) for e in SunEvent] == [None] * 4
    summer = (latitude > 0) == (month == 6)
    assert {sun_is_up(noon + 3600.0 * h, location) for h in range(-12, 12)} == {summer}


def _altitude_crossings(
    location: SunLocation, start: float, end: float, rising: bool
) -> list[float]:
    """Each minute just past where the sun's centre crosses HORIZON the given way,
    by astral's altitude (exact up to 89.8°)."""
    observer = astral.Observer(location.latitude, location.longitude, 0.0)
    found: list[float] = []
    previous = None
    for n in range(int((end - start) / 60) + 1):
        at = start + 60.0 * n
        moment = datetime.fromtimestamp(at, UTC)
        up = astral.sun.elevation(observer, moment, with_refraction=False) >= HORIZON
        if previous is not None and up != previous and up == rising:
            found.append(at)
        previous = up
    return found


@pytest.mark.parametrize("latitude", [89.5, -89.5])
@pytest.mark.parametrize("month", [3, 9])
@pytest.mark.parametrize(
    ("event", "rising"), [(SunEvent.SUNRISE, True), (SunEvent.SUNSET, False)]
)
def test_half_a_degree_off_a_pole_every_rise_and_set_fires_once(
    latitude: float, month: int, event: SunEvent, rising: bool
) -> None:
    location = SunLocation(latitude, 20.0, UTC_ZONE)
    start = datetime(2026, month, 14, tzinfo=UTC).timestamp()
    end = datetime(2026, month, 30, tzinfo=UTC).timestamp()
    expected = _altitude_crossings(location, start, end, rising)
    fires: list[float] = []
    at = start
    while (fire := next_sun(event, 0.0, at, location)) is not None and fire < end:
        fires.append(fire)
        at = fire
    assert 1 <= len(expected) <= 4
    assert len(fires) == len(expected)
    for fire, sample in zip(fires, expected, strict=True):
        assert sample - 60.0 <= fire <= sample
