"""The supervisor's restart decisions (raspy.cores.supervision), on a fake clock."""

from __future__ import annotations

import pytest

from raspy import config
from raspy.backoff import BackoffPolicy
from raspy.cores.supervision import (
    LIVE_SECTIONS,
    PartState,
    PartTracker,
    RestartPolicy,
    changed_keys,
)

POLICY = RestartPolicy(
    BackoffPolicy(initial_s=1.0, max_s=8.0, stable_s=30.0),
    max_restarts=4,
    window_s=100.0,
)


def _delays_of_crashes_right_after_start(
    tracker: PartTracker, now: float
) -> list[float]:
    delays = []
    while tracker.state is not PartState.FAILED:
        tracker.crashed(now, "boom")
        status = tracker.status()
        if status.next_try_at is None:
            break
        delays.append(status.next_try_at - now)
        now = status.next_try_at
        tracker.started(now)
    return delays


def test_a_part_that_crashes_right_after_each_start_backs_off_then_fails() -> None:
    tracker = PartTracker("flaky", POLICY, now=0.0)
    assert _delays_of_crashes_right_after_start(tracker, 0.0) == [1.0, 2.0, 4.0, 8.0]
    status = tracker.status()
    assert status.state is PartState.FAILED
    assert status.restarts == 4
    assert "5 crashes within 100 s" in status.reason


def test_a_part_whose_start_raises_backs_off_without_restarts_then_fails() -> None:
    tracker = PartTracker("bad", POLICY, now=0.0)
    now, delays = 0.0, []
    while tracker.crashed(now, "start failed: no bus") is PartState.RESTARTING:
        due = tracker.status().next_try_at
        assert due is not None
        assert not tracker.due(due - 0.001)
        assert tracker.due(due)
        delays.append(due - now)
        now = due
    assert delays == [1.0, 2.0, 4.0, 8.0]
    assert tracker.status().restarts == 0
    assert tracker.status().reason.startswith("start failed: no bus")


def test_a_part_that_stayed_up_starts_again_from_the_initial_delay() -> None:
    tracker = PartTracker("later", POLICY, now=0.0)
    tracker.crashed(0.0, "boom")
    tracker.started(1.0)
    tracker.crashed(1.5, "boom")
    assert tracker.status().next_try_at == 3.5  # 2 s: not up long enough to reset
    tracker.started(3.5)
    tracker.tick(33.5)  # up 30 s: stable
    tracker.crashed(40.0, "boom")
    assert tracker.status().next_try_at == 41.0


def test_crashes_older_than_the_window_do_not_count() -> None:
    tracker = PartTracker("rare", POLICY, now=0.0)
    for now in (0.0, 200.0, 400.0, 600.0, 800.0, 1000.0, 1200.0):
        assert tracker.crashed(now, "boom") is PartState.RESTARTING
        tracker.started(now + 1)
        tracker.tick(now + 100)


def test_a_part_that_cannot_be_restarted_in_place_fails_at_its_first_crash() -> None:
    tracker = PartTracker("edge", POLICY, now=0.0, restartable=False)
    assert tracker.crashed(5.0, "the edge stopped") is PartState.FAILED
    assert tracker.status().reason == "the edge stopped (cannot be restarted in place)"
    assert tracker.crashed(6.0, "again") is PartState.FAILED  # no second transition
    assert tracker.status().since == 5.0


def test_a_stopped_part_is_not_restarted() -> None:
    tracker = PartTracker("gone", POLICY, now=0.0)
    tracker.stopped(1.0)
    assert tracker.crashed(2.0, "late") is PartState.STOPPED
    assert not tracker.due(100.0)


def test_a_policy_that_never_fails_a_part_is_refused() -> None:
    with pytest.raises(ValueError, match="max_restarts"):
        RestartPolicy(BackoffPolicy(initial_s=1.0, max_s=2.0), max_restarts=0)


def test_changed_keys_names_each_changed_setting_with_its_section() -> None:
    old = config.load("", "old")
    new = config.load(
        'hostname = "pi"\n[broker]\nheartbeat_liveness = 5\n[titanic]\nretention_s = 1.0\n',
        "new",
    )
    assert changed_keys(old, new) == [
        "hostname",
        "broker.heartbeat_liveness",
        "titanic.retention_s",
    ]
    assert changed_keys(old, old) == []
    assert {"titanic", "devices"} == LIVE_SECTIONS


def test_stable_s_0_makes_every_restart_wait_the_initial_delay_and_still_fails() -> (
    None
):
    """docs/configuration.md, supervisor.stable_s: "0: every restart waits
    restart_initial_s, max_restarts still counts"."""
    policy = RestartPolicy(
        BackoffPolicy(initial_s=1.0, max_s=8.0, stable_s=0.0),
        max_restarts=4,
        window_s=100.0,
    )
    tracker = PartTracker("flaky", policy, now=0.0)
    assert _delays_of_crashes_right_after_start(tracker, 0.0) == [1.0] * 4
    assert tracker.status().state is PartState.FAILED


def test_a_start_held_for_the_previous_actor_has_no_next_try_time() -> None:
    """Waiting for the previous actor to stop is no countdown: its status said a
    next try "now" (in 0 s) at every round while it waited. It is tried at each
    round, and a crash after it counts from the backoff again."""
    tracker = PartTracker("titanic", POLICY, now=0.0)
    tracker.crashed(1.0, "boom")
    reason = "the previous TitanicActor has not stopped yet"
    tracker.held(2.0, reason)
    status = tracker.status()
    assert (status.state, status.reason, status.next_try_at) == (
        PartState.RESTARTING,
        reason,
        None,
    )
    assert tracker.due(2.0)
    assert tracker.due(3.5)
    tracker.starting()
    assert not tracker.due(4.0)
    tracker.started(4.0)
    assert tracker.status().next_try_at is None
    assert not tracker.due(5.0)
