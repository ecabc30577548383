"""Runs in a long `wait` are recorded (engine.Resumable) and taken up after a
restart (ScenarioCore.on_startup's `resume`, rules.resume_record)."""

from __future__ import annotations

import json

import pytest
from support.scenario_engine import START_WALL, Harness, harness, scenario, sets

from raspy.devices.template import JsonValue
from raspy.errors import MalformedMessage
from raspy.rules import engine, resume_record, run
from raspy.rules import model as m
from raspy.rules.expr import compile_expression
from raspy.rules.resume_path import Place

ON = m.SetAction("/scenario/test/light", "on {trigger.value}")
OFF = m.SetAction("/scenario/test/light", "off {trigger.value}")
LONG = m.WaitAction(1200.0)
EVENT = m.EventTrigger(pattern="/event/test/go")
GO = "/event/test/go"
AT_WAIT = (Place(1),)  # [ON, LONG, OFF]: the wait, action 1 of the top level


def _records(h: Harness) -> list[tuple[engine.Checkpoint, ...]]:
    return [out.runs for out in h.outputs if isinstance(out, engine.Resumable)]


def test_a_long_top_level_wait_is_recorded_while_it_lasts() -> None:
    h = harness(scenario([ON, LONG, OFF], [EVENT]))
    h.change(GO, 7)
    [(checkpoint,)] = _records(h)
    assert (checkpoint.path, checkpoint.end_wall, checkpoint.seconds) == (
        AT_WAIT,
        START_WALL + 1200.0,
        1200.0,
    )
    assert checkpoint.trigger["value"] == 7
    h.advance(1200.0)
    assert _records(h)[-1] == ()  # the wait is over: the record goes
    assert [s.value for s in sets(h.outputs)] == ["on 7", "off 7"]


def test_a_short_wait_is_never_recorded_at_any_depth() -> None:
    short = m.WaitAction(59.0)
    nested = m.ChooseAction((m.Branch(compile_expression("true"), (short,)),), ())
    cases: list[list[m.Action]] = [[ON, short, OFF], [ON, nested, OFF]]
    for actions in cases:
        h = harness(scenario(actions, [EVENT]))
        h.change(GO, 1)
        assert h.state is engine.State.RUNNING
        assert _records(h) == []


def test_a_stop_forgets_the_record_and_parallel_runs_share_one() -> None:
    h = harness(scenario([ON, LONG, OFF], [EVENT], mode=m.Mode.PARALLEL))
    h.change(GO, 1)
    h.advance(60.0)
    h.change(GO, 2)
    record = _records(h)[-1]
    assert [c.trigger["value"] for c in record] == [1, 2]
    assert [c.end_wall - START_WALL for c in record] == [1200.0, 1260.0]
    h.feed(h.core.stop(h.mono))
    assert _records(h)[-1] == ()


def test_a_resumed_run_waits_what_is_left_then_does_the_rest() -> None:
    h = harness(scenario([ON, LONG, OFF], [EVENT]))
    trigger: dict[str, JsonValue] = {
        "kind": "event",
        "id": "",
        "key": GO,
        "value": 7,
        "from": None,
    }
    checkpoint = engine.Checkpoint(AT_WAIT, START_WALL + 900.0, 1200.0, trigger)
    h.feed(h.core.on_startup(h.mono, h.wall, resume=[checkpoint]))
    assert h.state is engine.State.RUNNING
    assert _records(h)[-1][0].end_wall == START_WALL + 900.0  # a second restart too
    assert h.core.status.runs == 0  # the same run, not counted again
    h.change(GO, 8)  # mode single: the resumed run is under way
    h.advance(899.0)
    assert sets(h.outputs) == []
    h.advance(1.0)
    assert [s.value for s in sets(h.outputs)] == ["off 7"]
    assert h.core.status.state is engine.State.IDLE
    assert _records(h)[-1] == ()


def test_a_wait_that_ended_while_down_goes_on_at_once_and_a_clock_set_back_is_capped() -> (
    None
):
    h = harness(scenario([ON, LONG, OFF], [EVENT]))
    trigger: dict[str, JsonValue] = {"kind": "event", "value": 1}
    gone = engine.Checkpoint(AT_WAIT, START_WALL - 600.0, 1200.0, trigger)
    h.feed(h.core.on_startup(h.mono, h.wall, resume=[gone]))
    assert [s.value for s in sets(h.outputs)] == ["off 1"]
    h = harness(scenario([ON, LONG, OFF], [EVENT]))
    ahead = engine.Checkpoint(AT_WAIT, START_WALL + 86_400.0, 1200.0, trigger)
    h.feed(h.core.on_startup(h.mono, h.wall, resume=[ahead]))
    assert h.core.next_deadline() == h.mono + 1200.0


def _refused(value: JsonValue, version: str, doc: m.Scenario) -> str:
    """The reason token decode gives `value`, which it must refuse."""
    with pytest.raises(MalformedMessage) as caught:
        resume_record.decode(value, version, doc)
    return caught.value.reason


def test_a_record_is_taken_only_by_its_own_version() -> None:
    doc = scenario([ON, LONG, OFF], [EVENT])
    trigger: dict[str, JsonValue] = {"kind": "event", "value": 1}
    body, left_out = resume_record.encode(
        "abc", [engine.Checkpoint(AT_WAIT, 5.0, 1200.0, trigger)], 65536
    )
    assert left_out == 0
    value = json.loads(body)
    assert value == {
        "v": 2,
        "version": "abc",
        "runs": [
            {"at": [{"action": 1}], "end": 5.0, "seconds": 1200.0, "trigger": trigger}
        ],
    }
    assert resume_record.decode(value, "abc", doc) == (
        engine.Checkpoint(AT_WAIT, 5.0, 1200.0, trigger),
    )
    assert _refused(value, "other", doc) == "other_version"
    for bad_at in (0, 2, 3, -1, True, "1"):
        edited = {**value, "runs": [{**value["runs"][0], "at": [{"action": bad_at}]}]}
        assert _refused(edited, "abc", doc) in ("bad_path", "no_such_place"), bad_at
    assert _refused("text", "abc", doc) == "not_a_record"
    assert _refused({**value, "v": True}, "abc", doc) == "not_a_record"
    assert _refused({**value, "runs": []}, "abc", doc) == "no_runs"
    nan = {**value, "runs": [{**value["runs"][0], "end": float("nan")}]}
    assert _refused(nan, "abc", doc) == "bad_run"


def test_a_record_of_format_1_still_loads() -> None:
    """`next`: the top-level action after the wait, as raspy wrote it before."""
    doc = scenario([ON, LONG, OFF], [EVENT])
    trigger: dict[str, JsonValue] = {"kind": "event", "value": 1}
    run_v1: dict[str, JsonValue] = {
        "next": 2,
        "end": 5.0,
        "seconds": 1200.0,
        "trigger": trigger,
    }
    value: dict[str, JsonValue] = {"v": 1, "version": "abc", "runs": [run_v1]}
    assert resume_record.decode(value, "abc", doc) == (
        engine.Checkpoint(AT_WAIT, 5.0, 1200.0, trigger),
    )
    for bad_next in (0, 1, 3, 4, True, "2"):
        edited: JsonValue = {**value, "runs": [{**run_v1, "next": bad_next}]}
        assert _refused(edited, "abc", doc) in ("bad_run", "no_such_place"), bad_next


def test_a_record_too_large_for_the_tree_keeps_the_runs_that_fit() -> None:
    small = engine.Checkpoint(AT_WAIT, 5.0, 1200.0, {"value": 1})
    large = engine.Checkpoint(AT_WAIT, 5.0, 1200.0, {"value": "x" * 2000})
    body, left_out = resume_record.encode("abc", [small, large], 1000)
    assert left_out == 1
    assert len(json.loads(body)["runs"]) == 1
    assert resume_record.fingerprint("a: 1\n") != resume_record.fingerprint("a: 2\n")


def test_a_run_whose_trigger_json_cannot_hold_is_left_out_of_the_record() -> None:
    """A trigger value of `1e400` reads as an infinity, which JSON has not: the
    record was written with `Infinity` in it, a body no other reader takes."""
    kept = engine.Checkpoint(AT_WAIT, 5.0, 1200.0, {"value": 1})
    infinite = engine.Checkpoint(AT_WAIT, 5.0, 1200.0, {"value": [float("inf")]})
    body, left_out = resume_record.encode("abc", [infinite, kept], 65536)
    assert left_out == 1
    written = json.loads(body, parse_constant=_no_constant)
    assert (written["runs"][0]["trigger"], written["lost"]) == ({"value": 1}, 1)


def _no_constant(name: str) -> None:
    raise AssertionError(f"{name} written: no JSON")


def test_the_trace_of_a_resumed_run_says_so() -> None:
    h = harness(scenario([ON, LONG, OFF], [EVENT]))
    checkpoint = engine.Checkpoint(AT_WAIT, START_WALL + 300.0, 1200.0, {"value": 3})
    h.feed(h.core.on_startup(h.mono, h.wall, resume=[checkpoint]))
    h.advance(300.0)
    trace = h.core.status.last_trace
    assert trace[0] == "+0.0s resumed after a restart: wait 300s left of 1200s"
    assert trace[-1] == "+300.0s done"
    assert run.RESUME_MIN_WAIT_S == 60.0


def test_the_trace_of_a_resumed_run_says_the_time_left_to_a_tenth() -> None:
    """What is left is counted by the wall clock, any float: `wait 66.7057s left`
    is said `wait 66.7s left`, as the step lines say their times."""
    h = harness(scenario([ON, LONG, OFF], [EVENT]))
    checkpoint = engine.Checkpoint(AT_WAIT, START_WALL + 66.7057, 1200.0, {"value": 3})
    h.feed(h.core.on_startup(h.mono, h.wall, resume=[checkpoint]))
    assert h.core.status.run_trace == (
        "+0.0s resumed after a restart: wait 66.7s left of 1200s",
    )


def test_a_resumed_run_is_replaced_in_restart_mode() -> None:
    h = harness(scenario([ON, LONG, OFF], [EVENT], mode=m.Mode.RESTART))
    checkpoint = engine.Checkpoint(
        AT_WAIT, START_WALL + 600.0, 1200.0, {"value": "old"}
    )
    h.feed(h.core.on_startup(h.mono, h.wall, resume=[checkpoint]))
    h.change(GO, "new")  # the old run stops, a new one starts its whole wait
    assert [c.trigger["value"] for c in _records(h)[-1]] == ["new"]
    h.advance(1200.0)
    assert [s.value for s in sets(h.outputs)] == ["on new", "off new"]


def _resumables(outputs: list[engine.Output]) -> list[engine.Resumable]:
    return [out for out in outputs if isinstance(out, engine.Resumable)]


def test_a_restart_mode_trigger_in_the_wait_writes_the_record_once() -> None:
    """The run in its wait ends and the next one enters it in the same turn: one
    record (the next run's), not a delete and a set (two durable writes)."""
    h = harness(scenario([ON, LONG, OFF], [EVENT], mode=m.Mode.RESTART))
    h.change(GO, 1)
    h.advance(60.0)
    turn = h.change(GO, 2)
    assert [[c.trigger["value"] for c in r.runs] for r in _resumables(turn)] == [[2]]


def test_the_record_counts_the_runs_a_restart_would_lose_beside_it() -> None:
    """Runs that are not in a long wait (a short one, a queued turn)
    beside one that is: counted in the record, so that a start names them lost."""
    nested = m.ChooseAction(
        (m.Branch(compile_expression("trigger.value == 2"), (m.WaitAction(30.0),)),),
        (),
    )
    h = harness(scenario([ON, nested, LONG, OFF], [EVENT], mode=m.Mode.PARALLEL))
    h.change(GO, 1)
    assert [(len(r.runs), r.lost) for r in _resumables(h.outputs)] == [(1, 0)]
    turn = h.change(GO, 2)  # a short wait inside the choose: not taken up
    assert [(len(r.runs), r.lost) for r in _resumables(turn)] == [(1, 1)]
    h.feed(h.core.stop(h.mono))
    assert _resumables(h.outputs)[-1] == engine.Resumable(())
    q = harness(scenario([ON, LONG, OFF], [EVENT], mode=m.Mode.QUEUED))
    q.change(GO, 1)
    turn = q.change(GO, 2)  # queued behind the run in its wait
    assert [(len(r.runs), r.lost) for r in _resumables(turn)] == [(1, 1)]
    checkpoint = _resumables(turn)[0].runs[0]
    body, left_out = resume_record.encode("abc", [checkpoint], 65536, lost=1)
    assert (left_out, resume_record.lost_runs(json.loads(body))) == (0, 1)
    large = engine.Checkpoint(AT_WAIT, 5.0, 1200.0, {"value": "x" * 2000})
    body, left_out = resume_record.encode("abc", [checkpoint, large], 1000)
    assert (left_out, resume_record.lost_runs(json.loads(body))) == (1, 1)
    assert resume_record.lost_runs({"lost": True}) == 0
