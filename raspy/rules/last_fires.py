"""LastFires: the last fire of each scenario's calendar time trigger (and each cron
job's), kept while they are scheduled again (thread-safe; the clock passed in).

A scenario's triggers leave the core's scheduler when its actor stops and come back
when it starts: an import of a new version, a disable then enable, a core restarted
by the supervisor (a new CoreTimers, the same LastFires: raspyd's Runtime holds it).
The scheduler refuses an instant it fired already after a small step of the clock
back (TimeScheduler, REPEAT_GUARD_S), and this lets it go on refusing it after such
a return: at 07:00 fired, the clock set back five minutes, then a new version
imported, `at: 07:00` waits for tomorrow instead of firing twice. Cron keeps its
own (by job name and schedule) across a disable then enable, a job added again
(replaced, or deleted and added) and its own restart.

The same trigger is one of the same scenario (by name) with the same kind and the
same spec: the same cron expression (as written), the same `at:` time, the same sun
event and offset. Its place among the triggers and its `id` do not count; `every`
keeps nothing (it counts real time from its start, which a step does not move). A
fire more than REPEAT_GUARD_S before the last one noted is dropped: no step the
scheduler takes for a small one could bring it back. Each fire is noted with the
wall clock's offset from the monotonic clock then: once the clock has been set back
by more than REPEAT_GUARD_S since (a wrong clock set right, whoever saw the step),
it is no last fire any more, as the scheduler forgets it at such a step (both ask
`clock_set_back`).
"""

from __future__ import annotations

import dataclasses
import threading
from typing import TYPE_CHECKING

from raspy.rules.timing_scheduler import REPEAT_GUARD_S, PastFire, clock_set_back

if TYPE_CHECKING:
    from raspy.rules.model import TimeTrigger


class LastFires:
    """The last fire (epoch s) by name (a scenario's, a cron job's) and trigger
    spec; see the module doc."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # by name and spec: the fire and the clock's offset (wall - mono) then
        self._fires: dict[tuple[str, TimeTrigger], PastFire] = {}

    def note(
        self,
        name: str,
        trigger: TimeTrigger,
        fired_ts: float,
        *,
        clock_offset_s: float,
    ) -> None:
        """`trigger` of `name` fired for its instant `fired_ts`, the wall clock
        `clock_offset_s` ahead of the monotonic one."""
        spec = _spec(trigger)
        if spec is None:
            return
        with self._lock:
            known = self._fires.get((name, spec))
            if (
                known is None
                or clock_set_back(known.clock_offset_s, clock_offset_s)
                or known.wall_ts < fired_ts
            ):
                self._fires[(name, spec)] = PastFire(fired_ts, clock_offset_s)
            stale = fired_ts - REPEAT_GUARD_S
            for key, fire in list(self._fires.items()):
                if fire.wall_ts < stale or clock_set_back(
                    fire.clock_offset_s, clock_offset_s
                ):
                    del self._fires[key]

    def last(
        self, name: str, trigger: TimeTrigger, *, clock_offset_s: float
    ) -> PastFire | None:
        """The last fire noted of the same trigger of `name`, None if none or if
        the wall clock (now `clock_offset_s` ahead of the monotonic one) has been
        set back by more than REPEAT_GUARD_S since."""
        spec = _spec(trigger)
        if spec is None:
            return None
        with self._lock:
            fire = self._fires.get((name, spec))
        if fire is None or clock_set_back(fire.clock_offset_s, clock_offset_s):
            return None
        return fire


def _spec(trigger: TimeTrigger) -> TimeTrigger | None:
    """The trigger without its id; None for `every`, which keeps nothing."""
    from raspy.rules.model import EveryTrigger  # loaded with the first trigger

    if isinstance(trigger, EveryTrigger):
        return None
    return dataclasses.replace(trigger, id="")
