"""A long `wait` inside `choose` branches and `repeat` passes is recorded with its path
(rules.resume_path) and taken up there after a restart: the rest of the innermost
block, then of each block around it (ScenarioCore.on_startup's `resume`)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.scenario_engine import START_MONO, Harness, harness, scenario, sets

from raspy.devices.template import JsonValue
from raspy.errors import MalformedMessage
from raspy.rules import engine, resume_path, resume_record
from raspy.rules import model as m
from raspy.rules.expr import compile_expression
from raspy.rules.resume_path import Place

LONG = m.WaitAction(1200.0)
EVENT = m.EventTrigger(pattern="/event/test/go")
GO = "/event/test/go"
VERSION = "v-test"


def say(text: str) -> m.SetAction:
    return m.SetAction("/log", text)


def said(h: Harness) -> list[JsonValue]:
    return [s.value for s in sets(h.outputs)]


def records(h: Harness) -> list[tuple[engine.Checkpoint, ...]]:
    return [out.runs for out in h.outputs if isinstance(out, engine.Resumable)]


def restarted(
    h: Harness, doc: m.Scenario, tree: dict[str, JsonValue] | None = None
) -> Harness:
    """raspyd stopped in `h`'s last record and started again on the same wall time:
    the record through its JSON, taken up by a new core of `doc` (a new monotonic
    clock) that sees `tree`."""
    body, left_out = resume_record.encode(VERSION, records(h)[-1], 65536)
    assert left_out == 0
    runs = resume_record.decode(json.loads(body), VERSION, doc)
    new = harness(doc, tree=tree)
    new.mono, new.wall = START_MONO + 7.0, h.wall
    new.feed(new.core.on_startup(new.mono, new.wall, resume=runs))
    return new


def choose_doc() -> m.Scenario:
    branch = m.Branch(
        compile_expression("kv('/mode') == 'a'"), (say("a1"), LONG, say("a2"))
    )
    choose = m.ChooseAction((branch,), (say("e1"), LONG, say("e2")))
    return scenario([say("start"), choose, say("end")], [EVENT])


@pytest.mark.parametrize(
    ("mode", "place", "rest"),
    [
        ("a", Place(1, choice=1), ["a2", "end"]),
        ("b", Place(1, choice=0), ["e2", "end"]),
    ],
    ids=["then", "else"],
)
def test_a_wait_in_a_choose_branch_goes_on_there_without_choosing_again(
    mode: str, place: Place, rest: list[JsonValue]
) -> None:
    doc = choose_doc()
    h = harness(doc, tree={"/mode": mode})
    h.change(GO, 1)
    [(checkpoint,)] = records(h)
    assert checkpoint.path == (place, Place(1))
    h.advance(300.0)
    # the branch is in the path: a tree that would choose the other one now
    # changes nothing
    other = "b" if mode == "a" else "a"
    r = restarted(h, doc, tree={"/mode": other})
    assert r.core.running == 1
    assert records(r)[-1] == (checkpoint,)  # a second restart takes it up too
    r.advance(899.0)
    assert said(r) == []
    r.advance(1.0)
    assert said(r) == rest
    assert r.core.status.state is engine.State.IDLE
    assert records(r)[-1] == ()
    r.advance(3600.0)
    assert said(r) == rest  # once


def test_a_wait_on_pass_3_of_5_goes_on_with_the_passes_left() -> None:
    repeat = m.RepeatAction((say("p"), LONG, say("q")), count=5)
    doc = scenario([repeat, say("end")], [EVENT])
    h = harness(doc)
    h.change(GO, 1)
    h.advance(1200.0)
    h.advance(1200.0)
    assert [c.path for (c,) in records(h)] == [
        (Place(0, pass_=n), Place(1)) for n in (1, 2, 3)
    ]
    assert said(h) == ["p", "q", "p", "q", "p"]
    h.advance(600.0)
    r = restarted(h, doc)
    # the rest of pass 3's wait, then passes 4 and 5 with their whole waits
    steps: list[tuple[float, list[JsonValue]]] = [
        (600.0, ["q", "p"]),
        (1199.0, []),
        (1.0, ["q", "p"]),
    ]
    steps += [(1199.0, []), (1.0, ["q", "end"]), (3600.0, [])]
    seen: list[list[JsonValue]] = []
    for seconds, _ in steps:
        before = len(said(r))
        r.advance(seconds)
        seen.append(said(r)[before:])
    assert seen == [new for _, new in steps]
    assert r.core.status.state is engine.State.IDLE
    assert r.core.status.runs == 0  # the same run, not counted again


def test_a_wait_two_blocks_deep_goes_on_out_through_both() -> None:
    inner = m.RepeatAction((say("r"), LONG), count=2)
    branch = m.Branch(compile_expression("true"), (inner, say("after")))
    doc = scenario([m.ChooseAction((branch,)), say("end")], [EVENT])
    h = harness(doc)
    h.change(GO, 1)
    [(checkpoint,)] = records(h)
    assert checkpoint.path == (Place(0, choice=1), Place(0, pass_=1), Place(1))
    r = restarted(h, doc)
    r.advance(1200.0)
    assert said(r) == ["r"]
    assert [c.path for c in records(r)[-1]] == [
        (Place(0, choice=1), Place(0, pass_=2), Place(1))
    ]
    r.advance(1200.0)
    assert said(r) == ["r", "after", "end"]


@pytest.mark.parametrize(
    ("repeat", "tree"),
    [
        (m.RepeatAction((say("u"), LONG), until=compile_expression("kv('/x')")), {}),
        (
            m.RepeatAction((say("w"), LONG), while_=compile_expression("kv('/x')")),
            {"/x": True},
        ),
    ],
    ids=["until", "while"],
)
def test_a_repeat_while_or_until_tests_its_condition_as_usual_after_the_wait(
    repeat: m.RepeatAction, tree: dict[str, JsonValue]
) -> None:
    doc = scenario([repeat, say("end")], [EVENT])
    h = harness(doc, tree=tree)
    h.change(GO, 1)
    h.advance(1200.0)
    assert [c.path for c in records(h)[-1]] == [(Place(0, pass_=2), Place(1))]
    # the condition now ends the loop: no `while` test before the pass's rest,
    # then the usual test after it (until) or before the next pass (while)
    r = restarted(h, doc, tree={"/x": repeat.until is not None})
    r.advance(1200.0)
    assert said(r) == ["end"]
    assert r.core.status.state is engine.State.IDLE


def test_a_condition_after_the_wait_still_ends_the_run_quietly() -> None:
    branch = m.Branch(
        compile_expression("true"),
        (LONG, m.ConditionAction(compile_expression("kv('/x')")), say("no")),
    )
    doc = scenario([m.ChooseAction((branch,)), say("end")], [EVENT])
    h = harness(doc)
    h.change(GO, 1)
    r = restarted(h, doc)
    r.advance(1200.0)
    assert said(r) == []
    assert (r.core.status.state, r.core.status.last_error) == (engine.State.IDLE, None)


def test_a_place_that_is_not_in_the_actions_fails_the_run_not_the_core() -> None:
    """The record is checked when it is read (below); the run guards itself too."""
    doc = choose_doc()
    for path in [(Place(7),), (Place(1, choice=3), Place(1)), (Place(0),)]:
        h = harness(doc)
        gone = engine.Checkpoint(path, h.wall + 60.0, 1200.0, {"kind": "event"})
        h.feed(h.core.on_startup(h.mono, h.wall, resume=[gone]))
        h.advance(60.0)
        assert h.core.status.state is engine.State.ERROR, path
        assert h.core.status.last_error == (
            "the place the run waited in is not in the scenario's actions"
        )


# --- the record's paths --------------------------------------------------------------
def nested_doc() -> m.Scenario:
    inner = m.RepeatAction((say("r"), LONG), count=2)
    branch = m.Branch(compile_expression("true"), (inner, LONG))
    return scenario(
        [LONG, m.ChooseAction((branch,), (say("e"), LONG)), m.WaitAction(30.0)],
        [EVENT],
    )


VALID_PATHS = (
    (Place(0),),
    (Place(1, choice=1), Place(0, pass_=1), Place(1)),
    (Place(1, choice=1), Place(0, pass_=2), Place(1)),
    (Place(1, choice=1), Place(1)),
    (Place(1, choice=0), Place(1)),
)


def test_a_path_in_json_names_the_choices_and_passes() -> None:
    path = (Place(1, choice=0), Place(0, pass_=3), Place(1, choice=2), Place(4))
    assert resume_path.to_json(path) == [
        {"action": 1, "choice": "else"},
        {"action": 0, "pass": 3},
        {"action": 1, "choice": 2},
        {"action": 4},
    ]


@pytest.mark.parametrize(
    ("at", "reason"),
    [
        ([{"action": 3}], "no_such_place"),  # past the top-level actions
        ([{"action": 2}], "no_such_wait"),  # a wait under a minute
        ([{"action": 1}], "no_such_place"),  # a choose, not a wait
        ([{"action": 1, "choice": 2}, {"action": 0}], "no_such_place"),
        (
            [{"action": 1, "choice": 1}, {"action": 0, "pass": 3}, {"action": 1}],
            "no_such_place",
        ),
        ([{"action": 1, "pass": 1}, {"action": 1}], "no_such_place"),
        ([{"action": 0, "choice": 1}, {"action": 0}], "no_such_place"),
        ([{"action": 1, "choice": "else"}], "no_such_place"),  # ends at the choose
        ([{"action": 0, "choice": 1}], "no_such_place"),  # a choice on the wait
        ([{"action": 1, "choice": 0}, {"action": 1}], "bad_path"),
        ([{"action": 1, "choice": 1, "pass": 1}, {"action": 1}], "bad_path"),
        ([{"action": 0, "extra": 1}], "bad_path"),
        ([{"action": -1}], "bad_path"),
        ([{"action": 0.0}], "bad_path"),
        ([], "bad_path"),
        ({"action": 0}, "bad_path"),
        ([{"action": 0}] * 65, "bad_path"),
    ],
)
def test_a_path_that_points_nowhere_is_refused_with_its_reason(
    at: JsonValue, reason: str
) -> None:
    run: dict[str, JsonValue] = {"at": at, "end": 1.0, "seconds": 1200.0, "trigger": {}}
    value: dict[str, JsonValue] = {"v": 2, "version": VERSION, "runs": [run]}
    with pytest.raises(MalformedMessage) as caught:
        resume_record.decode(value, VERSION, nested_doc())
    assert caught.value.reason == reason


_JSON: st.SearchStrategy[JsonValue] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-3, 70)
    | st.integers()
    | st.floats()
    | st.sampled_from(["else", "action", "choice", "pass", "", "1"]),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(["action", "choice", "pass", "at", "v", "x"]),
            inner,
            max_size=4,
        )
    ),
    max_leaves=12,
)


def _place_json() -> st.SearchStrategy[JsonValue]:
    small = st.integers(-1, 3)
    return st.fixed_dictionaries(
        {"action": small},
        optional={"choice": small | st.just("else") | _JSON, "pass": small | _JSON},
    )


@settings(max_examples=300, deadline=None)
@given(
    at=st.lists(_place_json(), max_size=4) | _JSON,
    end=_JSON,
    seconds=st.sampled_from([1200.0, 30.0]) | _JSON,
    form=st.sampled_from([2, 1, 2.0, True]) | _JSON,
    whole=_JSON,
)
def test_any_record_decodes_to_fitting_runs_or_raises_its_typed_error(
    at: JsonValue, end: JsonValue, seconds: JsonValue, form: JsonValue, whole: JsonValue
) -> None:
    doc = nested_doc()
    run: dict[str, JsonValue] = {
        "at": at,
        "next": at,
        "end": end,
        "seconds": seconds,
        "trigger": {},
    }
    values: list[JsonValue] = [{"v": form, "version": VERSION, "runs": [run]}, whole]
    for value in values:
        refused: MalformedMessage | None = None
        try:
            runs = resume_record.decode(value, VERSION, doc)
        except MalformedMessage as exc:
            refused = exc
        if refused is not None:
            assert refused.protocol == "resume record"
            continue
        for checkpoint in runs:  # what it accepts is a long wait of the document
            assert checkpoint.path in VALID_PATHS
            assert checkpoint.seconds == 1200.0


@settings(max_examples=100, deadline=None)
@given(
    paths=st.lists(st.sampled_from(VALID_PATHS), min_size=1, max_size=4),
    end=st.floats(allow_nan=False, allow_infinity=False),
    trigger=st.dictionaries(
        st.sampled_from(["kind", "value", "key"]),
        # finite: a run whose trigger holds an infinity is left out (no JSON holds it)
        st.none()
        | st.integers()
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(max_size=8),
    ),
)
def test_a_record_round_trips_through_its_json(
    paths: list[resume_path.Path], end: float, trigger: dict[str, JsonValue]
) -> None:
    runs = [engine.Checkpoint(path, end, 1200.0, trigger) for path in paths]
    body, left_out = resume_record.encode(VERSION, runs, 1 << 20)
    assert left_out == 0
    assert resume_record.decode(json.loads(body), VERSION, nested_doc()) == tuple(runs)


@pytest.mark.parametrize(("seconds", "recorded"), [(120.0, 0), (599.0, 0), (600.0, 3)])
def test_a_wait_inside_a_repeat_is_recorded_only_from_ten_minutes(
    seconds: float, recorded: int
) -> None:
    """Each pass's wait is a record of its own, one durable write a pass: a loop
    that checks every two minutes would write 30 records an hour, all day, so waits
    in a repeat are recorded from 10 minutes (the top level's and a choose's from
    one, as before)."""
    repeat = m.RepeatAction((say("p"), m.WaitAction(seconds)), count=3)
    doc = scenario([repeat, say("end")], [EVENT])
    h = harness(doc)
    h.change(GO, 1)
    for _ in range(3):
        h.advance(seconds)
    assert said(h) == ["p", "p", "p", "end"]
    assert len([runs for runs in records(h) if runs]) == recorded
