"""Sunrise, sunset, dawn and dusk at a place, through astral; pure, time passed in.

An event belongs to the local date (in the place's timezone) on which it happens. Dawn
and dusk are civil (sun 6° below the horizon). An offset is real seconds added to the
event's instant, so `sunset - 15m` is never moved by a DST change; the event itself is
an instant and never falls in a gap or a repeat. In polar day or night the event does
not happen on that date: None, never an exception.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Final
from zoneinfo import ZoneInfo

import astral
import astral.sun

from raspy.rules.model import SunEvent
from raspy.rules.timing_local import label_of

# More than a polar night at any latitude: past it, an event is taken as never.
MAX_SEARCH_DAYS: Final = 370

_Astral = Callable[..., datetime]
_FUNCTIONS: Final[dict[SunEvent, _Astral]] = {
    SunEvent.SUNRISE: astral.sun.sunrise,
    SunEvent.SUNSET: astral.sun.sunset,
    SunEvent.DAWN: astral.sun.dawn,
    SunEvent.DUSK: astral.sun.dusk,
}


@dataclass(frozen=True, slots=True)
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


def _event_on(event: SunEvent, day: date, location: SunLocation) -> float | None:
    observer = astral.Observer(location.latitude, location.longitude, 0.0)
    zone: tzinfo = location.tz
    try:
        moment = _FUNCTIONS[event](observer, date=day, tzinfo=zone)
    except ValueError:  # astral: the sun never crosses that depression on that day
        return None
    # astral already searches the neighbouring day when the UTC date differs; check
    # once more so an event is never given to the wrong local date.
    if moment.astimezone(location.tz).date() != day:
        return None
    return moment.timestamp()


def sun_time(event: SunEvent, wall_ts: float, location: SunLocation) -> float | None:
    """The instant (epoch s) of `event` on the local date of `wall_ts`, or None."""
    return _event_on(event, label_of(wall_ts, location.tz).date(), location)


def next_sun(
    event: SunEvent, offset_s: float, after_ts: float, location: SunLocation
) -> float | None:
    """The first `event + offset_s` strictly after `after_ts`; None if the event does
    not happen for MAX_SEARCH_DAYS (deep in a polar day or night)."""
    # Fires grow with the date, so start on the day whose event could be the first.
    day = label_of(after_ts - offset_s, location.tz).date() - timedelta(days=1)
    for _ in range(MAX_SEARCH_DAYS):
        moment = _event_on(event, day, location)
        if moment is not None and moment + offset_s > after_ts:
            return moment + offset_s
        day += timedelta(days=1)
    return None
