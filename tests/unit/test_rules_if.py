"""The `if:` action (docs/scenarios.md, Actions): `if: EXPR` with `then:` and an
optional `else:`, the plain form of a choose with one choice. Its trace says which
way it went, a fault names it, the import checks it as a choice is checked, and a
long wait in it is taken up after a restart as one in a choose is."""

from __future__ import annotations

import json

import pytest
from support.scenario_engine import START_MONO, Harness, harness, sets

from raspy.devices.template import JsonValue
from raspy.errors import MalformedMessage
from raspy.rules import engine, resume_record
from raspy.rules import model as m
from raspy.rules.document import load_scenario, validate_scenario
from raspy.rules.expr import compile_expression
from raspy.rules.resume_path import Place

GO = "/event/test/go"
VERSION = "v-test"
DOC = """\
name: porch
triggers:
  - event: /event/test/go
actions:
  - if: "trigger.value > 20"
    then:
      - set: /porch
        value: warm
    else:
      - set: /porch
        value: cold
  - set: /done
    value: true
"""


def _said(h: Harness) -> list[tuple[str, JsonValue]]:
    return [(s.key, s.value) for s in sets(h.outputs)]


def test_an_if_loads_as_its_condition_then_and_else() -> None:
    scenario = load_scenario(DOC, "porch.yaml")
    assert scenario.actions[0] == m.IfAction(
        compile_expression("trigger.value > 20"),
        (m.SetAction("/porch", "warm"),),
        (m.SetAction("/porch", "cold"),),
    )


def test_an_if_without_else_does_nothing_when_false() -> None:
    text = "name: a\nactions:\n  - if: 'false'\n    then: [{log: x}]\n"
    assert load_scenario(text).actions == (
        m.IfAction(compile_expression("false"), (m.LogAction("x"),)),
    )


@pytest.mark.parametrize(
    ("value", "side", "porch"), [(25, "then", "warm"), (10, "else", "cold")]
)
def test_an_if_runs_then_or_else_and_the_trace_says_which(
    value: int, side: str, porch: str
) -> None:
    h = harness(load_scenario(DOC))
    h.change(GO, value)
    assert _said(h) == [("/porch", porch), ("/done", True)]
    assert h.core.status.last_trace == (
        f"+0.0s if: {side}",
        f"+0.0s set /porch = {porch}",
        "+0.0s set /done = true",
        "+0.0s done",
    )


def test_a_fault_in_an_if_names_the_if() -> None:
    h = harness(load_scenario(DOC))
    h.change(GO, "front")
    assert h.core.status.last_error == (
        "if: expression 'trigger.value > 20': cannot compare 'front' > 20"
        " (at offset 14)"
    )


def test_an_if_is_checked_as_a_choice_is_at_its_line_and_column() -> None:
    text = """\
name: a
actions:
  - if: "true"
  - if: "true"
    then: []
  - if: "true"
    then: [{log: x}]
    sequence: [{log: y}]
  - if: "1 +"
    then: [{log: x}]
  - choose: [{if: "true", then: [{log: x}]}]
    then: [{log: y}]
"""
    assert validate_scenario(text, "s.yaml") == [
        "s.yaml:3:5: actions[0]: an if action needs then:",
        "s.yaml:5:11: actions[1].then: expected at least one action",
        "s.yaml:8:5: actions[2]: unknown key 'sequence' (Home Assistant's word;"
        " raspy's is 'then')",
        "s.yaml:9:13: actions[3].if: expected a value, got the end",
        "s.yaml:12:5: actions[4]: unknown key 'then'",
    ]


LONG_DOC = """\
name: porch
triggers:
  - event: /event/test/go
actions:
  - if: "kv('/mode') == 'a'"
    then:
      - {set: /log, value: a1}
      - wait: 20m
      - {set: /log, value: a2}
    else:
      - {set: /log, value: e1}
      - wait: 20m
      - {set: /log, value: e2}
  - {set: /log, value: end}
"""


def _records(h: Harness) -> list[tuple[engine.Checkpoint, ...]]:
    return [out.runs for out in h.outputs if isinstance(out, engine.Resumable)]


@pytest.mark.parametrize(
    ("mode", "choice", "rest"),
    [("a", 1, ["a2", "end"]), ("b", 0, ["e2", "end"])],
    ids=["then", "else"],
)
def test_a_long_wait_in_an_if_goes_on_there_after_a_restart_without_testing_again(
    mode: str, choice: int, rest: list[JsonValue]
) -> None:
    doc = load_scenario(LONG_DOC)
    h = harness(doc, tree={"/mode": mode})
    h.change(GO, 1)
    [(checkpoint,)] = _records(h)
    assert checkpoint.path == (Place(0, choice=choice), Place(1))
    h.advance(300.0)
    body, left_out = resume_record.encode(VERSION, _records(h)[-1], 65536)
    assert left_out == 0
    record = json.loads(body)
    assert record["runs"][0]["at"][0] == {
        "action": 0,
        "choice": 1 if choice else "else",
    }
    # the side is in the path: a tree that would test the other way now changes
    # nothing
    other = "b" if mode == "a" else "a"
    r = harness(doc, tree={"/mode": other})
    r.mono, r.wall = START_MONO + 7.0, h.wall
    r.feed(
        r.core.on_startup(
            r.mono, r.wall, resume=resume_record.decode(record, VERSION, doc)
        )
    )
    r.advance(899.0)
    assert sets(r.outputs) == []
    r.advance(1.0)
    assert [s.value for s in sets(r.outputs)] == rest
    assert r.core.status.state is engine.State.IDLE


@pytest.mark.parametrize(
    "at",
    [
        [{"action": 0, "choice": 2}, {"action": 1}],  # an if has no second choice
        [{"action": 0, "pass": 1}, {"action": 1}],
        [{"action": 0}],  # ends at the if
    ],
)
def test_a_path_into_an_if_that_is_not_there_is_a_lost_run(at: JsonValue) -> None:
    doc = load_scenario(LONG_DOC)
    run: dict[str, JsonValue] = {"at": at, "end": 1.0, "seconds": 1200.0, "trigger": {}}
    value: dict[str, JsonValue] = {"v": 2, "version": VERSION, "runs": [run]}
    with pytest.raises(MalformedMessage) as caught:
        resume_record.decode(value, VERSION, doc)
    assert caught.value.reason == "no_such_place"
