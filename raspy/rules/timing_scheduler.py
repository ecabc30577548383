"""TimeScheduler: one heap of time triggers; sans-IO (both clocks passed in, no threads).

The shell sleeps until `next_deadline_mono()` on its monotonic clock, then calls
`due(now_wall, now_mono)` and acts on what comes back. Fire times are wall-clock
instants (cron, at and sun are about the wall clock); the monotonic clock only turns
them into a sleep and exposes wall-clock steps.

Rules (see also `raspy.rules.timing`):
- No late fires after downtime: a key's first fire is computed from `now` when it is
  added (after the instant it last fired, when given, if that is later).
- A wake-up that comes late fires each overdue key once, then continues after `now`.
- A clock jump is a wall step of more than `jump_threshold_s` against the monotonic
  clock between two `due` calls. It comes out as ClockJumped(delta_s). Keys due
  before the step (by the old wall time) still fire, once; then:
  - `every` keys follow real elapsed time: their grid moves with the step, so the
    next fire comes `interval` real seconds after the last one, whatever the step;
  - after a step forward of up to `REPEAT_GUARD_S` (3 h: NTP correcting a clock
    that drifted), a calendar key at fixed times (cron with no `*` in its minute
    or hour, at, sun) whose next fire the step went over fires at once, once
    however many of its times it skipped (no flood), for the last of them, by the
    new clock (its offset), as Debian's cron runs its fixed-time jobs; one that
    fired by the old clock in that wake-up is not fired again. A cron key that
    follows the clock (`*` in its minute or hour) is not caught up, as on the
    spring day's gap. A larger step forward is a new time (a Pi without an RTC
    set right at boot): nothing skipped fires;
  - then calendar keys (cron, at, sun) compute their next fire again from the new
    wall time.
  A smaller step (over a millisecond) is no jump, but `every` keys follow it too.
  A step that add() meets first is handled there (its outputs come with the next
  due()), so the key added is computed from the new time and never fired by it
  (nor caught up: it was not scheduled before the step).
- A calendar key never fires the instant it fired last again, nor an earlier one,
  after a step back of up to `REPEAT_GUARD_S` (3 h) (a correction of minutes, as
  NTP makes): a daily 07:00 already fired waits for tomorrow. A clock set back by
  more than that since the key last fired (`clock_set_back`: its offset from the
  monotonic clock then and now compared, so steps and slews add up, and a step
  forward takes back as much) is taken as the correction of a clock that was wrong
  (a Pi without an RTC that booted at a saved time ahead): the key forgets what it
  fired and starts again from the new time, so it never stalls until the old time
  comes back, and a time the wrong clock fired comes again at the right one (set
  back 5 h from 12:02, a daily 08:00 fires at 08:00). LastFires keeps the same rule
  for a key scheduled again.
- Sleeps are capped at `max_sleep_s`, so a step is seen within that time even when
  the next fire is far away.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final
from zoneinfo import ZoneInfo

from raspy.records import frozen

# The triggers' model and their fire times (the sun's among them) are imported with
# the first trigger added: cron and the core each hold a scheduler from their start,
# and a hub with no scenario and no cron job need not load them.
if TYPE_CHECKING:
    from raspy.rules.model import TimeTrigger
    from raspy.rules.sun import SunLocation

DEFAULT_JUMP_THRESHOLD_S: Final = 1.0
# a wall step smaller than this between two due() calls is clock noise: not followed
_SLEW_IGNORED_S: Final = 0.001
DEFAULT_MAX_SLEEP_S: Final = 60.0
# The largest step back after which a key still refuses the instants it fired (as
# Debian's cron takes a step of under 3 h for a DST-sized change, a larger one for
# a correction).
REPEAT_GUARD_S: Final = 3 * 3600.0


@frozen
class Fired:
    """`key` fires now for its instant `scheduled_wall_ts` (epoch s);
    `clock_offset_s`: the wall clock's offset from the monotonic one (wall - mono)
    of the clock it fired by: one due by the clock before a step, that clock's (what
    LastFires notes with it)."""

    key: str
    scheduled_wall_ts: float
    clock_offset_s: float = field(default=0.0, compare=False)


@frozen
class PastFire:
    """A key's fire before it was added: its instant `wall_ts` (epoch s) and the
    offset (wall - mono) of the clock it fired by, as LastFires keeps them."""

    wall_ts: float
    clock_offset_s: float


@frozen
class ClockJumped:
    """The wall clock stepped by `delta_s` (positive: forward) against monotonic."""

    delta_s: float


SchedulerOutput = Fired | ClockJumped


@dataclass(slots=True)
class _Job:
    trigger: TimeTrigger
    anchor_ts: float
    next_wall: float | None
    last_fired: float | None
    # the offset (wall - mono) of the clock its last fire was made by
    fired_offset_s: float
    generation: int

    def past_fire(self) -> PastFire | None:
        """Its last fire, None if it has not fired."""
        if self.last_fired is None:
            return None
        return PastFire(self.last_fired, self.fired_offset_s)

    def follow_real_time(self, delta_s: float) -> bool:
        """An `every` key's grid moves with a wall step of `delta_s` (it counts real
        elapsed time); False for a calendar key, which is left as it is."""
        from raspy.rules.model import EveryTrigger  # loaded with the first trigger

        if not isinstance(self.trigger, EveryTrigger):
            return False
        self.anchor_ts += delta_s
        if self.last_fired is not None:
            self.last_fired += delta_s
            self.fired_offset_s += delta_s  # as if fired by the clock as it is
        if self.next_wall is not None:
            self.next_wall += delta_s
        return True


class TimeScheduler:
    """Time triggers by key; the earliest next fire is at the top of one heap."""

    def __init__(
        self,
        tz: ZoneInfo,
        location: SunLocation | None = None,
        *,
        jump_threshold_s: float = DEFAULT_JUMP_THRESHOLD_S,
        max_sleep_s: float = DEFAULT_MAX_SLEEP_S,
    ) -> None:
        if not jump_threshold_s > 0 or not max_sleep_s > 0:
            raise ValueError("jump_threshold_s and max_sleep_s must be > 0")
        self._tz = tz
        self._location = location
        self._jump_threshold_s = jump_threshold_s
        self._max_sleep_s = max_sleep_s
        self._jobs: dict[str, _Job] = {}
        self._heap: list[tuple[float, int, str]] = []
        self._sequence = 0
        # The last (wall, monotonic) pair seen by due(): jumps are measured from it.
        self._reference: tuple[float, float] | None = None
        # What a step noticed by add() fired: the next due() returns it first.
        self._held: list[SchedulerOutput] = []

    def __contains__(self, key: str) -> bool:
        return key in self._jobs

    def __len__(self) -> int:
        return len(self._jobs)

    def next_wall(self, key: str) -> float | None:
        """The next fire of `key` (epoch s), None if it has none or is unknown."""
        job = self._jobs.get(key)
        return None if job is None else job.next_wall

    def add(
        self,
        key: str,
        trigger: TimeTrigger,
        now_wall: float,
        now_mono: float,
        *,
        anchor_ts: float | None = None,
        last_fire: PastFire | None = None,
    ) -> float | None:
        """Schedule `key` (replacing it if present); returns its first fire or None.

        `anchor_ts` (default `now_wall`) is the grid origin of an `every` trigger.
        `last_fire` is one made before (not repeated after a small step back).
        Raises ValueError for a trigger that cannot be scheduled; nothing changes then.
        """
        if self._reference is None or not self._jobs:
            self._reference = (now_wall, now_mono)
        else:
            self._notice_step(now_wall, now_mono)
        previous = self._jobs.get(key)
        held = None if previous is None else previous.past_fire()
        known = _latest_kept([last_fire, held], now_wall - now_mono)
        last = None if known is None else known.wall_ts
        anchor = now_wall if anchor_ts is None else anchor_ts
        after = now_wall if last is None else max(now_wall, last)
        first = self._next(trigger, after, anchor)
        self._sequence += 1
        offset = 0.0 if known is None else known.clock_offset_s
        self._jobs[key] = _Job(trigger, anchor, first, last, offset, self._sequence)
        self._push(key)
        return first

    def remove(self, key: str) -> bool:
        """Forget `key`, also a fire of it that add() holds for the next due();
        False if it was not scheduled."""
        removed = self._jobs.pop(key, None) is not None
        self._held = [
            o for o in self._held if not (isinstance(o, Fired) and o.key == key)
        ]
        if len(self._heap) > 2 * len(self._jobs) + 16:
            self._rebuild()
        return removed

    def next_deadline_mono(self) -> float | None:
        """When the shell should call due(), on its monotonic clock; None: no keys."""
        if not self._jobs or self._reference is None:
            return None
        wall, mono = self._reference
        if self._held:
            return mono  # what add() noticed waits for due(): at once
        wake = mono + self._max_sleep_s
        top = self._top()
        if top is not None:
            wake = min(wake, mono + (top - wall))
        return wake

    def _notice_step(self, now_wall: float, now_mono: float) -> None:
        """A key added after a step that due() has not seen yet is computed from the
        new time: the step is handled first (its outputs wait for the next due()),
        or the jump's firing of what was due by the old time would take the new key
        too (a clock set back from 10:00 to 09:00, then `at: 09:30` imported: fired
        at once, at 09:00)."""
        wall, mono = self._reference or (now_wall, now_mono)
        if abs(now_wall - (wall + (now_mono - mono))) > self._jump_threshold_s:
            self._held = self.due(now_wall, now_mono)  # with what was held before

    def due(self, now_wall: float, now_mono: float) -> list[SchedulerOutput]:
        """What fires at `now`: ClockJumped first if the wall clock stepped, then the
        fires in order of their instants."""
        outputs, self._held = self._held, []
        expected = now_wall
        if self._reference is not None:
            wall, mono = self._reference
            expected = wall + (now_mono - mono)
        self._reference = (now_wall, now_mono)
        delta = now_wall - expected
        if abs(delta) > self._jump_threshold_s:
            outputs.append(ClockJumped(delta))
            outputs.extend(self._fire_until(expected, now_wall, now_mono))
            if 0 < delta <= REPEAT_GUARD_S:  # forward: a step back skips nothing
                outputs.extend(self._catch_up(now_wall, now_mono))
            self._after_step(now_wall, now_mono, delta)
        else:
            self._follow_slew(delta)
            outputs.extend(self._fire_until(now_wall, now_wall, now_mono))
        return outputs

    def _follow_slew(self, delta_s: float) -> None:
        """`every` keys follow real time through small wall steps too: each one under
        the threshold moved their next fire by its size, and many of them added up
        (three of -0.5 s made a 45 s grid 1.5 s late in real time)."""
        if abs(delta_s) < _SLEW_IGNORED_S:
            return
        moved = [job.follow_real_time(delta_s) for job in self._jobs.values()]
        if any(moved):
            self._rebuild()

    # --- internals --------------------------------------------------------------------
    def _next(self, trigger: TimeTrigger, after: float, anchor: float) -> float | None:
        from raspy.rules.timing_fire import next_fire  # with the first trigger

        try:
            return next_fire(
                trigger, after, tz=self._tz, location=self._location, anchor_ts=anchor
            )
        except OverflowError as exc:  # a wall clock past what datetime can hold
            raise ValueError(f"no fire after {after}: {exc}") from exc

    def _next_or_park(self, job: _Job, after: float) -> float | None:
        """The next fire of a job already accepted by add(); None (parked until the
        next clock jump or add) when the wall clock is beyond the calendar."""
        try:
            return self._next(job.trigger, after, job.anchor_ts)
        except ValueError:
            return None

    def _fire_until(
        self, until_wall: float, now_wall: float, now_mono: float
    ) -> list[SchedulerOutput]:
        """Fire every key due by `until_wall` (the clock they fire by, at
        `now_mono`) once; each continues after `now_wall`."""
        offset = until_wall - now_mono
        fired: list[SchedulerOutput] = []
        while (top := self._top()) is not None and top <= until_wall:
            _, _, key = heapq.heappop(self._heap)
            job = self._jobs[key]
            assert job.next_wall is not None
            fired.append(Fired(key, job.next_wall, offset))
            job.last_fired = job.next_wall
            job.fired_offset_s = offset  # a step that brings it is after it
            # Past `until_wall` too, so no key fires twice in one call.
            after = max(until_wall, now_wall, job.last_fired)
            job.next_wall = self._next_or_park(job, after)
            self._push(key)
        return fired

    def _catch_up(self, now_wall: float, now_mono: float) -> list[Fired]:
        """After a step forward of up to REPEAT_GUARD_S: each calendar key whose next
        fire the step went over fires once, for the last time it skipped, by the
        new clock (see the module doc); _after_step then schedules it after now."""
        from raspy.rules.timing_fire import catches_up  # with the first trigger

        offset = now_wall - now_mono
        fired: list[Fired] = []
        for key, job in self._jobs.items():
            if job.next_wall is None or job.next_wall > now_wall:
                continue
            if not catches_up(job.trigger):
                continue
            skipped = job.next_wall
            while (following := self._next_or_park(job, skipped)) is not None:
                if following > now_wall:
                    break
                skipped = following  # at most 3 h of a cron's minutes
            fired.append(Fired(key, skipped, offset))
            job.last_fired, job.fired_offset_s = skipped, offset
        fired.sort(key=lambda fire: fire.scheduled_wall_ts)  # ties: in order added
        return fired

    def _after_step(self, now_wall: float, now_mono: float, delta_s: float) -> None:
        """Every key's next fire after a wall step of `delta_s` (see the module doc)."""
        offset = now_wall - now_mono
        for job in self._jobs.values():
            # an `every` key's fires move with the step; a calendar key's, made by a
            # wrong clock since set right, say nothing of the right clock's times
            if not job.follow_real_time(delta_s) and clock_set_back(
                job.fired_offset_s, offset
            ):
                job.last_fired = None
            after = (
                now_wall if job.last_fired is None else max(now_wall, job.last_fired)
            )
            job.next_wall = self._next_or_park(job, after)
        self._rebuild()

    def _push(self, key: str) -> None:
        job = self._jobs[key]
        self._sequence += 1
        job.generation = self._sequence
        if job.next_wall is not None:
            heapq.heappush(self._heap, (job.next_wall, job.generation, key))

    def _rebuild(self) -> None:
        self._heap = []
        for key in self._jobs:
            self._push(key)

    def _top(self) -> float | None:
        """The earliest live next fire, dropping stale heap entries on the way."""
        while self._heap:
            wall, generation, key = self._heap[0]
            job = self._jobs.get(key)
            if job is not None and job.generation == generation:
                return wall
            heapq.heappop(self._heap)
        return None


def clock_set_back(fired_offset_s: float, now_offset_s: float) -> bool:
    """Whether the wall clock was set back by more than REPEAT_GUARD_S since a fire
    made when its offset from the monotonic clock (wall - mono) was `fired_offset_s`
    (it is `now_offset_s` now): that fire was made by a wrong clock, since set right.
    The scheduler and LastFires both forget such a fire."""
    return now_offset_s - fired_offset_s < -REPEAT_GUARD_S


def _latest_kept(fires: list[PastFire | None], now_offset_s: float) -> PastFire | None:
    """The latest of `fires` that was not made by a clock set back since."""
    kept = [
        fire
        for fire in fires
        if fire is not None and not clock_set_back(fire.clock_offset_s, now_offset_s)
    ]
    return max(kept, key=lambda fire: fire.wall_ts, default=None)
