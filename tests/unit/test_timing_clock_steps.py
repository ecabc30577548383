"""TimeScheduler when the wall clock steps, as on a Pi without an RTC: it boots at 1970
or at the time saved at the last shutdown, then NTP steps it by days, forward or back.

What a household expects: no flood of missed fires after a step forward (none is made
up after a step of days; after one of up to 3 h, a fixed time skipped fires once:
test_timing_step_forward), no trigger stalled until the old time comes back after a
step back, and a time already fired not fired again after a correction of a few
minutes.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from raspy.rules.model import AtTrigger, CronTrigger, EveryTrigger, SunEvent, SunTrigger
from raspy.rules.timing import ClockJumped, Fired, SunLocation, TimeScheduler
from raspy.rules.timing_scheduler import REPEAT_GUARD_S, PastFire

BERLIN = ZoneInfo("Europe/Berlin")
HOME = SunLocation(52.52, 13.40, BERLIN)
SEVEN = 7 * 3600


def _berlin(day: int, hour: int, minute: int = 0) -> float:
    """An instant in Berlin in June 2026 (summer time all month)."""
    return datetime(2026, 6, day, hour, minute, tzinfo=BERLIN).timestamp()


def _household(wall: float, mono: float) -> TimeScheduler:
    scheduler = TimeScheduler(BERLIN, HOME)
    scheduler.add("wake", AtTrigger(SEVEN), wall, mono)
    scheduler.add("quarter", CronTrigger("*/15 * * * *"), wall, mono)
    scheduler.add("tick", EveryTrigger(600.0), wall, mono)
    scheduler.add("dusk", SunTrigger(SunEvent.SUNSET, -900.0), wall, mono)
    return scheduler


def test_a_boot_at_1970_then_ntp_fires_at_most_what_was_due_and_no_missed_slot() -> (
    None
):
    """The 56 years skipped are not made up: one ClockJumped, the keys due by the old
    clock (the tick 10 min after boot, the quarter at 01:15 in 1970) fire once, then
    every key waits for its next instant after the true time."""
    boot_wall, boot_mono = 0.0, 12.0  # 01:00 in Berlin on 1 Jan 1970
    scheduler = _household(boot_wall, boot_mono)
    assert scheduler.due(boot_wall + 60, boot_mono + 60) == []
    true_now = _berlin(10, 9, 5)
    mono = boot_mono + 60 * 16  # 16 min after boot: the 01:15 quarter was due
    outputs = scheduler.due(true_now, mono)
    assert outputs == [
        ClockJumped(true_now - (boot_wall + 60 * 16)),
        Fired("tick", 600.0),
        Fired("quarter", 900.0),
    ]
    assert scheduler.next_wall("wake") == _berlin(11, 7)
    assert scheduler.next_wall("quarter") == _berlin(10, 9, 15)
    assert scheduler.next_wall("tick") == true_now + 240  # 20 real min after boot
    dusk = scheduler.next_wall("dusk")
    assert dusk is not None
    assert _berlin(10, 21) < dusk < _berlin(10, 22)  # sunset 21:3x, minus 15 min
    # After the step, each fires once at its time, and nothing else fires.
    assert scheduler.due(_berlin(10, 9, 15), mono + 600) == [
        Fired("tick", true_now + 240),
        Fired("quarter", _berlin(10, 9, 15)),
    ]


def test_a_clock_days_ahead_corrected_back_does_not_stall_the_triggers() -> None:
    """A Pi booted at a saved time three days ahead fires 07:00 by that clock; NTP
    then steps it back. The real 07:00 of tomorrow still fires, and the quarter and
    every-10-minutes triggers go on at once, not in three days."""
    wrong, mono = _berlin(13, 6, 58), 100.0
    scheduler = _household(wrong, mono)
    outputs = scheduler.due(_berlin(13, 7), mono + 120)
    assert outputs == [Fired("wake", _berlin(13, 7)), Fired("quarter", _berlin(13, 7))]
    true_now, mono = _berlin(10, 6, 2), mono + 180  # NTP: it is the 10th at 06:02
    outputs = scheduler.due(true_now, mono)
    assert outputs == [ClockJumped(true_now - (_berlin(13, 7) + 60))]
    assert scheduler.next_wall("wake") == _berlin(10, 7)  # today's, not the 14th's
    assert scheduler.next_wall("quarter") == _berlin(10, 6, 15)
    assert scheduler.next_wall("tick") == true_now + 420  # 600 real s after the add
    dusk = scheduler.next_wall("dusk")
    assert dusk is not None
    assert _berlin(10, 21) < dusk < _berlin(10, 22)


def test_a_correction_of_minutes_back_never_fires_the_same_time_twice() -> None:
    """07:00 fired, then NTP steps the clock back 5 minutes: 07:00 comes round again on
    the wall clock, but it is not fired again; `every` keeps its real cadence."""
    start, mono = _berlin(10, 6, 55), 100.0
    scheduler = _household(start, mono)
    assert scheduler.due(_berlin(10, 7), mono + 300) == [
        Fired("wake", _berlin(10, 7)),
        Fired("quarter", _berlin(10, 7)),
    ]
    back = _berlin(10, 6, 55)
    assert scheduler.due(back, mono + 301) == [ClockJumped(-301.0)]
    assert scheduler.next_wall("wake") == _berlin(11, 7)
    assert scheduler.next_wall("quarter") == _berlin(10, 7, 15)
    assert scheduler.next_wall("tick") == back + 299  # 600 real s after the add
    # Walking the wall clock past 07:00 again: only the tick fires.
    fired = scheduler.due(_berlin(10, 7, 5), mono + 301 + 600)
    assert fired == [Fired("tick", back + 299)]


def test_the_guard_against_repeats_covers_a_step_back_of_up_to_three_hours() -> None:
    """A daily time fired less than REPEAT_GUARD_S ahead of the corrected clock is not
    fired again; one fired further ahead is taken as fired by a wrong clock."""
    for step_s, expected in (
        (REPEAT_GUARD_S - 60, _berlin(11, 7)),
        (REPEAT_GUARD_S + 60, _berlin(10, 7)),
    ):
        scheduler = TimeScheduler(BERLIN)
        scheduler.add("wake", AtTrigger(SEVEN), _berlin(10, 6, 59), 0.0)
        assert scheduler.due(_berlin(10, 7), 60.0) == [Fired("wake", _berlin(10, 7))]
        outputs = scheduler.due(_berlin(10, 7) + 1 - step_s, 61.0)
        assert outputs == [ClockJumped(-step_s)]
        assert scheduler.next_wall("wake") == expected


def test_a_step_back_of_more_than_three_hours_forgets_what_the_wrong_clock_fired() -> (
    None
):
    """A clock five hours ahead fired the daily 08:00 (really 03:00); NTP sets it
    right at 12:02, to 07:02. The docs take such a step for the correction of a
    wrong clock, after which the triggers go on from the new time: the 08:00 comes
    today. It waited for tomorrow: the 08:00 fired lay less than three hours ahead
    of the new time, and the guard held it as fired."""
    scheduler = TimeScheduler(BERLIN)
    scheduler.add("wake", AtTrigger(8 * 3600), _berlin(10, 7, 59), 0.0)
    assert scheduler.due(_berlin(10, 8), 60.0) == [Fired("wake", _berlin(10, 8))]
    mono = 60.0 + 4 * 3600 + 120
    assert scheduler.due(_berlin(10, 12, 2), mono) == []
    step_s = 5 * 3600.0
    outputs = scheduler.due(_berlin(10, 12, 2) + 1 - step_s, mono + 1)
    assert outputs == [ClockJumped(-step_s)]
    assert scheduler.next_wall("wake") == _berlin(10, 8)
    assert scheduler.due(_berlin(10, 8), mono + 1 + 58 * 60 - 1) == [
        Fired("wake", _berlin(10, 8))
    ]


def test_steps_back_that_add_up_to_more_than_three_hours_forget_the_fire_too() -> None:
    """Two steps back of 1 h 45 each (an RTC read, then NTP) set right a clock
    3 h 30 fast that had fired the daily 08:00 (really 04:30): as one step of
    3 h 30 does, and as LastFires does for a trigger scheduled again, the 08:00 comes
    today. It waited for tomorrow: each step alone was under three hours."""
    scheduler = TimeScheduler(BERLIN)
    scheduler.add("wake", AtTrigger(8 * 3600), _berlin(10, 7, 59), 0.0)
    assert scheduler.due(_berlin(10, 8), 60.0) == [Fired("wake", _berlin(10, 8))]
    mono = 60.0 + 3600.0
    step_s = -(3600.0 + 45 * 60)
    assert scheduler.due(_berlin(10, 9) + step_s, mono) == [ClockJumped(step_s)]
    assert scheduler.next_wall("wake") == _berlin(11, 8)  # 45 min off: held
    outputs = scheduler.due(_berlin(10, 9) + 2 * step_s + 60, mono + 60)
    assert outputs == [ClockJumped(step_s)]
    assert scheduler.next_wall("wake") == _berlin(10, 8)


def test_a_fire_says_the_offset_of_the_clock_it_fired_by() -> None:
    """The fires a step brings (due by the old clock) carry that clock's offset
    (wall - mono), those an add() that met the step holds too, so LastFires notes
    them as made before the step; a fire due by the clock as it is, in the same
    due(), carries the new one (the offset of the due() they came out of was taken
    for all of them: a fire by the new clock beside held ones was noted as made
    before the step)."""
    scheduler = TimeScheduler(BERLIN)
    scheduler.add("wake", AtTrigger(SEVEN), _berlin(10, 6, 59), 0.0)
    step_s = -5 * 3600.0
    # 90 s on, the clock set back 5 h (07:00:30 to 02:00:30); an import meets it
    scheduler.add("early", AtTrigger(2 * 3600 + 40), _berlin(10, 2) + 30, 90.0)
    outputs = scheduler.due(_berlin(10, 2) + 40, 100.0)
    assert outputs == [
        ClockJumped(step_s),
        Fired("wake", _berlin(10, 7)),
        Fired("early", _berlin(10, 2) + 40),
    ]
    offsets = [o.clock_offset_s for o in outputs if isinstance(o, Fired)]
    assert offsets == [_berlin(10, 6, 59) - 0.0, _berlin(10, 2) + 40 - 100.0]


def _fired_at_seven() -> TimeScheduler:
    """A daily 07:00 fired on June 10 by a clock offset `_berlin(10, 6, 59)` from
    the monotonic one."""
    scheduler = TimeScheduler(BERLIN)
    scheduler.add("wake", AtTrigger(SEVEN), _berlin(10, 6, 59), 0.0)
    assert scheduler.due(_berlin(10, 7), 60.0) == [Fired("wake", _berlin(10, 7))]
    return scheduler


def test_slews_back_count_with_the_steps_as_in_last_fires() -> None:
    """An hour after 07:00 fired, slews back (each under the jump threshold) of
    30 min in all, then a step back of 2 h 43: the clock was set back 3 h 13 since
    the fire, which LastFires takes for a wrong clock set right, so the 07:00 comes
    today. The scheduler added up the steps alone (2 h 43) and held it: a core
    restarted then would have fired it, one left running would not."""
    scheduler = _fired_at_seven()
    wall, mono = _berlin(10, 8), 60.0 + 3600.0
    assert scheduler.due(wall, mono) == []
    for _ in range(2000):
        wall -= 0.9
        assert scheduler.due(wall, mono) == []
    step_s = -9800.0
    assert scheduler.due(wall + step_s, mono) == [ClockJumped(step_s)]
    assert scheduler.next_wall("wake") == _berlin(10, 7)


@pytest.mark.parametrize("given", [False, True], ids=["held", "from_last_fires"])
def test_steps_back_on_both_sides_of_an_add_add_up(given: bool) -> None:
    """07:00 fired; at 08:00 the clock is set back 2 h, the scenario is imported
    again (the key added again, its last fire held or given as LastFires keeps it),
    and the clock is set back 2 h more: 4 h since the fire, a wrong clock set right,
    so the 07:00 comes today, as LastFires says. The add began the count of steps
    again, and 07:00 waited for tomorrow."""
    scheduler = _fired_at_seven()
    offset_at_fire = _berlin(10, 6, 59)
    mono = 60.0 + 3600.0
    step_s = -7200.0
    assert scheduler.due(_berlin(10, 8) + step_s, mono) == [ClockJumped(step_s)]
    assert scheduler.next_wall("wake") == _berlin(11, 7)
    if given:
        assert scheduler.remove("wake")
    last = PastFire(_berlin(10, 7), offset_at_fire) if given else None
    scheduler.add("wake", AtTrigger(SEVEN), _berlin(10, 6), mono, last_fire=last)
    assert scheduler.next_wall("wake") == _berlin(11, 7)
    outputs = scheduler.due(_berlin(10, 6, 10) + step_s, mono + 600)
    assert outputs == [ClockJumped(step_s)]
    assert scheduler.next_wall("wake") == _berlin(10, 7)


@pytest.mark.parametrize(
    ("forward_s", "back_s", "expected"),
    [
        (7200.0, -4 * 3600.0, _berlin(11, 7)),  # 2 h back in all: held
        (3600.0, -4.5 * 3600.0, _berlin(10, 7)),  # 3 h 30 back in all: forgotten
    ],
    ids=["net_two_hours_back", "net_three_and_a_half_hours_back"],
)
def test_a_step_forward_takes_back_as_much_of_a_later_step_back(
    forward_s: float, back_s: float, expected: float
) -> None:
    """Half an hour after 07:00 fired, the clock steps forward, then back: what
    counts is how far it was set back in all since the fire."""
    scheduler = _fired_at_seven()
    wall, mono = _berlin(10, 7, 30), 60.0 + 1800.0
    assert scheduler.due(wall + forward_s, mono) == [ClockJumped(forward_s)]
    wall, mono = wall + forward_s + 600, mono + 600
    assert scheduler.due(wall + back_s, mono) == [ClockJumped(back_s)]
    assert scheduler.next_wall("wake") == expected
