"""The cron actor and steps of the wall clock (NTP setting it right): a jump is
logged and skipped slots are not fired late; after a small step back a time already
fired is neither listed as next nor fired again (docs/scenarios.md, "A clock step");
a slow store write is no step."""

from __future__ import annotations

from typing import Any

import pytest
from structlog.testing import capture_logs
from support.cron_rig import (
    SLOT,
    Cron,
    SteppingClock,
    clock_fixture,  # noqa: F401  # fixture `clock`
    cron_fixture,  # noqa: F401  # fixture `cron`
    event,
    fire,
    late_fired_then_stepped_back,
    tree_fixture,  # noqa: F401  # fixture `tree`
    wait_event,
)
from support.wait import wait_until

from raspy.client.clone import CloneClient
from raspy.storage.store import Store


def test_a_clock_jump_is_logged_and_skipped_slots_are_not_fired_late(
    cron: Cron, tree: CloneClient, clock: SteppingClock
) -> None:
    cron.start()
    assert cron.request(action="add", name="ping", schedule="*/5 * * * *")[0] == b"200"
    with capture_logs() as logs:
        clock.step_wall(3600.0)  # NTP: an hour forward, twelve slots skipped
        clock.advance(60.0)  # the jump check (at most a minute of sleep) comes
        wait_until(
            lambda: cron.stats.get("cron.clock_jumps") == 1, what="the jump noticed"
        )
        # logged a moment after it is counted, on cron's thread
        wait_until(
            lambda: any(e["event"] == "clock_jumped" for e in logs),
            what="the jump logged",
        )
    jumps = [entry for entry in logs if entry["event"] == "clock_jumped"]
    assert jumps == [
        {
            "component": "cron",
            "event": "clock_jumped",
            "delta_s": 3600.0,
            "before": "2023-11-14T22:14:20+00:00",
            "after": "2023-11-14T23:14:20+00:00",
            "reason": (
                "the fixed times the step skipped fire once now; cron jobs and"
                " scenario time triggers go on from the new time"
            ),
            "log_level": "warning",
        }
    ]
    assert event(tree, "ping") is None
    assert cron.stats.get("cron.fired") == 0
    clock.advance(SLOT + 3600 - clock.wall())  # the next slot on the new time
    wait_event(tree, "ping", fire("ping", "2023-11-14T23:15:00+00:00"))
    assert cron.stats.get("cron.fired") == 1


def test_a_fixed_time_skipped_by_a_small_step_forward_fires_once_at_once(
    cron: Cron, tree: CloneClient, clock: SteppingClock
) -> None:
    """NTP steps the clock 20 minutes forward across 22:15: the job at that fixed
    time fires at once, for 22:15 (`scheduled`; `fired`: the new time), once,
    then waits for tomorrow (docs/scenarios.md, "A clock step"). It was skipped."""
    cron.start()
    assert cron.request(action="add", name="late", schedule="15 22 * * *")[0] == b"200"
    clock.step_wall(20 * 60.0)  # 22:13:20 to 22:33:20
    clock.advance(60.0)  # the jump check (at most a minute of sleep) comes
    expected = fire("late", "2023-11-14T22:15:00+00:00", "2023-11-14T22:34:20+00:00")
    wait_event(tree, "late", expected)
    assert cron.stats.get("cron.fired") == 1
    tomorrow = "2023-11-15T22:15:00+00:00"
    assert cron.request(action="get", name="late")[1]["job"]["next"] == tomorrow


def test_the_next_fire_listed_after_a_small_step_back_is_the_one_that_comes(
    cron: Cron, tree: CloneClient, clock: SteppingClock
) -> None:
    """After a step back of minutes, a time already fired is not fired again
    (docs/scenarios.md, "A clock step"): `list` and `get` said it was next all the
    same, a fire that never came, until the day after."""
    late_fired_then_stepped_back(cron, tree, clock)
    clock.advance(60.0)  # the step is seen: 22:14:00 by the right clock
    wait_until(lambda: cron.stats.get("cron.clock_jumps") == 1, what="the step seen")
    tomorrow = "2023-11-15T22:15:00+00:00"
    assert cron.request(action="list")[1]["jobs"][0]["next"] == tomorrow
    assert cron.request(action="get", name="late")[1]["job"]["next"] == tomorrow
    clock.advance(120.0)  # 22:16: the 22:15 of the right clock fired nothing
    assert cron.request(action="list")[1]["jobs"][0]["next"] == tomorrow
    assert cron.stats.get("cron.fired") == 1


def test_a_slow_store_write_is_no_step_of_the_clock(
    cron: Cron,
    tree: CloneClient,
    clock: SteppingClock,
    store: Store,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A change is scheduled once its durable write is done, which an SD card may
    take seconds to do: the wall clock read before the write, beside the monotonic
    clock read after it, put the job's first fire as late as the write took, and
    that fire, on coming, was taken for a step of the clock (`clock_jumped` in the
    log)."""
    commit = store.commit

    def slow_commit(ops: Any) -> None:
        commit(ops)
        clock.advance(2.0)  # the write took two seconds

    monkeypatch.setattr(store, "commit", slow_commit)
    cron.start()
    with capture_logs() as logs:
        assert cron.request(action="add", name="ping", schedule="*/5 * * * *")[0] == (
            b"200"
        )
        clock.advance(SLOT - clock.wall())  # on time, not two seconds late
        wait_event(tree, "ping", fire("ping", "2023-11-14T22:15:00+00:00"))
        clock.advance(300.0)
        wait_event(tree, "ping", fire("ping", "2023-11-14T22:20:00+00:00"))
    assert [e for e in logs if e["event"] == "clock_jumped"] == []
    assert cron.stats.get("cron.clock_jumps") == 0


def test_add_and_enable_after_a_small_step_back_say_the_next_fire_that_comes(
    cron: Cron, tree: CloneClient, clock: SteppingClock
) -> None:
    """The job replaced or enabled again after a step back of minutes keeps the
    time it fired (it is not fired again): its reply said that time all the same,
    as list and get did before they said the scheduler's next fire."""
    late_fired_then_stepped_back(cron, tree, clock)
    clock.advance(60.0)  # the step is seen: 22:14:00 by the right clock
    wait_until(lambda: cron.stats.get("cron.clock_jumps") == 1, what="the step seen")
    tomorrow = "2023-11-15T22:15:00+00:00"
    status, reply = cron.request(
        action="add", name="late", schedule="15 22 * * *", replace=True
    )
    assert (status, reply["job"]["next"]) == (b"200", tomorrow)
    status, reply = cron.request(action="enable", name="late")  # enabled already
    assert (status, reply["job"]["next"]) == (b"200", tomorrow)
    assert cron.request(action="get", name="late")[1]["job"]["next"] == tomorrow


@pytest.mark.parametrize("again", ["enable", "add", "restart"])
def test_a_job_scheduled_again_after_a_small_step_back_does_not_fire_twice(
    cron: Cron, tree: CloneClient, clock: SteppingClock, again: str
) -> None:
    """Disabled then enabled, deleted then added, or a new cron actor, within the
    minutes of a step back: the 22:15 fired by the clock before it fired again."""
    job = {"name": "late", "schedule": "15 22 * * *"}
    late_fired_then_stepped_back(cron, tree, clock)
    if again == "restart":
        cron.stop()
        cron.start()
    else:
        cron.request(action="disable" if again == "enable" else "delete", name="late")
        assert (
            cron.request(action=again, **(job if again == "add" else {"name": "late"}))[
                0
            ]
            == b"200"
        )
    tomorrow = "2023-11-15T22:15:00+00:00"
    assert cron.request(action="get", name="late")[1]["job"]["next"] == tomorrow


@pytest.mark.parametrize("again", ["enable", "restart"])
def test_a_job_scheduled_again_after_a_correction_of_hours_fires_at_the_right_clock(
    cron: Cron, tree: CloneClient, clock: SteppingClock, again: str
) -> None:
    """The clock was five hours ahead when the job fired its 22:15; set right, a
    step back of more than three hours is a correction and the 22:15 comes again
    by the right clock. The job disabled then enabled (or cron restarted) at 20:00,
    within three hours of the 22:15 the wrong clock fired, took that fire as its
    last and sent the job to tomorrow."""
    late_fired_then_stepped_back(cron, tree, clock)  # 22:15 fired, then back 2 min
    clock.step_wall(-5 * 3600.0 + 120.0)  # five hours back in all: 17:15
    clock.advance(60.0)
    wait_until(lambda: cron.stats.get("cron.clock_jumps") == 1, what="the step seen")
    today = "2023-11-14T22:15:00+00:00"
    assert cron.request(action="get", name="late")[1]["job"]["next"] == today
    clock.advance(2 * 3600.0 + 44 * 60)  # 20:00 by the right clock
    if again == "restart":
        cron.stop()
        cron.start()
    else:
        assert cron.request(action="disable", name="late")[0] == b"200"
        assert cron.request(action="enable", name="late")[0] == b"200"
    assert cron.request(action="get", name="late")[1]["job"]["next"] == today
