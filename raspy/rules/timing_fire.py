"""The next fire of each time trigger after an instant; pure, time passed in.

`cron` and `at` are local wall-clock times (DST rule: `timing_local`); `every` is a grid
of real seconds from an anchor (never moved by DST or drift); `sun` is an astral event
plus real seconds.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Final
from zoneinfo import ZoneInfo

from raspy.rules.model import (
    AtTrigger,
    CronTrigger,
    EveryTrigger,
    SunTrigger,
    TimeTrigger,
)
from raspy.rules.sun import SunLocation, next_sun
from raspy.rules.timing_cron import CronSchedule, parse_cron
from raspy.rules.timing_local import label_of, resolve

SECONDS_PER_DAY: Final = 86_400


@lru_cache(maxsize=1024)
def _schedule(expression: str) -> CronSchedule:
    return parse_cron(expression)


def next_at(seconds_of_day: int, after_ts: float, tz: ZoneInfo) -> float:
    """The first daily fire at local `seconds_of_day` strictly after `after_ts`."""
    if not 0 <= seconds_of_day < SECONDS_PER_DAY:
        raise ValueError(
            f"at: seconds of day: expected 0..{SECONDS_PER_DAY - 1}, got {seconds_of_day}"
        )
    day = label_of(after_ts, tz).date()
    time_of_day = timedelta(seconds=seconds_of_day)
    # Today's label may lie before `after_ts`, or be the repeat already fired: at most
    # two more days settle it.
    for offset in range(3):
        midnight = datetime.combine(day + timedelta(days=offset), datetime.min.time())
        fire = resolve(midnight + time_of_day, tz)
        if fire > after_ts:
            return fire
    raise AssertionError(f"no daily fire within three days of {after_ts}")


def next_every(interval_s: float, anchor_ts: float, after_ts: float) -> float:
    """The first point of the grid `anchor_ts + k * interval_s` (any integer k)
    strictly after `after_ts`: a fixed grid, so late wake-ups never make it drift."""
    if not interval_s > 0 or not math.isfinite(interval_s):
        raise ValueError(f"every: expected an interval > 0 s, got {interval_s}")
    steps = math.floor((after_ts - anchor_ts) / interval_s) + 1
    fire = anchor_ts + steps * interval_s
    while fire <= after_ts:  # float rounding on a far anchor
        steps += 1
        fire = anchor_ts + steps * interval_s
    return fire


def catches_up(trigger: TimeTrigger) -> bool:
    """Whether a time of `trigger` skipped by a small step of the clock forward is
    fired late, as Debian's cron runs its fixed-time jobs: a cron job at fixed
    times, `at`, sun. Not a cron job with `*` in its minute or hour (it follows the
    clock, as on the spring day), nor `every` (it follows real time)."""
    match trigger:
        case CronTrigger(expression=expression):
            return not _schedule(expression).repeats_with_the_clock
        case AtTrigger() | SunTrigger():
            return True
    return False


def next_fire(
    trigger: TimeTrigger,
    after_ts: float,
    *,
    tz: ZoneInfo,
    location: SunLocation | None,
    anchor_ts: float,
) -> float | None:
    """The first fire of `trigger` strictly after `after_ts` (epoch s).

    None: a sun event that does not happen within a year (polar day or night).
    Raises ValueError for a bad cron expression, a sun trigger without a location,
    or an interval that is not > 0.
    """
    match trigger:
        case CronTrigger(expression=expression):
            return _schedule(expression).next_after(after_ts, tz)
        case AtTrigger(seconds_of_day=seconds_of_day):
            return next_at(seconds_of_day, after_ts, tz)
        case EveryTrigger(interval_s=interval_s):
            return next_every(interval_s, anchor_ts, after_ts)
        case SunTrigger(event=event, offset_s=offset_s):
            if location is None:
                raise ValueError("sun: no location ([core] latitude, longitude)")
            return next_sun(event, offset_s, after_ts, location)
    raise TypeError(f"not a time trigger: {type(trigger).__name__}")
