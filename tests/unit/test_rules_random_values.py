"""random() in expressions, a random `wait: {min, max}`, and values computed by
`expr:` in set, device and event actions: the engine with a hand-moved clock and a
seeded random source (docs/scenarios.md)."""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.expr_context import make_context
from support.scenario_engine import (
    SEED,
    START_WALL,
    Harness,
    harness,
    requests,
    scenario,
    sets,
)

from raspy.devices.template import JsonValue
from raspy.errors import MalformedMessage
from raspy.rules import engine, resume_record, run
from raspy.rules import model as m
from raspy.rules.document import load_scenario
from raspy.rules.expr import ExpressionError, compile_expression
from raspy.rules.resume_path import Place

GO = "/event/test/go"
EVENT = m.EventTrigger(GO)
RINGS = "/house/doorbell/rings"


class Numbers:
    """A random source that gives the numbers it is told, in turn."""

    def __init__(self, *numbers: float) -> None:
        self._numbers = list(numbers)

    def random(self) -> float:
        return self._numbers.pop(0)


def _value(text: str, rng: m.RandomSource) -> JsonValue:
    return compile_expression(text).evaluate(
        make_context(rng=rng, variables={"low": 4, "high": 2})
    )


# --- random() ---------------------------------------------------------------------
def test_random_is_the_sources_number_and_random_a_b_a_uniform_float_between() -> None:
    assert _value("random()", Numbers(0.25)) == 0.25
    assert _value("random(10, 20)", Numbers(0.25)) == 12.5
    assert _value("random(1, 6)", Numbers(0.0)) == 1.0
    assert _value("random(-1.5, 1.5)", Numbers(0.5)) == 0.0
    assert _value("random(3, 3)", Numbers(0.999)) == 3.0
    # whole numbers: round() or int() of it, as docs/scenarios.md says
    assert _value("round(random(1, 6))", Numbers(0.95)) == 6
    assert _value("int(random(1, 7))", Numbers(0.95)) == 6


def test_random_with_a_seeded_source_repeats_and_each_call_draws_again() -> None:
    first = _value("[random(), random(0, 100)]", random.Random(SEED))
    again = _value("[random(), random(0, 100)]", random.Random(SEED))
    assert first == again
    assert isinstance(first, list)
    assert len(set(map(str, first))) == 2  # two draws, two numbers


@settings(max_examples=200, deadline=None)
@given(
    st.floats(-1e308, 1e308) | st.integers(-(2**63), 2**63),
    st.floats(-1e308, 1e308) | st.integers(-(2**63), 2**63),
    st.floats(0.0, 1.0, exclude_max=True),
)
def test_random_a_b_lies_in_a_b_for_any_finite_bounds(
    a: float, b: float, draw: float
) -> None:
    low, high = sorted((a, b))
    value = compile_expression(f"random({low!r}, {high!r})").evaluate(
        make_context(rng=Numbers(draw))
    )
    assert isinstance(value, float)
    assert float(low) <= value <= float(high)  # an int past 2**53: its nearest float


@pytest.mark.parametrize(
    ("text", "reason", "offset"),
    [
        ("random(5, 1)", "random(a, b) needs a <= b, got 5 > 1", 0),
        # a number with its sign is written out as much as one without
        ("random(0, -1)", "random(a, b) needs a <= b, got 0 > -1", 0),
        ("random(-1.5, -2)", "random(a, b) needs a <= b, got -1.5 > -2", 0),
        ("1 + random(1)", "random() takes 0 or 2 arguments, got 1", 4),
        ("random(1, 2, 3)", "random() takes 0 or 2 arguments, got 3", 0),
        ("random('a', 2)", "random() needs a number, got 'a'", 7),
        ("random(1, true)", "random() needs a number, got true", 10),
    ],
)
def test_random_with_literal_bounds_is_checked_at_compile_time(
    text: str, reason: str, offset: int
) -> None:
    with pytest.raises(ExpressionError) as caught:
        compile_expression(text)
    assert (caught.value.reason, caught.value.offset) == (reason, offset)


def test_random_with_bounds_known_when_it_runs_faults_then() -> None:
    with pytest.raises(ExpressionError) as caught:
        _value("random(low, high)", Numbers(0.5))
    assert str(caught.value) == (
        "expression 'random(low, high)': random(a, b) needs a <= b, got 4 > 2 "
        "(at offset 0)"
    )
    with pytest.raises(ExpressionError) as caught:
        _value("random(low, null)", Numbers(0.5))
    assert caught.value.reason == "random() needs a number, got null"


def test_a_variable_named_random_stays_valid_beside_the_function() -> None:
    """`random` was no built-in name before random() came: a document with such a
    variable loads as it did, and the parenthesis tells the two apart."""
    loaded = load_scenario(
        "name: a\nvariables: {random: 7}\n"
        "conditions: ['random == 7 and random() < 1']\nactions: [{wait: 1s}]\n"
    )
    assert loaded.variables == {"random": 7}
    assert compile_expression("random + random()").evaluate(
        make_context(variables={"random": 7}, rng=Numbers(0.5))
    ) == pytest.approx(7.5)


# --- a random wait --------------------------------------------------------------------
ON = m.SetAction("/light", "on")
OFF = m.SetAction("/light", "off")
RANDOM_WAIT = m.WaitAction(300.0, 1200.0)  # {min: 5m, max: 20m}


def _off_after(h: Harness) -> float:
    """How long after the start of the run the light went off (whole seconds)."""
    start = h.mono
    while not any(s.value == "off" for s in sets(h.outputs)):
        h.advance(1.0)
        assert h.mono - start <= 1200.0, "the wait outlasted its max"
    return h.mono - start


def test_a_random_wait_lies_within_its_bounds_and_is_drawn_anew_each_run() -> None:
    h = harness(scenario([ON, RANDOM_WAIT, OFF], [EVENT]), rng=random.Random(SEED))
    lengths = []
    for go in range(5):
        h.outputs.clear()
        h.change(GO, go)
        lengths.append(_off_after(h))
    assert all(300.0 <= length <= 1200.0 for length in lengths)
    assert len(set(lengths)) == 5  # a new draw each run


def test_the_wait_is_drawn_when_it_starts_and_the_trace_says_what_was_drawn() -> None:
    h = harness(scenario([ON, RANDOM_WAIT, OFF], [EVENT]), rng=Numbers(0.5, 0.0))
    h.change(GO, 1)
    assert h.core.next_deadline() == h.mono + 750.0
    h.advance(749.0)
    assert [s.value for s in sets(h.outputs)] == ["on"]
    h.advance(1.0)
    assert [s.value for s in sets(h.outputs)] == ["on", "off"]
    assert h.core.status.last_trace == (
        "+0.0s set /light = on",
        "+0.0s wait 750s (random, 300s to 1200s)",
        "+750.0s set /light = off",
        "+750.0s done",
    )
    h.change(GO, 2)  # the second run draws 0.0: its min
    assert h.core.next_deadline() == h.mono + 300.0


def test_the_trace_writes_a_drawn_wait_to_a_tenth_of_a_second() -> None:
    """A draw is any float: the trace said `wait 431.873s`, six digits read by
    nobody; the step lines say their times to a tenth, and so does the wait."""
    h = harness(scenario([ON, RANDOM_WAIT, OFF], [EVENT]), rng=Numbers(0.14652, 0.0))
    h.change(GO, 1)
    assert h.core.next_deadline() == pytest.approx(h.mono + 431.868)
    assert h.core.status.run_trace[-1] == "+0.0s wait 431.9s (random, 300s to 1200s)"


def test_a_stop_ends_a_run_in_a_random_wait_at_once() -> None:
    h = harness(scenario([ON, RANDOM_WAIT, OFF], [EVENT]))
    h.change(GO, 1)
    h.advance(200.0)
    stopped = h.feed(h.core.stop(h.mono))
    assert engine.RunEnded(1, None) in stopped
    assert (h.state, h.core.next_deadline()) == (engine.State.IDLE, None)
    h.advance(1200.0)
    assert [s.value for s in sets(h.outputs)] == ["on"]
    assert h.core.status.last_trace[-1] == "+200.0s stopped"


# --- the resume record of a random wait -----------------------------------------------
def _records(h: Harness) -> list[tuple[engine.Checkpoint, ...]]:
    return [out.runs for out in h.outputs if isinstance(out, engine.Resumable)]


def test_a_long_random_wait_is_recorded_with_the_length_it_drew() -> None:
    h = harness(scenario([ON, RANDOM_WAIT, OFF], [EVENT]), rng=Numbers(0.5))
    h.change(GO, 7)
    [(checkpoint,)] = _records(h)
    assert (checkpoint.path, checkpoint.end_wall, checkpoint.seconds) == (
        (Place(1),),
        START_WALL + 750.0,
        750.0,
    )
    h.advance(750.0)
    assert _records(h)[-1] == ()


def test_the_drawn_length_decides_whether_a_random_wait_is_recorded() -> None:
    """A wait of 30 s to 2 min is recorded when it draws a minute or more (a run
    in it would be lost for that long), not when it draws less."""
    wait = m.WaitAction(30.0, 120.0)
    short = harness(scenario([ON, wait, OFF], [EVENT]), rng=Numbers(0.25))  # 52.5 s
    short.change(GO, 1)
    assert (short.state, _records(short)) == (engine.State.RUNNING, [])
    long = harness(scenario([ON, wait, OFF], [EVENT]), rng=Numbers(0.5))  # 75 s
    long.change(GO, 1)
    assert [c.seconds for c in _records(long)[-1]] == [75.0]


def test_a_recorded_random_wait_is_taken_up_for_what_is_left_of_its_draw() -> None:
    """The record's length is the drawn one; a restart takes the run up with it
    (no new draw), and a record whose length its wait could not have drawn is no
    record."""
    text = (
        "name: test\ntriggers: [{event: /event/test/go}]\nactions:\n"
        "  - set: /light\n    value: 'on'\n"
        "  - wait: {min: 5m, max: 20m}\n"
        "  - set: /light\n    value: 'off'\n"
    )
    loaded = load_scenario(text)
    version = resume_record.fingerprint(text)
    trigger: dict[str, JsonValue] = {"kind": "event", "id": "", "key": GO}
    drawn = engine.Checkpoint((Place(1),), START_WALL + 600.0, 900.0, trigger)
    body, _ = resume_record.encode(version, [drawn], 65536)
    found = resume_record.decode(json.loads(body), version, loaded)
    assert found == (drawn,)
    for seconds in (299.0, 1201.0):
        odd = json.loads(body)
        odd["runs"][0]["seconds"] = seconds
        with pytest.raises(MalformedMessage, match="no_such_wait"):
            resume_record.decode(odd, version, loaded)
    h = harness(loaded, rng=Numbers())  # no draw: the source would fail
    h.feed(h.core.on_startup(h.mono, h.wall, resume=found))
    h.advance(599.0)
    assert sets(h.outputs) == []
    h.advance(1.0)
    assert sets(h.outputs) == [run.SetKey("/light", "off")]


# --- expr: values computed when the action runs ---------------------------------------
COUNTER = "(kv('/house/doorbell/rings') or 0) + 1"


def test_a_counter_counts_each_run_from_what_the_tree_holds() -> None:
    tree: dict[str, JsonValue] = {}
    h = harness(
        scenario([m.SetAction(RINGS, None, expr=compile_expression(COUNTER))], [EVENT]),
        tree=tree,
    )
    for ring in (1, 2):
        [written] = sets(h.change(GO, ring))
        assert written == run.SetKey(RINGS, ring)
        tree[RINGS] = written.value  # the tree stores what the run set
    assert h.core.status.runs == 2


def test_expr_values_see_the_trigger_variables_and_random() -> None:
    h = harness(
        scenario(
            [
                m.SetAction(
                    "/half", None, expr=compile_expression("trigger.value * 0.5")
                ),
                m.EventAction(
                    "/event/level", expr=compile_expression("round(random(0, step))")
                ),
                m.EventAction("/event/none", expr=compile_expression("null")),
                m.SetAction("/none", None, expr=compile_expression("kv('/absent')")),
            ],
            [EVENT],
            variables={"step": 10},
        ),
        rng=Numbers(0.44),
    )
    outputs = h.change(GO, 80)
    effects = [o for o in outputs if isinstance(o, run.SetKey | run.PublishEvent)]
    assert effects == [
        run.SetKey("/half", 40.0),
        run.PublishEvent("/event/level", 4),
        run.PublishEvent("/event/none", None),  # null computed is published as null
        run.SetKey("/none", None),  # stored as null, as `value: null` is
    ]


def test_a_fault_in_an_expr_fails_the_run_naming_the_action_and_expression() -> None:
    h = harness(
        scenario(
            [
                m.SetAction(RINGS, None, expr=compile_expression(COUNTER)),
                m.SetAction("/after", 1),
            ],
            [EVENT],
        ),
        tree={RINGS: "many"},
    )
    assert sets(h.change(GO, 1)) == []
    assert h.state is engine.State.ERROR
    assert h.core.status.last_error == (
        "set /house/doorbell/rings: expression \"(kv('/house/doorbell/rings') or 0)"
        " + 1\": '+' needs a number, got 'many' (at offset 35)"
    )
    device = harness(
        scenario(
            [
                m.DeviceAction(
                    "hub.fake.hall",
                    "level",
                    expr=compile_expression("1 / trigger.value"),
                )
            ],
            [EVENT],
        )
    )
    device.change(GO, 0)
    assert device.core.status.last_error == (
        "device hub.fake.hall level: expression '1 / trigger.value': division by "
        "zero in 1 / 0 (at offset 2)"
    )


def test_a_device_gets_the_computed_value_and_no_value_for_null() -> None:
    h = harness(
        scenario(
            [
                m.DeviceAction(
                    "hub.fake.hall",
                    "level",
                    expr=compile_expression("kv('/device/hub.fake.hall/value') / 2"),
                ),
                m.DeviceAction("hub.fake.lamp", "on", expr=compile_expression("null")),
            ],
            [EVENT],
        ),
        tree={"/device/hub.fake.hall/value": 100},
    )
    [level] = requests(h.change(GO, 1))
    assert level.service == "hub.fake.devices"
    assert json.loads(level.body[0]) == {
        "v": 1,
        "action": "level",
        "device": "hall",
        "value": 50.0,
    }
    [on] = requests(h.reply(level, b"200"))
    assert json.loads(on.body[0]) == {"v": 1, "action": "on", "device": "lamp"}
