"""Sunrise, sunset, dawn and dusk at a place; pure, time passed in.

An event is the instant the sun's centre crosses the event's altitude (astral's
elevation and refraction, the altitudes astral's own sunrise uses: -0.833° for sunrise
and sunset, civil -6° for dawn and dusk), found by sampling each local day every
10 minutes and bisecting to the second. astral's closed-form sunrise is only a guess,
checked against the altitude: at high latitudes, near polar day and night, it misses
events or is minutes off (a sunset at 00:30 after a long day, found by neither day). An event belongs to the local date (in the
place's timezone) on which it happens. An offset is real seconds added to the
event's instant, so `sunset - 15m` is never moved by a DST change. In polar day or
night the event does not happen on that date: None, never an exception. A rise or set
shorter than the sampling step (the sun grazing the horizon on the last day before a
polar night) is missed, both crossings together. Beyond 89.8° astral's altitude is
89.8°'s: there its formula is used with the latitude itself, so that at a pole each
event happens once a year, whatever the longitude.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

import astral
import astral.julian
import astral.sun

from raspy.records import frozen
from raspy.rules.model import SunEvent
from raspy.rules.timing_local import label_of, resolve

# More than a polar night at any latitude: past it, an event is taken as never.
MAX_SEARCH_DAYS: Final = 370

_SAMPLE_STEP_S: Final = 600.0
# astral's own sunrise is taken as a guess and checked this close (it is right to
# a second or two except near polar day and night, where the day is sampled instead).
_CHECK_S: Final = 30.0
# Two crossings the same way in one local day are nearly a day apart (an event drifts
# by well under an hour a day, so they are over 23 h apart in at most 25 h): both
# lie this close to the day's ends.
_EDGE_S: Final = 2 * 3600.0
_RESOLUTION_S: Final = 1.0
# beyond it astral's altitude is that of this latitude (_height)
_ASTRAL_MAX_LATITUDE: Final = 89.8
# Degrees of margin when a day is skipped from its noon and midnight altitudes alone:
# more than the sun's declination moves in a day (0.4°).
_SKIP_MARGIN_DEG: Final = 1.0


def _altitude_of(zenith: float) -> float:
    """The geometric altitude at which astral sees the sun at `zenith` (refraction)."""
    return -(zenith - 90.0 + astral.refraction_at_zenith(zenith))


_HORIZON: Final = 90.0 + astral.sun.SUN_APPARENT_RADIUS
_CIVIL: Final = 96.0
# Each event: the altitude crossed and whether the sun rises through it.
_EVENTS: Final[dict[SunEvent, tuple[float, bool]]] = {
    SunEvent.SUNRISE: (_altitude_of(_HORIZON), True),
    SunEvent.SUNSET: (_altitude_of(_HORIZON), False),
    SunEvent.DAWN: (_altitude_of(_CIVIL), True),
    SunEvent.DUSK: (_altitude_of(_CIVIL), False),
}


_ASTRAL: Final[dict[SunEvent, Callable[..., datetime]]] = {
    SunEvent.SUNRISE: astral.sun.sunrise,
    SunEvent.SUNSET: astral.sun.sunset,
    SunEvent.DAWN: astral.sun.dawn,
    SunEvent.DUSK: astral.sun.dusk,
}


@frozen
class SunLocation:
    """A place: degrees north and east (negative south and west), and its timezone."""

    latitude: float
    longitude: float
    tz: ZoneInfo

    def __post_init__(self) -> None:
        if not -90.0 <= self.latitude <= 90.0:
            raise ValueError(f"latitude: expected -90..90, got {self.latitude}")
        if not -180.0 <= self.longitude <= 180.0:
            raise ValueError(f"longitude: expected -180..180, got {self.longitude}")


def _height(observer: astral.Observer, wall_ts: float) -> float:
    """The sun's geometric altitude in degrees. astral takes any latitude beyond
    89.8° as 89.8°, whose sun swings 0.2° each way in a day: at a pole it rose and
    set again and again around an equinox, at times the longitude chose. There its
    formula is used here with the latitude itself: at a pole the altitude is the
    declination, which crosses the horizon once a year."""
    moment = datetime.fromtimestamp(wall_ts, UTC)
    if abs(observer.latitude) <= _ASTRAL_MAX_LATITUDE:
        return float(astral.sun.elevation(observer, moment, with_refraction=False))
    century = astral.julian.julianday_to_juliancentury(astral.julian.julianday(moment))
    declination = math.radians(astral.sun.sun_declination(century))
    # the true solar time in minutes of the day, as astral's elevation has it
    minutes = (
        moment.hour * 60.0
        + moment.minute
        + moment.second / 60.0
        + astral.sun.eq_of_time(century)
        + 4.0 * observer.longitude
    )
    hour_angle = math.radians(minutes / 4.0 - 180.0)
    latitude = math.radians(observer.latitude)
    sine = math.sin(latitude) * math.sin(declination)
    sine += math.cos(latitude) * math.cos(declination) * math.cos(hour_angle)
    return math.degrees(math.asin(min(1.0, max(-1.0, sine))))


def _may_cross(observer: astral.Observer, day: date, altitude: float) -> bool:
    """False when the sun stays clearly above or below `altitude` all of `day` (its
    highest is near the solar noon, its lowest near a solar midnight): polar days
    and nights are skipped without sampling them."""
    noon = astral.sun.noon(observer, day).timestamp()
    highest = _height(observer, noon)
    lowest = min(
        _height(observer, astral.sun.midnight(observer, day + timedelta(n)).timestamp())
        for n in (0, 1)
    )
    margin = _SKIP_MARGIN_DEG
    return highest > altitude - margin and lowest < altitude + margin


def _crossings(event: SunEvent, day: date, location: SunLocation) -> list[float]:
    """The instants (epoch s) of `event` on the local `day`, in order (mostly one)."""
    altitude, rising = _EVENTS[event]
    observer = astral.Observer(location.latitude, location.longitude, 0.0)
    midnight = datetime.combine(day, datetime.min.time())
    start = resolve(midnight, location.tz)
    end = resolve(midnight + timedelta(days=1), location.tz)

    def above(ts: float) -> bool:
        return _height(observer, ts) >= altitude

    hint = _astral_hint(event, observer, day)
    if hint is not None:  # checked: the altitude is crossed within _CHECK_S of it
        low, high = hint - _CHECK_S, hint + _CHECK_S
        if above(low) != rising and above(high) == rising:
            moment = _bisect(above, low, high, rising)
            if start <= moment < end:
                # Another crossing the same way the same day (near polar day:
                # sunsets at 00:14 and 23:56) is at the day's other end.
                before = after = []
                if end - moment < _EDGE_S:
                    before = _scan(above, rising, start, start + _EDGE_S)
                if moment - start < _EDGE_S:
                    after = _scan(above, rising, end - _EDGE_S, end)
                return [*before, moment, *after]
    if not _may_cross(observer, day, altitude):
        return []
    return _scan(above, rising, start, end)


def _scan(
    above: Callable[[float], bool], rising: bool, start: float, end: float
) -> list[float]:
    """The crossings in [start, end), from samples every _SAMPLE_STEP_S."""
    found: list[float] = []
    if end <= start:
        return found
    # From one step before, so a crossing right at `start` is not lost between two
    # windows; each crossing belongs to the window its instant is in.
    low, low_above = start - _SAMPLE_STEP_S, above(start - _SAMPLE_STEP_S)
    while low < end:
        high = min(low + _SAMPLE_STEP_S, end)
        high_above = above(high)
        if high_above != low_above and high_above == rising:
            moment = _bisect(above, low, high, rising)
            if start <= moment < end:
                found.append(moment)
        low, low_above = high, high_above
    return found


def _astral_hint(event: SunEvent, observer: astral.Observer, day: date) -> float | None:
    """astral's closed-form instant of `event` for `day`, as a first guess only."""
    try:
        return _ASTRAL[event](observer, date=day).timestamp()
    except ValueError:  # polar day or night, or astral's search failed near one
        return None


def _bisect(
    above: Callable[[float], bool], low: float, high: float, rising: bool
) -> float:
    """The first whole-resolution instant in (low, high] on the far side."""
    while high - low > _RESOLUTION_S:
        middle = (low + high) / 2
        if above(middle) == rising:
            high = middle
        else:
            low = middle
    return high


def _event_on(event: SunEvent, day: date, location: SunLocation) -> float | None:
    """The `event` of the local `day` (epoch s), None if it does not happen.

    Near a polar day a date may hold two: sunsets at 00:14 (the evening before's,
    late) and at 23:59. The day's own is the morning's first rising or the
    evening's last setting."""
    found = _crossings(event, day, location)
    if not found:
        return None
    _altitude, rising = _EVENTS[event]
    return found[0] if rising else found[-1]


def sun_time(event: SunEvent, wall_ts: float, location: SunLocation) -> float | None:
    """The instant (epoch s) of `event` on the local date of `wall_ts`, or None."""
    return _event_on(event, label_of(wall_ts, location.tz).date(), location)


def sun_is_up(wall_ts: float, location: SunLocation) -> bool:
    """Whether the sun's centre is above the horizon at `wall_ts` (the altitude a
    sunrise and a sunset cross): between them on a day with both, all of a polar
    day, never in a polar night."""
    observer = astral.Observer(location.latitude, location.longitude, 0.0)
    return _height(observer, wall_ts) >= _EVENTS[SunEvent.SUNRISE][0]


def next_sun(
    event: SunEvent, offset_s: float, after_ts: float, location: SunLocation
) -> float | None:
    """The first `event + offset_s` strictly after `after_ts`; None if the event does
    not happen for MAX_SEARCH_DAYS (deep in a polar day or night)."""
    # Fires grow with the date, so start on the day whose event could be the first.
    day = label_of(after_ts - offset_s, location.tz).date() - timedelta(days=1)
    for _ in range(MAX_SEARCH_DAYS):
        for moment in _crossings(event, day, location):
            if moment + offset_s > after_ts:
                return moment + offset_s
        day += timedelta(days=1)
    return None


def absent_days(
    offset_s: float, after_ts: float, fire_ts: float, tz: ZoneInfo
) -> tuple[date, date] | None:
    """The local dates (first, last) on which a sun trigger does not fire between a
    fire (or a start) at `after_ts` and its next fire at `fire_ts`, if any: the days
    of a polar day or night, to be said once rather than found missing."""
    last_day = label_of(after_ts - offset_s, tz).date()
    next_day = label_of(fire_ts - offset_s, tz).date()
    if (next_day - last_day).days < 2:
        return None
    return last_day + timedelta(days=1), next_day - timedelta(days=1)
