"""What the supervisor does about a part in one round, and what a reload changes
(raspy.cores.supervision), on a fake clock."""

from __future__ import annotations

from raspy import config
from raspy.backoff import BackoffPolicy
from raspy.cores.supervision import (
    Died,
    Failed,
    PartState,
    PartStatus,
    PartTracker,
    Restart,
    RestartPolicy,
    on_crash,
    on_hang,
    plan_reload,
    restart_policy,
    summary,
    supervise,
)

POLICY = RestartPolicy(
    BackoffPolicy(initial_s=1.0, max_s=8.0, stable_s=30.0),
    max_restarts=2,
    window_s=100.0,
)


def test_a_running_part_seen_up_needs_nothing() -> None:
    tracker = PartTracker("bus", POLICY, now=0.0)
    assert supervise(tracker, None, 5.0) is None
    assert tracker.state is PartState.RUNNING


def test_a_part_seen_down_dies_then_is_restarted_once_its_delay_is_over() -> None:
    tracker = PartTracker("bus", POLICY, now=0.0)
    assert supervise(tracker, "stopped unexpectedly", 5.0) == Died(
        "bus", "stopped unexpectedly", retry_in_s=1.0, failures_in_a_row=1
    )
    assert supervise(tracker, "stopped unexpectedly", 5.5) is None  # not due yet
    assert supervise(tracker, None, 6.0) == Restart("bus")


def test_a_part_that_keeps_dying_is_given_up_but_not_fatally() -> None:
    tracker = PartTracker("bus", POLICY, now=0.0)
    decisions = []
    now = 0.0
    for _ in range(3):
        decisions.append(on_crash(tracker, now, "lost the bus"))
        now += 10.0
        tracker.started(now)
    assert [type(d) for d in decisions] == [Died, Died, Failed]
    assert [d.retry_in_s for d in decisions if isinstance(d, Died)] == [1.0, 2.0]
    failed = decisions[-1]
    assert isinstance(failed, Failed)
    assert not failed.fatal
    assert failed.reason == "lost the bus (3 crashes within 100 s)"


def test_a_part_that_cannot_be_restarted_fails_fatally_at_once() -> None:
    tracker = PartTracker("store", POLICY, now=0.0, restartable=False)
    decision = supervise(tracker, "damaged page 7", 3.0)
    assert decision == Failed(
        "store", "damaged page 7 (cannot be restarted in place)", fatal=True
    )
    assert supervise(tracker, "damaged page 7", 4.0) is None  # said once
    assert supervise(tracker, None, 1000.0) is None  # and never restarted


def test_a_start_is_held_to_its_own_larger_bound_never_to_less_than_a_ping() -> None:
    """A start was held to hung_after_s: one only slow (every stored scenario
    compiled on a Pi) ended raspyd, and its next start was as slow."""
    tracker = PartTracker("core", POLICY, now=0.0)  # the defaults: 60 s and 300 s
    assert on_hang(tracker, 61.0, 61.0) is not None  # a ping's silence: hung
    tracker = PartTracker("core", POLICY, now=0.0)
    assert on_hang(tracker, 300.0, 300.0, in_start=True) is None
    assert on_hang(tracker, 301.0, 301.0, in_start=True) == Failed(
        "core",
        "no answer to its start for 301 s (supervisor.start_hung_after_s = 300)",
        fatal=True,
        hung=True,
    )
    long_pings = RestartPolicy(POLICY.backoff, hung_after_s=600.0)
    tracker = PartTracker("core", long_pings, now=0.0)
    assert on_hang(tracker, 400.0, 400.0, in_start=True) is None  # not the shorter
    decision = on_hang(tracker, 601.0, 601.0, in_start=True)
    assert decision is not None
    assert decision.reason.endswith("(supervisor.hung_after_s = 600)")


def test_the_start_bound_is_read_from_the_config() -> None:
    cfg = config.load("[supervisor]\nstart_hung_after_s = 900\n", "test.toml")
    assert restart_policy(cfg.supervisor).start_bound_s == 900.0
    assert restart_policy(config.load("", "test.toml").supervisor).start_bound_s == 300


def test_the_summary_names_only_the_parts_that_are_not_running() -> None:
    def status(name: str, state: PartState) -> PartStatus:
        return PartStatus(name, state, restarts=0, since=0.0)

    running = [status("edge", PartState.RUNNING), status("echo", PartState.RUNNING)]
    assert summary(running) == "2 parts running"
    down = [
        *running,
        status("titanic", PartState.RESTARTING),
        status("web", PartState.FAILED),
        status("old", PartState.STOPPED),
    ]
    assert summary(down) == "titanic restarting; web failed"


def test_a_reload_applies_titanic_and_devices_now_and_keeps_the_rest() -> None:
    running = config.load("", "old")
    new = config.load(
        'hostname = "pi"\n[titanic]\nretention_s = 5.0\n[devices]\nfake_enabled = true\n',
        "new",
    )
    plan = plan_reload(running, new, frozenset())
    assert plan.changed == ("hostname", "titanic.retention_s", "devices.fake_enabled")
    assert plan.live == {"titanic", "devices"}
    assert plan.needs_restart == {"hostname"}
    assert plan.announce
    assert plan.restart_titanic
    assert plan.restart_devices
    assert plan.config.titanic == new.titanic
    assert plan.config.devices == new.devices
    assert plan.config.hostname == running.hostname  # only after a daemon restart


def test_the_same_change_needing_a_restart_is_announced_once() -> None:
    running = config.load("", "old")
    new = config.load('hostname = "pi"\n', "new")
    first = plan_reload(running, new, frozenset())
    second = plan_reload(first.config, new, first.needs_restart)
    assert first.announce
    assert not second.announce
    assert second.needs_restart == {"hostname"}
    assert not second.restart_titanic
    assert not second.restart_devices


def test_a_devices_change_restarts_nothing_without_the_clone_server() -> None:
    running = config.load("[clone]\nenabled = false\n", "old")
    new = config.load(
        "[clone]\nenabled = false\n[devices]\nfake_enabled = true\n", "new"
    )
    plan = plan_reload(running, new, frozenset())
    assert plan.live == {"devices"}
    assert not plan.restart_devices
    assert not plan.announce


def test_an_unchanged_config_changes_nothing() -> None:
    running = config.load("", "old")
    plan = plan_reload(running, running, frozenset({"hostname"}))
    assert plan.changed == ()
    assert plan.live == frozenset()
    assert not plan.announce
    assert plan.config == running
