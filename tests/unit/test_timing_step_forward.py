"""TimeScheduler when the wall clock steps forward by a little: NTP correcting a clock
that drifted while the network was down, by seconds or minutes.

As Debian's cron does, a step forward of up to 3 h fires at once, once, each calendar
trigger whose time it skipped (cron at fixed times, `at:`, sun); a cron job with `*`
in its minute or hour goes on at the new time, as `every:` does; a larger step is a
new time (a Pi without an RTC set right at boot), after which nothing skipped fires.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from raspy.rules.model import AtTrigger, CronTrigger, EveryTrigger, SunEvent, SunTrigger
from raspy.rules.timing import ClockJumped, Fired, SunLocation, TimeScheduler
from raspy.rules.timing_scheduler import REPEAT_GUARD_S, PastFire, SchedulerOutput

BERLIN = ZoneInfo("Europe/Berlin")
HOME = SunLocation(52.52, 13.40, BERLIN)
SEVEN = 7 * 3600
MONO = 1000.0  # the monotonic clock when the heating is scheduled


def _berlin(day: int, hour: int, minute: int = 0, second: int = 0) -> float:
    """An instant in Berlin in June 2026 (summer time all month)."""
    return datetime(2026, 6, day, hour, minute, second, tzinfo=BERLIN).timestamp()


def _heating(now_wall: float) -> TimeScheduler:
    """A daily `at: "07:00"` heating, scheduled at `now_wall` (monotonic MONO)."""
    scheduler = TimeScheduler(BERLIN, HOME)
    scheduler.add("heat", AtTrigger(SEVEN), now_wall, MONO)
    return scheduler


def _stepped(
    scheduler: TimeScheduler, start: float, after_s: float, step_s: float
) -> list[SchedulerOutput]:
    """due() `after_s` real seconds after `start`, the clock stepped by `step_s`."""
    return scheduler.due(start + after_s + step_s, MONO + after_s)


def test_a_two_second_step_across_seven_fires_the_heating_at_once() -> None:
    """NTP steps the clock 2 s forward at 06:59:59: 07:00 was never reached by the
    old clock nor seen by the new one. It fires at once, for 07:00, then waits for
    tomorrow. It was skipped for the day."""
    start = _berlin(10, 6, 59, 59)
    scheduler = _heating(start - 60)
    assert scheduler.due(start, MONO + 60) == []
    outputs = scheduler.due(start + 2, MONO + 60)
    assert outputs == [ClockJumped(2.0), Fired("heat", _berlin(10, 7))]
    fired = outputs[1]
    assert isinstance(fired, Fired)
    assert fired.clock_offset_s == start + 2 - (MONO + 60)  # the new clock's
    assert scheduler.next_wall("heat") == _berlin(11, 7)
    assert scheduler.due(_berlin(10, 7, 5), MONO + 60 + 299) == []


def test_a_twenty_minute_step_across_seven_fires_the_heating_once() -> None:
    start = _berlin(10, 6, 50)
    scheduler = _heating(start)
    outputs = _stepped(scheduler, start, 30.0, 20 * 60.0)
    assert outputs == [ClockJumped(1200.0), Fired("heat", _berlin(10, 7))]
    assert scheduler.next_wall("heat") == _berlin(11, 7)


def test_a_step_of_two_hours_fifty_nine_fires_it_and_one_of_three_hours_one_not() -> (
    None
):
    """The bound is REPEAT_GUARD_S, as for a step back: past it, the clock was wrong
    (a Pi booted at a saved time), and its new time is taken as a new start."""
    start = _berlin(10, 6, 30)
    for step_s, expected in (
        (2 * 3600 + 59 * 60.0, [Fired("heat", _berlin(10, 7))]),
        (3 * 3600 + 60.0, []),
    ):
        scheduler = _heating(start)
        outputs = _stepped(scheduler, start, 10.0, step_s)
        assert outputs == [ClockJumped(step_s), *expected]
        assert scheduler.next_wall("heat") == _berlin(11, 7)
    assert REPEAT_GUARD_S == 3 * 3600


def test_a_key_whose_times_were_skipped_twice_fires_once_for_the_last() -> None:
    """`0 7,8 * * *` with a step from 06:30 to 08:30: one fire (no flood), for
    08:00, the last time skipped, so that a step back of up to 3 h after it does
    not fire 08:00 again."""
    start = _berlin(10, 6, 30)
    scheduler = TimeScheduler(BERLIN)
    scheduler.add("heat", CronTrigger("0 7,8 * * *"), start, MONO)
    outputs = _stepped(scheduler, start, 5.0, 2 * 3600.0)
    assert outputs == [ClockJumped(7200.0), Fired("heat", _berlin(10, 8))]
    assert scheduler.next_wall("heat") == _berlin(11, 7)
    back = scheduler.due(_berlin(10, 7, 45), MONO + 10)
    assert back[0] == ClockJumped(_berlin(10, 7, 45) - (_berlin(10, 8, 30) + 10))
    assert scheduler.next_wall("heat") == _berlin(11, 7)


def test_a_cron_job_that_follows_the_clock_and_every_are_not_caught_up() -> None:
    """`*/15 * * * *` and `0 * * * *` go on at the new time (as on the spring day's
    gap); `every:` follows real time and is not touched by a step."""
    start = _berlin(10, 6, 50)
    scheduler = TimeScheduler(BERLIN)
    scheduler.add("quarter", CronTrigger("*/15 * * * *"), start, MONO)
    scheduler.add("hourly", CronTrigger("0 * * * *"), start, MONO)
    scheduler.add("tick", EveryTrigger(600.0), start, MONO)
    scheduler.add("fixed", CronTrigger("0 7 * * *"), start, MONO)
    outputs = _stepped(scheduler, start, 60.0, 20 * 60.0)
    assert outputs == [ClockJumped(1200.0), Fired("fixed", _berlin(10, 7))]
    assert scheduler.next_wall("quarter") == _berlin(10, 7, 15)
    assert scheduler.next_wall("hourly") == _berlin(10, 8)
    assert scheduler.next_wall("tick") == start + 600 + 1200  # 600 real s on


def test_a_sun_trigger_skipped_by_a_step_fires_once() -> None:
    """A sunset trigger the step went over fires at once, for its instant."""
    start = _berlin(10, 18)
    scheduler = TimeScheduler(BERLIN, HOME)
    sunset = scheduler.add("dusk", SunTrigger(SunEvent.SUNSET), start, MONO)
    assert sunset is not None
    before = sunset - 600
    assert scheduler.due(before, MONO + before - start) == []
    outputs = scheduler.due(before + 1200, MONO + before - start + 1)
    assert outputs == [ClockJumped(1199.0), Fired("dusk", sunset)]
    upcoming = scheduler.next_wall("dusk")
    assert upcoming is not None
    assert sunset + 86_000 < upcoming < sunset + 86_800


def test_a_key_due_by_the_old_clock_fires_once_for_it_and_not_again() -> None:
    """What was due before the step fires for its time, and counts as the key's fire
    of that wake-up: `0 7,8 * * *` woken late at 07:00:30 by the old clock, which
    stepped an hour meanwhile, fires 07:00 and not 08:00 too."""
    start = _berlin(10, 6, 59)
    scheduler = TimeScheduler(BERLIN)
    scheduler.add("heat", CronTrigger("0 7,8 * * *"), start, MONO)
    outputs = _stepped(scheduler, start, 90.0, 3600.0)
    assert outputs == [ClockJumped(3600.0), Fired("heat", _berlin(10, 7))]
    assert scheduler.next_wall("heat") == _berlin(11, 7)


def test_a_caught_up_heating_is_not_fired_again_by_a_step_back() -> None:
    """07:00 caught up by a step of 20 minutes, then the clock set back 5 minutes:
    no second 07:00 today; nor after the key is scheduled again with its last fire
    as LastFires keeps it (a core restart right after)."""
    start = _berlin(10, 6, 50)
    scheduler = _heating(start)
    outputs = _stepped(scheduler, start, 30.0, 1200.0)
    fired = outputs[-1]
    assert isinstance(fired, Fired)
    assert fired == Fired("heat", _berlin(10, 7))
    back = _berlin(10, 6, 56)  # 07:11 set back a quarter of an hour
    assert scheduler.due(back, MONO + 60) == [ClockJumped(-900.0)]
    assert scheduler.next_wall("heat") == _berlin(11, 7)
    assert scheduler.due(_berlin(10, 7, 1), MONO + 60 + 300) == []
    again = TimeScheduler(BERLIN)
    last = PastFire(fired.scheduled_wall_ts, fired.clock_offset_s)
    again.add("heat", AtTrigger(SEVEN), back + 1, MONO + 61, last_fire=last)
    assert again.next_wall("heat") == _berlin(11, 7)


def test_a_key_added_after_an_unseen_step_forward_is_not_caught_up() -> None:
    """An import that meets the step first (add() handles it): the keys already
    there are caught up (their fires wait for the next due()), the new one is
    computed from the new time."""
    start = _berlin(10, 6, 50)
    scheduler = _heating(start)
    stepped = start + 30 + 1200
    scheduler.add("new", AtTrigger(SEVEN), stepped, MONO + 30)
    assert scheduler.next_wall("new") == _berlin(11, 7)
    outputs = scheduler.due(stepped + 1, MONO + 31)
    assert outputs == [ClockJumped(1200.0), Fired("heat", _berlin(10, 7))]


def test_a_step_over_the_spring_gap_catches_up_a_fixed_time_it_moved() -> None:
    """On the spring day (Berlin, 29 March 2026: 02:00 is 03:00) `30 2 * * *` fires
    at the gap's end; a step of 20 minutes from 01:58 over it fires it at once,
    for 03:00. `30 * * * *` leaves 02:30 to its 03:30 (not skipped), and
    `*/15 * * * *`, which follows the clock, goes on at 03:30."""
    before = datetime(2026, 3, 29, 1, 58, tzinfo=BERLIN).timestamp()
    gap_end = datetime(2026, 3, 29, 3, 0, tzinfo=BERLIN).timestamp()
    assert gap_end - before == 120
    scheduler = TimeScheduler(BERLIN)
    scheduler.add("fixed", CronTrigger("30 2 * * *"), before, MONO)
    scheduler.add("half", CronTrigger("30 * * * *"), before, MONO)
    scheduler.add("quarter", CronTrigger("*/15 * * * *"), before, MONO)
    assert scheduler.next_wall("fixed") == gap_end
    assert scheduler.next_wall("quarter") == gap_end
    outputs = _stepped(scheduler, before, 60.0, 1200.0)  # 01:59 to 03:19
    assert outputs == [ClockJumped(1200.0), Fired("fixed", gap_end)]
    assert scheduler.next_wall("half") == gap_end + 1800
    assert scheduler.next_wall("quarter") == gap_end + 1800
