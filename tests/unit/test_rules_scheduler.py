"""TimeScheduler (issue 11): one heap, no late fires after downtime, clock jumps
reported, no key fired twice after a small step back; both clocks passed in."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from raspy.rules.model import AtTrigger, CronTrigger, EveryTrigger, SunEvent, SunTrigger
from raspy.rules.timing import ClockJumped, Fired, SunLocation, TimeScheduler
from raspy.rules.timing_scheduler import PastFire

UTC_ZONE = ZoneInfo("UTC")
T0 = datetime(2026, 6, 1, 10, 0, 30, tzinfo=UTC).timestamp()  # wall at the start
M0 = 500.0  # monotonic at the start


def _minute(n: int) -> float:
    """The wall instant of minute `n` after 10:00 on the start day."""
    return datetime(2026, 6, 1, 10, 0, tzinfo=UTC).timestamp() + 60 * n


def test_the_first_fire_is_computed_from_now_and_mapped_to_the_monotonic_clock() -> (
    None
):
    scheduler = TimeScheduler(UTC_ZONE, max_sleep_s=3600)
    assert scheduler.next_deadline_mono() is None
    first = scheduler.add("job", CronTrigger("*/5 * * * *"), T0, M0)
    assert first == _minute(5)
    assert scheduler.next_deadline_mono() == M0 + (_minute(5) - T0)
    assert scheduler.due(_minute(5) - 1, M0 + (_minute(5) - 1 - T0)) == []
    now = _minute(5)
    assert scheduler.due(now, M0 + (now - T0)) == [Fired("job", _minute(5))]
    assert scheduler.next_wall("job") == _minute(10)


def test_a_slot_passed_while_down_is_not_fired_late() -> None:
    """Issue 11: jobs fired while raspyd was down are not fired late."""
    last = _minute(-60)  # fired an hour ago, then the daemon was down
    plain = TimeScheduler(UTC_ZONE)
    assert plain.add(
        "job", CronTrigger("0 * * * *"), T0, M0, last_fire=PastFire(last, T0 - M0)
    ) == (_minute(60))
    assert plain.due(T0, M0) == []


def test_a_late_wake_up_fires_an_overdue_key_once_and_keeps_its_grid() -> None:
    scheduler = TimeScheduler(UTC_ZONE, max_sleep_s=3600)
    scheduler.add("tick", EveryTrigger(60.0), T0, M0)
    late = T0 + 330  # five slots passed
    assert scheduler.due(late, M0 + 330) == [Fired("tick", T0 + 60)]
    assert scheduler.next_wall("tick") == T0 + 360


def test_keys_due_at_the_same_instant_fire_in_the_order_they_were_added() -> None:
    scheduler = TimeScheduler(UTC_ZONE)
    for key in ("b", "a", "c"):
        scheduler.add(key, AtTrigger(11 * 3600), T0, M0)
    eleven = _minute(60)
    assert scheduler.due(eleven, M0 + eleven - T0) == [
        Fired("b", eleven),
        Fired("a", eleven),
        Fired("c", eleven),
    ]


def test_a_forward_jump_is_reported_and_skipped_slots_are_not_fired_late() -> None:
    """A Pi without an RTC boots in 1970; NTP then steps the clock to today."""
    boot_wall = 60.0  # 1970-01-01 00:01 UTC
    scheduler = TimeScheduler(UTC_ZONE)
    scheduler.add("daily", CronTrigger("0 7 * * *"), boot_wall, M0)
    scheduler.add("tick", EveryTrigger(600.0), boot_wall, M0)
    assert scheduler.due(boot_wall + 10, M0 + 10) == []
    now_wall, now_mono = T0, M0 + 20
    assert scheduler.due(now_wall, now_mono) == [ClockJumped(T0 - boot_wall - 20)]
    assert (
        scheduler.next_wall("daily")
        == datetime(2026, 6, 2, 7, 0, tzinfo=UTC).timestamp()
    )
    # `every` follows real time: its slot 600 s after the add (wall 660, 580 s ahead
    # of the clock just before the step) moves with the step.
    assert scheduler.next_wall("tick") == now_wall + 580
    assert scheduler.next_deadline_mono() == now_mono + 60  # the cap: jump checks


def test_a_key_due_before_a_forward_jump_still_fires_once() -> None:
    scheduler = TimeScheduler(UTC_ZONE)
    scheduler.add("job", CronTrigger("* * * * *"), T0, M0)
    # The shell woke 40 s after the 10:01 slot, and the clock stepped +3 h meanwhile.
    mono = M0 + 70
    wall = T0 + 70 + 3 * 3600
    assert scheduler.due(wall, mono) == [
        ClockJumped(3 * 3600),
        Fired("job", _minute(1)),
    ]
    assert scheduler.next_wall("job") == _minute(3 * 60 + 2)


def test_a_backward_jump_never_fires_the_same_instant_twice() -> None:
    scheduler = TimeScheduler(UTC_ZONE)
    scheduler.add("hourly", CronTrigger("0 * * * *"), T0, M0)
    eleven = _minute(60)
    assert scheduler.due(eleven, M0 + eleven - T0) == [Fired("hourly", eleven)]
    # The clock steps back 90 minutes: 10:00 and 11:00 come round again.
    back_wall, back_mono = eleven - 5400 + 1, M0 + eleven - T0 + 1
    assert scheduler.due(back_wall, back_mono) == [ClockJumped(-5400.0)]
    assert scheduler.next_wall("hourly") == _minute(120)
    for minutes in (30, 90, 119):  # past 10:00 and 11:00 again: silent
        wall = back_wall + 60 * minutes
        assert scheduler.due(wall, back_mono + 60 * minutes) == []
    assert scheduler.due(_minute(120), back_mono + _minute(120) - back_wall) == [
        Fired("hourly", _minute(120))
    ]


def test_a_job_never_fired_is_recomputed_earlier_after_a_backward_jump() -> None:
    scheduler = TimeScheduler(UTC_ZONE)
    scheduler.add("at", AtTrigger(12 * 3600), T0, M0)  # 12:00 today
    back = T0 - 86_400  # a day back, before any fire
    assert scheduler.due(back, M0 + 1) == [ClockJumped(-86_401.0)]
    assert scheduler.next_wall("at") == _minute(120) - 86_400


def test_a_step_below_the_threshold_is_not_a_jump() -> None:
    scheduler = TimeScheduler(UTC_ZONE, jump_threshold_s=1.0)
    scheduler.add("job", CronTrigger("0 12 * * *"), T0, M0)
    assert scheduler.due(T0 + 10.9, M0 + 10) == []
    assert scheduler.due(T0 + 21.8, M0 + 20) == []  # 0.9 s each time, never 1.0


def test_an_every_key_keeps_real_time_through_small_steps_that_add_up() -> None:
    """Steps under the jump threshold are not jumps, but `every` follows real time
    through them too: three of -0.5 s had made a 45 s grid fire 1.5 s late."""
    scheduler = TimeScheduler(UTC_ZONE, jump_threshold_s=1.0)
    scheduler.add("job", EveryTrigger(45.0), T0, M0)
    first = scheduler.next_wall("job")
    assert first is not None
    real_s = first - T0  # real seconds until the first fire
    for n in (1, 2, 3):
        assert scheduler.due(T0 - 0.5 * n, M0) == []  # the wall clock set back
    assert scheduler.next_deadline_mono() == M0 + real_s
    due_wall = T0 - 1.5 + real_s
    assert scheduler.due(due_wall, M0 + real_s) == [Fired("job", due_wall)]


def test_sleeps_are_capped_so_a_jump_is_noticed_while_waiting() -> None:
    scheduler = TimeScheduler(UTC_ZONE, max_sleep_s=60.0)
    scheduler.add("yearly", CronTrigger("@yearly"), T0, M0)
    assert scheduler.next_deadline_mono() == M0 + 60
    scheduler.due(T0 + 60, M0 + 60)
    assert scheduler.next_deadline_mono() == M0 + 120


def test_remove_and_replace_keys() -> None:
    scheduler = TimeScheduler(UTC_ZONE)
    scheduler.add("a", CronTrigger("*/5 * * * *"), T0, M0)
    scheduler.add("b", CronTrigger("*/5 * * * *"), T0, M0)
    scheduler.add("b", CronTrigger("*/10 * * * *"), T0, M0)  # replaced
    assert scheduler.remove("a")
    assert not scheduler.remove("a")
    assert "a" not in scheduler
    assert len(scheduler) == 1
    ten = _minute(10)
    assert scheduler.due(_minute(5), M0 + _minute(5) - T0) == []
    assert scheduler.due(ten, M0 + ten - T0) == [Fired("b", ten)]
    for n in range(100):  # add/remove churn keeps the heap small
        scheduler.add(f"k{n}", EveryTrigger(5.0), ten, M0 + ten - T0)
        scheduler.remove(f"k{n}")
    assert scheduler.next_wall("b") == _minute(20)


def test_a_trigger_that_cannot_be_scheduled_changes_nothing() -> None:
    scheduler = TimeScheduler(UTC_ZONE)  # no location
    with pytest.raises(ValueError, match="sun: no location"):
        scheduler.add("sun", SunTrigger(SunEvent.SUNSET), T0, M0)
    with pytest.raises(ValueError, match="expected 5 fields"):
        scheduler.add("cron", CronTrigger("0 7 * *"), T0, M0)
    assert len(scheduler) == 0
    assert scheduler.next_deadline_mono() is None


def test_a_sun_trigger_months_away_at_the_pole_only_wakes_for_jump_checks() -> None:
    """Near the pole the sun sets once a year, at the September equinox: the key waits
    for it (no busy loop, no crash); the shell only wakes for the jump checks."""
    pole = SunLocation(89.9, 0.0, UTC_ZONE)
    scheduler = TimeScheduler(UTC_ZONE, pole)
    midsummer = datetime(2026, 6, 21, tzinfo=UTC).timestamp()
    first = scheduler.add("set", SunTrigger(SunEvent.SUNSET), midsummer, M0)
    assert first is not None
    assert datetime.fromtimestamp(first, UTC).date() == date(2026, 9, 24)
    assert scheduler.next_deadline_mono() == M0 + 60  # only the jump check
    assert scheduler.due(midsummer + 60, M0 + 60) == []


def test_a_key_overdue_when_the_clock_steps_back_fires_once() -> None:
    scheduler = TimeScheduler(UTC_ZONE)
    scheduler.add("tick", EveryTrigger(5.0), T0, M0)
    # 10 s pass, two slots were due, and the clock stepped back a day meanwhile.
    outputs = scheduler.due(T0 + 10 - 86_400, M0 + 10)
    assert outputs == [ClockJumped(-86_400.0), Fired("tick", T0 + 5)]
    # `every` follows real time: its grid moves with the step, and the slot at T0 + 10
    # (now, folded into that late fire) is done; the next one is 5 real seconds on.
    assert scheduler.next_wall("tick") == T0 + 15 - 86_400


def test_a_wall_clock_beyond_the_calendar_parks_calendar_keys_until_it_returns() -> (
    None
):
    scheduler = TimeScheduler(UTC_ZONE)
    scheduler.add("cron", CronTrigger("* * * * *"), T0, M0)
    scheduler.add("tick", EveryTrigger(5.0), T0, M0)
    absurd = 1e12  # year 33658: no datetime for it
    assert scheduler.due(absurd, M0 + 1) == [ClockJumped(absurd - T0 - 1)]
    assert scheduler.next_wall("cron") is None
    assert scheduler.next_wall("tick") == absurd + 4  # T0 + 5, moved by the step
    assert scheduler.due(T0 + 2, M0 + 2) == [ClockJumped(T0 + 1 - absurd)]
    assert scheduler.next_wall("cron") == _minute(1)


def test_a_key_added_after_an_unseen_step_back_is_not_fired_by_that_step() -> None:
    """The clock is set back an hour, and a scenario with `at: 09:30` is imported
    before the scheduler's next wake-up: the step's firing of what was due by the
    old time (10:00) took the new key too, at 09:00."""
    scheduler = TimeScheduler(UTC_ZONE, jump_threshold_s=1.0)
    ten = datetime(2026, 6, 1, 10, 0, tzinfo=UTC).timestamp()
    scheduler.add("hourly", CronTrigger("0 * * * *"), ten - 1800, M0)
    assert scheduler.due(ten, M0 + 1800) == [Fired("hourly", ten)]
    nine = ten - 3600
    assert scheduler.add("new", AtTrigger(9 * 3600 + 1800), nine + 10, M0 + 1810) == (
        nine + 1800
    )
    assert scheduler.next_deadline_mono() == M0 + 1810  # the step's news: at once
    outputs = scheduler.due(nine + 20, M0 + 1820)
    assert outputs[0] == ClockJumped(-3600.0)
    assert [o for o in outputs if isinstance(o, Fired)] == []
    assert scheduler.next_wall("new") == nine + 1800
    assert scheduler.due(nine + 1800, M0 + 3600) == [Fired("new", nine + 1800)]


def test_a_key_removed_after_an_add_noticed_a_step_does_not_fire() -> None:
    """add() keeps what a step it noticed fired for the next due(); a key removed
    in between (a scenario replaced in the same turn of the core) still came out,
    and the new version's actor was told a fire of the old one's trigger."""
    scheduler = TimeScheduler(UTC_ZONE, jump_threshold_s=1.0)
    scheduler.add("old#0", CronTrigger("*/5 * * * *"), T0, M0)
    stepped = _minute(5) + 30 + 3600  # 10:05:30 by the monotonic clock, an hour on
    scheduler.add("other", CronTrigger("0 0 * * *"), stepped, M0 + 300)
    assert scheduler.remove("old#0")
    outputs = scheduler.due(stepped + 1, M0 + 301)
    assert outputs == [ClockJumped(3600.0)]
