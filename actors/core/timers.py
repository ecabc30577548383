"""The CoreActor's time triggers: one TimeScheduler for the cron, at, every and sun
triggers of every running scenario, on the core's SharedTicker.

Not an actor: the core's own part, run on its thread. It says a step of the clock
once (with cron: ClockSteps) and the days a sun trigger will not fire, and gives the
scenarios the sun's times of the hub's place. Each fire is noted in LastFires, which
outlives a scenario's stop and the core itself: its triggers scheduled again (a new
version, an enable, a new core) do not fire again what fired before a small step of
the clock back. It looks at the clocks each minute at
least, time triggers or not, so that a step is told to the scenarios (`stepped`: a
run's record of its long wait says its end on the wall clock).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pykka
import structlog

from raspy.clock import Clock
from raspy.config import CoreConfig
from raspy.rules.clock_steps import ClockSteps
from raspy.rules.last_fires import LastFires
from raspy.rules.timing_local import iso_local
from raspy.rules.timing_scheduler import (
    DEFAULT_JUMP_THRESHOLD_S,
    DEFAULT_MAX_SLEEP_S,
    ClockJumped,
    Fired,
    TimeScheduler,
)
from raspy.ticker import SharedTicker

# the triggers' model and the sun's times: imported with the first scenario (or
# with [core]'s place), not at every core's start
if TYPE_CHECKING:
    from raspy.rules import model
    from raspy.rules.sun import SunLocation

log = structlog.get_logger(component="core")


class CoreTimers:
    """See the module docstring."""

    def __init__(
        self,
        config: CoreConfig,
        tz: ZoneInfo,
        clock: Clock,
        ticker: SharedTicker,
        steps: ClockSteps,
        fires: LastFires,
    ) -> None:
        self.tz = tz  # cron, at, sun and now() are in this zone
        self.location: SunLocation | None = None
        if config.has_location:
            from raspy.rules.sun import SunLocation  # a place: its sun's times

            self.location = SunLocation(config.latitude, config.longitude, tz)
        self._clock = clock
        self._ticker = ticker
        self._steps = steps  # shared with cron: one log a step
        self._scheduler = TimeScheduler(tz, self.location)
        self._fires = fires  # raspyd's: kept across the cores the supervisor starts
        # the time triggers scheduled, by key (`<name>#<index>`): each fire is noted
        # in LastFires, a sun trigger's absent days are said
        self._triggers: dict[str, model.TimeTrigger] = {}
        # the wall clock's offset from the monotonic one at the last look (stepped)
        self._offset = clock.wall() - clock.monotonic()

    def add(self, scenario: model.Scenario) -> None:
        """Schedule each time trigger of a scenario whose actor just started."""
        from raspy.rules import model  # loaded with the scenario

        clock = self._clock
        for index, trigger in enumerate(scenario.triggers):
            if isinstance(trigger, model.TimeTrigger):
                key = f"{scenario.name}#{index}"
                now_wall, now_mono = clock.wall(), clock.monotonic()
                # its fire before this start: not again after a small step back
                last = self._fires.last(
                    scenario.name, trigger, clock_offset_s=now_wall - now_mono
                )
                try:
                    self._scheduler.add(
                        key, trigger, now_wall, now_mono, last_fire=last
                    )
                except ValueError as exc:
                    log.error(
                        "scenario_trigger_unscheduled",
                        scenario=scenario.name,
                        reason=str(exc),
                    )
                    continue
                self._triggers[key] = trigger
                if isinstance(trigger, model.SunTrigger):
                    after = now_wall
                    if self.sun(trigger.event, now_wall - trigger.offset_s) is None:
                        after -= 86_400.0  # today is a day without it too
                    self._say_absent_sun(scenario.name, key, trigger, after)

    def remove(self, name: str, count: int) -> None:
        """Unschedule the `count` triggers of a scenario whose actor stops."""
        for index in range(count):
            key = f"{name}#{index}"
            self._scheduler.remove(key)
            self._triggers.pop(key, None)

    def next_fires(self, scenario: model.Scenario) -> list[tuple[int, float]]:
        """When each time trigger of a running scenario fires next: `(index, epoch
        s)`, in the triggers' order; one with no next fire (a sun that will not
        rise) or a scenario not scheduled has none."""
        from raspy.rules import model  # loaded with the scenario

        fires: list[tuple[int, float]] = []
        for index, trigger in enumerate(scenario.triggers):
            if isinstance(trigger, model.TimeTrigger):
                at = self._scheduler.next_wall(f"{scenario.name}#{index}")
                if at is not None:
                    fires.append((index, at))
        return fires

    def arm(self, ref: pykka.ActorRef[Any]) -> None:
        """Have the ticker tell `ref` at the next deadline, in a minute at most (a
        step of the clock is seen then, without time triggers too)."""
        look = self._clock.monotonic() + DEFAULT_MAX_SLEEP_S
        deadline = self._scheduler.next_deadline_mono()
        self._ticker.set(ref, look if deadline is None else min(deadline, look))

    def stepped(self) -> float | None:
        """How far the wall clock stepped since the last look (against the
        monotonic clock: more than the schedulers' threshold), or None."""
        offset = self._clock.wall() - self._clock.monotonic()
        delta, self._offset = offset - self._offset, offset
        return delta if abs(delta) > DEFAULT_JUMP_THRESHOLD_S else None

    def due(self) -> Iterator[tuple[str, int, float]]:
        """The triggers due now: `(scenario, index, scheduled wall time)`, each
        followed by the log of the days its sun will not rise or set, if any."""
        clock = self._clock
        jumped = False  # the days between a fire and the next say nothing then
        now_wall, now_mono = clock.wall(), clock.monotonic()
        for out in self._scheduler.due(now_wall, now_mono):
            match out:
                case ClockJumped(delta_s=delta_s):
                    said = self._steps.first(delta_s, now_wall, now_mono)
                    if said is not None:  # cron may have said this step
                        log.warning("clock_jumped", **said)
                    jumped = True
                case Fired(key=key, scheduled_wall_ts=scheduled, clock_offset_s=offset):
                    from raspy.rules import model  # loaded with the trigger

                    name, _, index = key.rpartition("#")
                    trigger = self._triggers[key]
                    self._fires.note(name, trigger, scheduled, clock_offset_s=offset)
                    yield name, int(index), scheduled
                    if not jumped and isinstance(trigger, model.SunTrigger):
                        self._say_absent_sun(name, key, trigger, scheduled)

    def _say_absent_sun(
        self, name: str, key: str, trigger: model.SunTrigger, after_ts: float
    ) -> None:
        """Log once the days a sun trigger will not fire (polar day or night), when
        its next fire is computed, so the silence is not taken for a fault."""
        upcoming = self._scheduler.next_wall(key)
        if upcoming is None:
            return
        from raspy.rules.sun import absent_days  # loaded with the sun trigger

        absent = absent_days(trigger.offset_s, after_ts, upcoming, self.tz)
        if absent is not None:
            log.info(
                "sun_event_absent",
                scenario=name,
                sun=trigger.event.value,
                first_day=absent[0].isoformat(),
                last_day=absent[1].isoformat(),
                next=iso_local(upcoming, self.tz),
            )

    def sun(self, event: model.SunEvent, wall_ts: float) -> float | None:
        """sun(): the time of a sun event, null without a place."""
        from raspy.rules.sun import sun_time

        return (
            None if self.location is None else sun_time(event, wall_ts, self.location)
        )

    def sun_up(self, wall_ts: float) -> bool | None:
        """sun_up(): null without a place, as sun('sunset') is."""
        from raspy.rules.sun import sun_is_up

        return None if self.location is None else sun_is_up(wall_ts, self.location)
