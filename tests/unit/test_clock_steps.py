"""ClockSteps: the schedulers that see one wall clock step say it once."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from raspy.rules.clock_steps import ClockSteps

UTC = ZoneInfo("UTC")


def test_a_step_is_said_by_its_first_observer_only_and_a_new_step_again() -> None:
    steps = ClockSteps(UTC)
    first = steps.first(3600.0, 1_700_003_600.0, 100.0)
    assert first == {
        "delta_s": 3600.0,
        "before": "2023-11-14T22:13:20+00:00",
        "after": "2023-11-14T23:13:20+00:00",
        "reason": (
            "the fixed times the step skipped fire once now; cron jobs and"
            " scenario time triggers go on from the new time"
        ),
    }
    # the other scheduler wakes 40 s later and measures the same step
    assert steps.first(3600.0, 1_700_003_640.0, 140.0) is None
    # the clock set back by the same hour: a step of its own, said
    back = steps.first(-3600.0, 1_700_000_060.0, 160.0)
    assert back is not None
    assert back["delta_s"] == -3600.0
    assert back["reason"] == (
        "cron jobs and scenario time triggers go on from the new time"
    )
    assert steps.first(-3600.0, 1_700_000_070.0, 170.0) is None


def test_a_wall_clock_beyond_datetime_is_said_as_a_number() -> None:
    said = ClockSteps(UTC).first(1e18, 1e18, 5.0)
    assert said is not None
    assert said["after"] == "1e+18"


def test_a_step_forward_of_more_than_three_hours_says_nothing_skipped_fires() -> None:
    said = ClockSteps(UTC).first(3 * 3600.0 + 60, 1_700_010_860.0, 100.0)
    assert said is not None
    assert said["reason"] == (
        "cron jobs and scenario time triggers go on from the new time"
    )
