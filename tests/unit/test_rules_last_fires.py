"""LastFires: which trigger is the same one when a scenario's triggers are scheduled
again (its name and spec; not its place or id), and how long a fire is kept."""

from __future__ import annotations

from raspy.rules.last_fires import LastFires
from raspy.rules.model import AtTrigger, CronTrigger, EveryTrigger, SunEvent, SunTrigger
from raspy.rules.timing_scheduler import REPEAT_GUARD_S, PastFire

SEVEN = 7 * 3600


def test_the_same_spec_of_the_same_scenario_is_the_same_trigger_whatever_its_id() -> (
    None
):
    fires = LastFires()
    fires.note("wake", AtTrigger(SEVEN, id="alarm"), 1000.0, clock_offset_s=0.0)
    assert fires.last("wake", AtTrigger(SEVEN), clock_offset_s=0.0) == PastFire(
        1000.0, 0.0
    )
    assert fires.last(
        "wake", AtTrigger(SEVEN, id="other"), clock_offset_s=0.0
    ) == PastFire(1000.0, 0.0)
    assert (
        fires.last("wake", AtTrigger(SEVEN + 60), clock_offset_s=0.0) is None
    )  # another time
    assert (
        fires.last("sleep", AtTrigger(SEVEN), clock_offset_s=0.0) is None
    )  # another scenario
    assert (
        fires.last("wake", CronTrigger("0 7 * * *"), clock_offset_s=0.0) is None
    )  # another kind


def test_a_sun_trigger_is_the_same_with_its_event_and_offset() -> None:
    fires = LastFires()
    fires.note("porch", SunTrigger(SunEvent.SUNSET, -900.0), 1000.0, clock_offset_s=0.0)
    assert fires.last(
        "porch", SunTrigger(SunEvent.SUNSET, -900.0), clock_offset_s=0.0
    ) == PastFire(1000.0, 0.0)
    assert (
        fires.last("porch", SunTrigger(SunEvent.SUNSET, -600.0), clock_offset_s=0.0)
        is None
    )
    assert (
        fires.last("porch", SunTrigger(SunEvent.SUNRISE, -900.0), clock_offset_s=0.0)
        is None
    )


def test_every_keeps_nothing_it_counts_real_time_from_its_start() -> None:
    fires = LastFires()
    fires.note("tick", EveryTrigger(60.0), 1000.0, clock_offset_s=0.0)
    assert fires.last("tick", EveryTrigger(60.0), clock_offset_s=0.0) is None


def test_the_latest_fire_is_kept_and_one_older_than_the_guard_dropped() -> None:
    fires = LastFires()
    fires.note("wake", AtTrigger(SEVEN), 1000.0, clock_offset_s=0.0)
    fires.note(
        "wake", AtTrigger(SEVEN), 900.0, clock_offset_s=0.0
    )  # a fire after a step back
    assert fires.last("wake", AtTrigger(SEVEN), clock_offset_s=0.0) == PastFire(
        1000.0, 0.0
    )
    fires.note("night", AtTrigger(0), 1000.0 + REPEAT_GUARD_S + 1, clock_offset_s=0.0)
    assert fires.last("wake", AtTrigger(SEVEN), clock_offset_s=0.0) is None
    assert fires.last("night", AtTrigger(0), clock_offset_s=0.0) == PastFire(
        1000.0 + REPEAT_GUARD_S + 1, 0.0
    )


def test_a_fire_noted_before_the_clock_was_set_back_over_the_guard_is_no_last_fire() -> (
    None
):
    """A clock five hours ahead fired `at: 12:00`; set right, the 12:00 is to come
    today. A fire noted then, still held as the last one when the scenario's
    triggers were scheduled again within three hours of it (a new version at 09:30),
    sent that 12:00 to tomorrow, though the scheduler left running fires it."""
    fires = LastFires()
    noon = 1000.0 * 86_400 + 12 * 3600
    fires.note("lunch", AtTrigger(12 * 3600), noon, clock_offset_s=500.0)
    after_small = 500.0 - REPEAT_GUARD_S + 60
    after_large = 500.0 - 5 * 3600
    assert fires.last(
        "lunch", AtTrigger(12 * 3600), clock_offset_s=after_small
    ) == PastFire(noon, 500.0)
    assert fires.last("lunch", AtTrigger(12 * 3600), clock_offset_s=after_large) is None
    # the right clock's 12:00 two days before is the last fire from then on
    two_days_back = 500.0 - 2 * 86_400
    earlier = noon - 2 * 86_400
    fires.note("lunch", AtTrigger(12 * 3600), earlier, clock_offset_s=two_days_back)
    last = fires.last("lunch", AtTrigger(12 * 3600), clock_offset_s=two_days_back)
    assert last == PastFire(earlier, two_days_back)
