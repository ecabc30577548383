"""LastFires: which trigger is the same one when a scenario's triggers are scheduled
again (its name and spec; not its place or id), and how long a fire is kept."""

from __future__ import annotations

from raspy.rules.last_fires import LastFires
from raspy.rules.model import AtTrigger, CronTrigger, EveryTrigger, SunEvent, SunTrigger
from raspy.rules.timing_scheduler import REPEAT_GUARD_S

SEVEN = 7 * 3600


def test_the_same_spec_of_the_same_scenario_is_the_same_trigger_whatever_its_id() -> (
    None
):
    fires = LastFires()
    fires.note("wake", AtTrigger(SEVEN, id="alarm"), 1000.0)
    assert fires.last("wake", AtTrigger(SEVEN)) == 1000.0
    assert fires.last("wake", AtTrigger(SEVEN, id="other")) == 1000.0
    assert fires.last("wake", AtTrigger(SEVEN + 60)) is None  # another time
    assert fires.last("sleep", AtTrigger(SEVEN)) is None  # another scenario
    assert fires.last("wake", CronTrigger("0 7 * * *")) is None  # another kind


def test_a_sun_trigger_is_the_same_with_its_event_and_offset() -> None:
    fires = LastFires()
    fires.note("porch", SunTrigger(SunEvent.SUNSET, -900.0), 1000.0)
    assert fires.last("porch", SunTrigger(SunEvent.SUNSET, -900.0)) == 1000.0
    assert fires.last("porch", SunTrigger(SunEvent.SUNSET, -600.0)) is None
    assert fires.last("porch", SunTrigger(SunEvent.SUNRISE, -900.0)) is None


def test_every_keeps_nothing_it_counts_real_time_from_its_start() -> None:
    fires = LastFires()
    fires.note("tick", EveryTrigger(60.0), 1000.0)
    assert fires.last("tick", EveryTrigger(60.0)) is None


def test_the_latest_fire_is_kept_and_one_older_than_the_guard_dropped() -> None:
    fires = LastFires()
    fires.note("wake", AtTrigger(SEVEN), 1000.0)
    fires.note("wake", AtTrigger(SEVEN), 900.0)  # a fire after a step back
    assert fires.last("wake", AtTrigger(SEVEN)) == 1000.0
    fires.note("night", AtTrigger(0), 1000.0 + REPEAT_GUARD_S + 1)
    assert fires.last("wake", AtTrigger(SEVEN)) is None
    assert fires.last("night", AtTrigger(0)) == 1000.0 + REPEAT_GUARD_S + 1
