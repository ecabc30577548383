"""ScenarioCore: triggers, `for:`, modes, stop and the runaway guard (clock passed in)."""

from __future__ import annotations

from support.scenario_engine import START_WALL, harness, scenario, sets

from raspy.rules import engine, run
from raspy.rules import model as m
from raspy.rules.engine import State
from raspy.rules.expr import compile_expression

LIVING = "/device/hub.fake.living/value"
MARK = m.SetAction("/scenario/test/mark", "{trigger.kind}:{trigger.value}")
SLEEP = m.WaitAction(10.0)


def _kv(**fields: object) -> m.KvTrigger:
    return m.KvTrigger(pattern="/device/*.fake.living/value", **fields)  # type: ignore[arg-type]  # test shorthand


def test_below_fires_when_the_value_crosses_into_the_range_only() -> None:
    h = harness(scenario([MARK], [_kv(below=19.5)]))
    assert sets(h.change(LIVING, 20.0)) == []
    assert sets(h.change(LIVING, 19.0)) == [
        run.SetKey("/scenario/test/mark", "kv:19.0")
    ]
    assert sets(h.change(LIVING, 18.0)) == []  # still below: no new crossing
    h.change(LIVING, 21.0)
    assert sets(h.change(LIVING, 17.5)) == [
        run.SetKey("/scenario/test/mark", "kv:17.5")
    ]


def test_above_and_below_together_are_a_band_and_a_non_number_never_matches() -> None:
    h = harness(scenario([MARK], [_kv(above=10, below=20)]))
    assert sets(h.change(LIVING, "15")) == []
    assert sets(h.change(LIVING, 25)) == []
    assert sets(h.change(LIVING, 15)) == [run.SetKey("/scenario/test/mark", "kv:15")]


def test_to_and_from_compare_json_values_strictly() -> None:
    h = harness(
        scenario([MARK], [_kv(to=True, has_to=True, from_=False, has_from=True)])
    )
    h.change(LIVING, 1)
    assert sets(h.change(LIVING, True)) == []  # from 1, not from false
    h.change(LIVING, False)
    assert sets(h.change(LIVING, True)) == [
        run.SetKey("/scenario/test/mark", "kv:true")
    ]


def test_to_compares_inside_lists_and_objects_strictly_too() -> None:
    h = harness(
        scenario([MARK], [_kv(to=[True], has_to=True), _kv(to={"on": 1}, has_to=True)])
    )
    assert sets(h.change(LIVING, [1])) == []  # 1 is not true
    assert sets(h.change(LIVING, {"on": True})) == []
    assert len(sets(h.change(LIVING, [True]))) == 1
    assert len(sets(h.change(LIVING, {"on": 1.0}))) == 1  # 1 and 1.0: one number


def test_a_trigger_without_tests_fires_on_every_change_of_value_but_not_a_repeat() -> (
    None
):
    h = harness(scenario([MARK], [_kv()]))
    assert len(sets(h.change(LIVING, 1))) == 1
    assert sets(h.change(LIVING, 1)) == []
    assert len(sets(h.change(LIVING, 2))) == 1


def test_a_key_outside_the_glob_never_fires() -> None:
    h = harness(scenario([MARK], [_kv()]))
    assert sets(h.change("/device/hub.fake.attic/value", 1)) == []


def test_for_fires_once_the_test_held_that_long() -> None:
    h = harness(scenario([MARK], [_kv(below=19.5, for_s=60)]))
    h.change(LIVING, 19.0)
    assert h.core.next_deadline() == 160.0
    assert sets(h.advance(59)) == []
    h.change(LIVING, 18.5)  # still holding: the same hold, the latest value
    assert sets(h.advance(1)) == [run.SetKey("/scenario/test/mark", "kv:18.5")]
    assert sets(h.advance(120)) == []  # fired once


def test_for_is_broken_when_the_test_stops_holding_and_starts_again() -> None:
    h = harness(scenario([MARK], [_kv(below=19.5, for_s=60)]))
    h.change(LIVING, 19.0)
    h.advance(30)
    h.change(LIVING, 20.0)  # broken
    assert h.core.next_deadline() is None
    assert sets(h.advance(60)) == []
    h.change(LIVING, 19.0)  # held again from here
    assert sets(h.advance(59)) == []
    assert len(sets(h.advance(1))) == 1


def test_for_with_from_alone_is_broken_when_the_value_comes_back() -> None:
    """`from: closed` with `for:` is "not closed for that long" (as Home
    Assistant's): a door closed again within the time breaks the hold."""
    door = _kv(from_="closed", has_from=True, for_s=600)
    h = harness(scenario([MARK], [door]), tree={LIVING: "closed"})
    h.change(LIVING, "open")
    h.advance(60)
    h.change(LIVING, "closed")  # back before the 10 minutes: broken
    assert h.core.next_deadline() is None
    assert sets(h.advance(600)) == []
    h.change(LIVING, "open")  # left again: held from here
    h.change(LIVING, "ajar")  # still not closed: the same hold
    assert sets(h.advance(599)) == []
    assert sets(h.advance(1)) == [run.SetKey("/scenario/test/mark", "kv:ajar")]


def test_for_without_a_test_holds_the_value_the_change_left() -> None:
    """A trigger without a test fires on a change; with `for:`, on a change that
    stays (as Home Assistant's state trigger with `for:`). The hold went on through
    any value, so a mode set back within the minute fired `home` from `home`, a
    change that was none, and a value that flapped fired each minute: another value
    is a change of its own, held from then."""
    mode = "/house/mode"
    mark = m.SetAction("/scenario/test/mark", "{trigger.from}>{trigger.value}")
    h = harness(
        scenario([mark], [m.KvTrigger(pattern=mode, for_s=60)]), tree={mode: "home"}
    )
    for value in ["away", "home"] * 6:  # flaps every 10 s: never settles
        h.change(mode, value)
        assert sets(h.advance(10)) == []
    h.change(mode, "away")
    h.advance(30)
    h.change(mode, "away")  # the same value again: the hold goes on
    assert sets(h.advance(29)) == []
    assert _marks(h.advance(1)) == ["home>away"]
    h.change(mode, "night")
    h.change(mode, "away")  # set back at once: a change of its own, from night
    assert _marks(h.advance(60)) == ["night>away"]


def _marks(outputs: list[engine.Output]) -> list[object]:
    return [o.value for o in sets(outputs)]


def test_a_value_gone_to_null_fires_nothing_and_the_value_before_counts_after() -> None:
    """No value (a failed reading, a board marked offline) is no change of what the
    sensor watches: a door left closed is not "left open" when its board goes
    offline, and a frost told once is not told again when the board is back."""
    door = _kv(from_="closed", has_from=True, for_s=600)
    h = harness(scenario([MARK], [door]), tree={LIVING: "closed"})
    assert _marks(h.no_value(LIVING)) == []
    assert h.core.next_deadline() is None  # no hold started
    assert _marks(h.advance(900)) == []
    h.change(LIVING, "closed")  # back, still closed: nothing left
    assert h.core.next_deadline() is None
    h.change(LIVING, "open")
    assert _marks(h.advance(600)) == ["kv:open"]
    frost = harness(scenario([MARK], [_kv(below=5)]), tree={LIVING: 7.0})
    assert _marks(frost.change(LIVING, 4.5)) == ["kv:4.5"]
    assert _marks(frost.no_value(LIVING)) == []
    assert _marks(frost.change(LIVING, 4.0)) == []  # still below: told already
    frost.change(LIVING, 6.0)
    assert _marks(frost.change(LIVING, 4.0)) == ["kv:4.0"]


def test_a_trigger_without_tests_skips_the_null_and_sees_the_value_before() -> None:
    mark = m.SetAction("/scenario/test/mark", "{trigger.from}>{trigger.value}")
    h = harness(scenario([mark], [_kv()]), tree={LIVING: 1})
    assert _marks(h.no_value(LIVING)) == []
    assert _marks(h.change(LIVING, 1)) == []  # the same value as before the gap
    assert _marks(h.no_value(LIVING)) == []
    assert _marks(h.change(LIVING, 2)) == ["1>2"]


def test_a_hold_broken_by_a_null_holds_again_in_full_when_the_value_is_back() -> None:
    """A hold cannot be said to have held through a gap: the gap breaks it, and a
    value back that keeps the test holds again from then, for the whole time."""
    h = harness(scenario([MARK], [_kv(to="open", has_to=True, for_s=600)]))
    h.change(LIVING, "open")
    h.advance(300)
    h.no_value(LIVING)
    assert h.core.next_deadline() is None
    h.advance(60)
    h.change(LIVING, "open")
    assert _marks(h.advance(599)) == []
    assert _marks(h.advance(1)) == ["kv:open"]
    h.change(LIVING, "closed")
    h.no_value(LIVING)
    h.change(LIVING, "closed")  # back, but not open: nothing holds
    assert h.core.next_deadline() is None


def test_every_trigger_on_the_key_takes_the_value_back_against_its_own_gap() -> None:
    """Two `for:` triggers on one key (a window open 10 minutes, then 30): a gap
    breaks both holds, and a value back that keeps their test holds both again. The
    first trigger's value before the gap was taken as the second's `old`, so the
    second saw no gap, no change either, and was never told."""
    mark = m.SetAction("/scenario/test/mark", "{trigger.id}")
    short = _kv(to="open", has_to=True, for_s=600, id="short")
    long = _kv(to="open", has_to=True, for_s=1800, id="long")
    h = harness(scenario([mark], [short, long], mode=m.Mode.PARALLEL))
    h.change(LIVING, "open")
    h.advance(300)
    h.no_value(LIVING)  # the board offline a while
    h.advance(60)
    h.change(LIVING, "open")  # back, still open: both hold again in full
    assert _marks(h.advance(600)) == ["short"]
    assert _marks(h.advance(1200)) == ["long"]


def test_a_trigger_that_names_null_still_sees_it_and_a_delete_fires_nothing() -> None:
    h = harness(scenario([MARK], [_kv(to=None, has_to=True)]), tree={LIVING: 1})
    assert _marks(h.no_value(LIVING)) == ["kv:null"]
    gone = harness(scenario([MARK], [_kv()]), tree={LIVING: 1})
    assert _marks(gone.change(LIVING, None)) == []  # deleted (a board retired)
    assert _marks(gone.change(LIVING, 1)) == ["kv:1"]  # a new key: a change


def test_a_for_hold_resumes_at_startup_from_the_trees_value() -> None:
    """A test met when the daemon stopped (a door left open) holds again from the
    start: it fires after the whole duration, unless it breaks first."""
    h = harness(scenario([MARK], [_kv(below=19.5, for_s=60)]))
    h.feed(h.core.on_startup(h.mono, h.wall, [(LIVING, 18.0)]))
    assert sets(h.advance(59)) == []
    assert sets(h.advance(1)) == [run.SetKey("/scenario/test/mark", "kv:18.0")]
    broken = harness(scenario([MARK], [_kv(below=19.5, for_s=60)]))
    broken.feed(broken.core.on_startup(broken.mono, broken.wall, [(LIVING, 18.0)]))
    broken.change(LIVING, 20.0)
    assert sets(broken.advance(120)) == []


def test_startup_resumes_no_hold_that_needs_the_value_before_or_a_change() -> None:
    for trigger in (
        _kv(below=19.5, for_s=60, has_from=True, from_=21.0),  # before: unknown
        _kv(for_s=60),  # no test: fires on a change, and there was none
        _kv(below=19.5),  # no for: a start is no crossing
    ):
        h = harness(scenario([MARK], [trigger]))
        h.feed(h.core.on_startup(h.mono, h.wall, [(LIVING, 18.0)]))
        assert h.core.next_deadline() is None, trigger
        assert sets(h.advance(120)) == [], trigger
    outside = harness(scenario([MARK], [_kv(below=19.5, for_s=60)]))
    outside.feed(outside.core.on_startup(outside.mono, outside.wall, [(LIVING, 25)]))
    assert outside.core.next_deadline() is None


def test_event_trigger_fires_on_every_publish_not_on_a_delete() -> None:
    trigger = m.EventTrigger("/event/doorbell/*", id="bell")
    h = harness(scenario([MARK], [trigger]))
    assert sets(h.change("/event/doorbell/front", True)) == [
        run.SetKey("/scenario/test/mark", "event:true")
    ]
    assert len(sets(h.change("/event/doorbell/front", True))) == 1  # same value again
    assert sets(h.change("/event/doorbell/front", None)) == []
    assert sets(h.change("/event/other", True)) == []


def test_time_and_startup_triggers_name_their_kind() -> None:
    h = harness(scenario([MARK], [m.CronTrigger("0 7 * * *"), m.StartupTrigger()]))
    outputs = h.feed(h.core.on_time(0, START_WALL, h.mono, h.wall))
    assert sets(outputs) == [run.SetKey("/scenario/test/mark", f"cron:{START_WALL}")]
    outputs = h.feed(h.core.on_startup(h.mono, h.wall))
    assert sets(outputs) == [run.SetKey("/scenario/test/mark", "startup:null")]


def test_status_counts_runs_and_remembers_the_last_trigger() -> None:
    h = harness(scenario([MARK], [_kv()]))
    h.change(LIVING, 5)
    assert h.core.status == engine.Status(
        State.IDLE,
        runs=1,
        last_run=START_WALL,
        last_trigger={
            "kind": "kv",
            "id": "",
            "key": LIVING,
            "value": 5,
            "from": None,
        },
        last_trace=("+0.0s set /scenario/test/mark = kv:5", "+0.0s done"),
    )
    assert isinstance(h.outputs[-1], engine.StatusChanged)


# --- modes -------------------------------------------------------------------------------
def test_single_ignores_a_trigger_while_running() -> None:
    h = harness(scenario([SLEEP, MARK], [_kv()]))
    h.change(LIVING, 1)
    assert h.change(LIVING, 2)[0] == engine.Skipped(
        "a run is under way (mode single)", dropped=True
    )
    assert sets(h.advance(10)) == [run.SetKey("/scenario/test/mark", "kv:1")]
    assert h.state is State.IDLE


def test_restart_stops_the_run_and_starts_again() -> None:
    h = harness(scenario([SLEEP, MARK], [_kv()], mode=m.Mode.RESTART))
    h.change(LIVING, 1)
    h.advance(5)
    h.change(LIVING, 2)
    assert sets(h.advance(5)) == []  # the first run's wait ended with it
    assert sets(h.advance(5)) == [run.SetKey("/scenario/test/mark", "kv:2")]
    assert h.core.status.runs == 2


def test_queued_runs_one_after_another_up_to_max() -> None:
    h = harness(scenario([SLEEP, MARK], [_kv()], mode=m.Mode.QUEUED, max_runs=2))
    h.change(LIVING, 1)
    h.change(LIVING, 2)  # queued
    assert h.change(LIVING, 3)[0] == engine.Skipped("queue full (max 2)", dropped=True)
    assert h.core.running == 1
    assert sets(h.advance(10)) == [run.SetKey("/scenario/test/mark", "kv:1")]
    assert sets(h.advance(10)) == [run.SetKey("/scenario/test/mark", "kv:2")]
    assert h.state is State.IDLE


def test_a_full_queue_of_runs_that_end_at_once_runs_through_without_recursion() -> None:
    # max 1000 runs waiting on one key: when it comes, each queued run ends at once
    # and the next starts; one nested call each went past Python's stack (a
    # RecursionError out of the engine, and the scenario stuck "running")
    gate = m.WaitUntilAction(compile_expression("kv('/gate') == true"))
    h = harness(
        scenario(
            [gate, MARK],
            [m.EventTrigger(pattern="/event/bell")],
            mode=m.Mode.QUEUED,
            max_runs=1000,
        ),
        max_runs_per_minute=10_000,
    )
    for ring in range(1000):
        h.change("/event/bell", ring)
    assert h.core.running == 1
    assert len(sets(h.change("/gate", True))) == 1000
    assert h.state is State.IDLE
    assert h.core.status.runs == 1000
    assert h.core.next_deadline() is None


def test_parallel_runs_side_by_side_up_to_max() -> None:
    h = harness(scenario([SLEEP, MARK], [_kv()], mode=m.Mode.PARALLEL, max_runs=2))
    h.change(LIVING, 1)
    h.change(LIVING, 2)
    assert h.change(LIVING, 3)[0] == engine.Skipped(
        "2 runs going (max 2)", dropped=True
    )
    assert h.core.running == 2
    assert sets(h.advance(10)) == [
        run.SetKey("/scenario/test/mark", "kv:1"),
        run.SetKey("/scenario/test/mark", "kv:2"),
    ]


def test_stop_ends_a_run_in_the_middle_of_a_wait() -> None:
    h = harness(scenario([SLEEP, MARK], [_kv()], mode=m.Mode.QUEUED))
    h.change(LIVING, 1)
    h.change(LIVING, 2)
    assert h.core.running == 1
    stopped = h.feed(h.core.stop())
    assert stopped[0] == engine.RunEnded(1, None)
    assert h.state is State.IDLE
    assert h.core.next_deadline() is None
    assert sets(h.advance(60)) == []


def _dropped(outputs: list[engine.Output]) -> list[str]:
    return [o.reason for o in outputs if isinstance(o, engine.Skipped) and o.dropped]


def test_a_stop_counts_the_turns_it_forgets_as_dropped() -> None:
    """Every trigger is a run or a drop (`scenario.dropped`): the turns queued
    behind the run a stop ends were forgotten uncounted, and the books of a
    doorbell's rings did not balance after a `raspy scenario stop`."""
    h = harness(scenario([SLEEP, MARK], [_kv()], mode=m.Mode.QUEUED))
    for value in (1, 2, 3):
        h.change(LIVING, value)
    h.advance(1)
    stopped = h.feed(h.core.stop(h.mono, h.wall))
    reason = "stopped while it waited its turn (mode queued)"
    assert _dropped(stopped) == [reason, reason]
    assert stopped[0] == engine.RunEnded(1, None)
    skip = h.core.status.last_skip
    assert skip is not None
    assert (skip["at"], skip["reason"]) == (h.wall, reason)
    trigger = skip["trigger"]
    assert isinstance(trigger, dict)
    assert trigger["value"] == 3  # the last turn forgotten
    assert h.state is State.IDLE
    assert sets(h.advance(60)) == []
    assert h.feed(h.core.stop(h.mono, h.wall)) == []  # nothing left to count


def test_a_runaway_disable_counts_its_refused_start_and_the_queue_as_dropped() -> None:
    h = harness(
        scenario([SLEEP, MARK], [_kv()], mode=m.Mode.QUEUED), max_runs_per_minute=1
    )
    for value in (1, 2, 3):  # 1 runs, 2 and 3 wait their turns
        h.change(LIVING, value)
    outputs = h.advance(10)  # 1 ends; 2's start is one too many, 3 still waits
    assert h.state is State.DISABLED
    assert len(_dropped(outputs)) == 2
    assert h.core.status.runs == 1
    assert _dropped(h.change(LIVING, 4)) == []  # disabled: no trigger seen


def test_manual_run_skips_conditions_and_follows_the_mode() -> None:
    h = harness(scenario([SLEEP, MARK], [_kv()]))
    h.run_now()
    assert h.run_now()[0] == engine.Skipped(
        "a run is under way (mode single)", dropped=True
    )
    assert sets(h.advance(10)) == [run.SetKey("/scenario/test/mark", "manual:null")]


def test_runaway_guard_disables_past_the_runs_a_minute() -> None:
    h = harness(scenario([MARK], [_kv()]), max_runs_per_minute=3)
    for value in range(3):
        h.change(LIVING, value)
        h.advance(1)
    outputs = h.change(LIVING, 99)
    reason = (
        f"runaway: more than 3 runs in a minute; disabled at a start by kv {LIVING}"
        " (an action that sets what triggers it loops; a reading this frequent"
        " wants a test such as above:, to: or for:, or a higher [core]"
        " max_runs_per_minute)"
    )
    assert engine.Disabled(reason) in outputs
    assert h.core.status.state is State.DISABLED
    assert h.core.status.last_error == reason
    assert sets(h.change(LIVING, 100)) == []


def test_runaway_guard_leaves_scheduled_triggers_alone() -> None:
    """`every: 1s` starts 60 runs a minute by design, and a late wake-up makes it
    61: with the default limit of 60 it was disabled as a runaway in its second
    minute. A schedule cannot feed itself, so its starts are not counted."""
    h = harness(scenario([MARK], [m.EveryTrigger(1.0), _kv()]), max_runs_per_minute=3)
    for _ in range(200):
        h.advance(1)
        h.feed(h.core.on_time(0, h.wall, h.mono, h.wall))
    assert (h.state, h.core.status.runs) == (State.IDLE, 200)
    for value in range(3):  # the kv trigger is still guarded
        h.change(LIVING, value)
    h.change(LIVING, 99)
    assert h.state is State.DISABLED


def test_runaway_guard_counts_runs_tried_as_a_time_trigger() -> None:
    """A run tried as a time trigger (`raspy scenario run NAME --trigger ID`) was
    let through as the schedule's own start: a script looping it never stopped."""
    h = harness(
        scenario([MARK], [m.EveryTrigger(3600.0, id="hourly")]), max_runs_per_minute=3
    )
    for _ in range(3):
        h.feed(h.core.run_now(h.mono, h.wall, trigger=0))
        h.advance(1)
    outputs = h.feed(h.core.run_now(h.mono, h.wall, trigger=0))
    assert [o for o in outputs if isinstance(o, engine.Disabled)] == [
        engine.Disabled(engine.runaway_reason(3, {"kind": "every", "tried": True}))
    ]
    assert (h.state, h.core.status.runs) == (State.DISABLED, 3)


def test_runaway_guard_names_the_scenario_whose_run_started_it() -> None:
    """Two scenarios that `run:` each other loop with no trigger of their own: the
    reason said `disabled at a start by manual`, as if someone had run it by hand,
    where `raspy scenario show` says `last trigger: manual by other`."""
    h = harness(scenario([MARK], [_kv()]), max_runs_per_minute=3)
    for _ in range(3):
        h.feed(h.core.run_now(h.mono, h.wall, by="other"))
    outputs = h.feed(h.core.run_now(h.mono, h.wall, by="other"))
    disabled = [o for o in outputs if isinstance(o, engine.Disabled)]
    assert len(disabled) == 1
    assert (
        "disabled at a start by manual (a run: in other) (scenarios that run: each"
        " other loop; " in disabled[0].reason
    )
    by_hand = engine.runaway_reason(3, {"kind": "manual"})
    assert "disabled at a start by manual (an action" in by_hand


def test_runaway_guard_forgets_runs_older_than_a_minute() -> None:
    h = harness(scenario([MARK], [_kv()]), max_runs_per_minute=2)
    for value in range(6):
        h.change(LIVING, value)
        h.advance(31)
    assert h.state is State.IDLE
    assert h.core.status.runs == 6
