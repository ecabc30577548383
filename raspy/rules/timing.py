"""Time triggers: cron, at, every and sun; when they fire next, and one scheduler heap.

Pure: every function takes the instant it reasons about (epoch s) and the timezone;
nothing here reads a clock, sleeps or starts a thread. The parts live in `timing_*`
modules and `sun`; this module is the one to import.

The DST rule (cron and `at`; local wall-clock time of the core's timezone)
---------------------------------------------------------------------------
- A local time that does not exist (skipped when the clocks go forward) fires once, at
  the first instant after the gap: `30 2 * * *` in Europe/Berlin on the spring day fires
  at 03:00 CEST; in America/New_York at 03:00 EDT. Several skipped times (`*/15 2 * *
  *`) and a real time right after the gap (`0 2,3 * * *`) all collapse into that one
  fire.
- A local time that occurs twice (when the clocks go back) fires once, at its first
  occurrence (the summer-time one), for `at` and for a cron job at fixed times
  (`30 1 * * *`): 01:30 in New York fires at 01:30 EDT, never again at 01:30 EST.
- A cron job with `*` in its minute or hour field (`*/15 * * * *`, `0 * * * *`,
  `@hourly`) follows the clock through both passes of the repeated hour, as Debian's
  cron does, so it keeps its cadence in real time: every 15 minutes, every real hour
  (25 fires on the autumn day, 23 on the spring day, where 02:00 is 03:00's fire;
  `30 * * * *`'s 02:30 is left to its 03:30, its place in real time).
  Jobs that must follow real elapsed time exactly use `every`.
- croniter is only asked about naive local labels (given a timezone, croniter 7
  decides the repeated hour on its own).
- Sun events are instants (the sun's altitude crossing the event's) on the local date
  they happen; an offset is real seconds added to them, so DST never moves or repeats
  them; in polar day or night the event does not happen (None), and `absent_days`
  names the days a trigger skips.

Downtime and clock jumps: see `timing_scheduler` (no late fires after downtime; a
jump is reported as ClockJumped; `every` follows real time; after a step forward of
up to 3 h a fixed time it skipped fires at once, once, after a larger one nothing
skipped fires; after a step back of up to 3 h no time fires twice, after a larger
one the triggers go on from the new time at once).
"""

from __future__ import annotations

from raspy.rules.sun import SunLocation, absent_days, next_sun, sun_time
from raspy.rules.timing_cron import CronSchedule, parse_cron
from raspy.rules.timing_fire import next_at, next_every, next_fire
from raspy.rules.timing_local import iso_local, label_of, resolve
from raspy.rules.timing_scheduler import (
    ClockJumped,
    Fired,
    SchedulerOutput,
    TimeScheduler,
)

__all__ = [
    "ClockJumped",
    "CronSchedule",
    "Fired",
    "SchedulerOutput",
    "SunLocation",
    "TimeScheduler",
    "absent_days",
    "iso_local",
    "label_of",
    "next_at",
    "next_every",
    "next_fire",
    "next_sun",
    "parse_cron",
    "resolve",
    "sun_time",
]
