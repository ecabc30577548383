"""The ticks of a chart's time axis, in the chart's zone: on its hours and midnights
for a span of weeks or less, on the 1st of its months (or of January) for longer
ones, each with its label. Pure: no clock.
"""

from __future__ import annotations

import math
from datetime import datetime, tzinfo
from typing import Final

_DAY: Final = 86400
_TIME_STEPS_S: Final = (
    60, 120, 300, 600, 900, 1800, 3600, 2 * 3600, 3 * 3600, 6 * 3600, 12 * 3600,
    _DAY, 2 * _DAY, 7 * _DAY, 14 * _DAY, 30 * _DAY, 91 * _DAY, 182 * _DAY,
    365 * _DAY, 2 * 365 * _DAY, 5 * 365 * _DAY,
)  # fmt: skip
# a step of about a month or more walks the calendar: so many months a tick
_MONTHS: Final = {
    30 * _DAY: 1,
    91 * _DAY: 3,
    182 * _DAY: 6,
    365 * _DAY: 12,
    2 * 365 * _DAY: 24,
    5 * 365 * _DAY: 60,
}
MAX_TICKS: Final = 8
_MOST: Final = 20  # a bound on every walk: a float that dwarfs its step never moves

Tick = tuple[float, str]  # epoch s, its label


def time_ticks(t_start: float, t_end: float, zone: tzinfo) -> list[Tick]:
    """The ticks within t_start..t_end, at most about MAX_TICKS of them."""
    step = _time_step(t_end - t_start)
    months = _MONTHS.get(step)
    if months is not None:
        return _month_ticks(t_start, t_end, months, zone)
    return _clock_ticks(t_start, t_end, step, zone)


def _time_step(span_s: float) -> int:
    for step in _TIME_STEPS_S:
        # a hair over: a day asked as now - 24 h .. the hub's now, a moment later
        if span_s / step <= MAX_TICKS * 1.001:
            return step
    return _TIME_STEPS_S[-1]


def _month_ticks(t_start: float, t_end: float, months: int, zone: tzinfo) -> list[Tick]:
    """The 1sts of every `months`-th month, counted from year 0 (quarters start in
    January, April, July and October; years on the 1st of January), at midnight in
    `zone`: a tick labelled 2025-01 or 2025 is there, not where a multiple of 30 or
    365 days from 1970 falls."""
    first = datetime.fromtimestamp(t_start, zone)
    index = first.year * 12 + first.month - 1
    index -= index % months
    while index < 12:  # no year 0 (a chart of the years 2 to 5)
        index += months
    ticks: list[Tick] = []
    for _ in range(_MOST):
        year, month = divmod(index, 12)
        try:
            tick = datetime(year, month + 1, 1, tzinfo=zone).timestamp()
        except (ValueError, OverflowError):  # beyond the calendar
            break
        if tick > t_end:
            break
        if tick >= t_start:
            text = f"{year:04d}" if months >= 12 else f"{year:04d}-{month + 1:02d}"
            ticks.append((tick, text))
        index += months
    return ticks


def _offset_s(t: float, zone: tzinfo) -> float:
    """The zone's UTC offset at `t`: ticks fall on its hours and midnights."""
    offset = datetime.fromtimestamp(t, zone).utcoffset()
    return offset.total_seconds() if offset is not None else 0.0


def tick_indices(low: float, high: float, step: float) -> range:
    """The multiples of `step` within low..high, as indices (never more than
    _MOST + 1: adding a step to a float that dwarfs it would not advance); the
    value axis's ticks too."""
    first, last = math.ceil(low / step), math.floor(high / step)
    return range(first, min(last, first + _MOST) + 1)


def _clock_ticks(t_start: float, t_end: float, step: int, zone: tzinfo) -> list[Tick]:
    """The multiples of `step` of the zone's wall clock within t_start..t_end. The
    range is walked on the wall clock at the start's offset and at the end's, so
    a clock change in it (summer time) leaves no stretch without ticks, and a
    tick both walks reach is kept once."""
    offsets = sorted({_offset_s(t_start, zone), _offset_s(t_end, zone)})
    # a repeated stretch (autumn) long enough for a step has ticks of its own;
    # else only its first pass (a day's tick once, not again an hour later)
    twice = offsets[-1] - offsets[0] >= step
    indices = {
        index
        for offset in offsets
        for index in tick_indices(t_start + offset, t_end + offset, step)
    }
    ticks: dict[float, str] = {}
    for index in sorted(indices):
        for tick in _instants(index * step, offsets, zone, twice):
            if t_start <= tick <= t_end and tick not in ticks:
                ticks[tick] = _clock_text(tick, step, zone)
    return sorted(ticks.items())


def _instants(
    local: float, offsets: list[float], zone: tzinfo, twice: bool
) -> list[float]:
    """The instants whose wall clock reads `local` (seconds from the local epoch):
    one, or two in a repeated hour (the first only unless `twice`). A time the
    change skips, or one of an offset neither end has, is asked of the zone: its
    offset at the tick, asked twice, so a midnight the change skips goes to the
    hour after it."""
    found = sorted(
        local - off for off in offsets if _offset_s(local - off, zone) == off
    )
    if found:
        return found if twice else found[:1]
    tick = local - offsets[0]
    for _ in range(2):
        tick = local - _offset_s(tick, zone)
    return [tick]


def _clock_text(t: float, step_s: int, zone: tzinfo) -> str:
    moment = datetime.fromtimestamp(t, zone)
    if step_s >= _DAY or (moment.hour == 0 and moment.minute == 0):
        return moment.strftime("%m-%d")
    return moment.strftime("%H:%M")
