"""`repeat.index` (docs/scenarios.md, Conditions and expressions, Templates): the
pass of the repeat a template or expression is in, 1 for the first; in nested
repeats the innermost's. Outside a repeat's actions it is refused at import, at its
place; a run taken up after a restart inside a repeat has its pass."""

from __future__ import annotations

import json

import pytest
from support.expr_context import make_context
from support.scenario_engine import START_MONO, harness, sets

from raspy.devices.template import JsonValue
from raspy.rules import engine, resume_record
from raspy.rules.document import load_scenario, validate_scenario
from raspy.rules.expr import ExpressionError, compile_expression
from raspy.rules.template import render_in

GO = "/event/test/go"


def _doc(actions: str, *, name: str = "rounds") -> str:
    return f"name: {name}\ntriggers:\n  - event: {GO}\nactions:\n{actions}"


def _values(doc: str) -> list[tuple[str, JsonValue]]:
    h = harness(load_scenario(doc))
    h.change(GO, 1)
    assert h.core.status.last_error is None
    return [(s.key, s.value) for s in sets(h.outputs)]


def test_the_first_pass_is_1_in_a_template_and_an_expression() -> None:
    doc = _doc(
        "  - repeat:\n"
        "      count: 3\n"
        "      actions:\n"
        "        - set: /round/{repeat.index}\n"
        "          expr: repeat.index * 10\n"
    )
    assert _values(doc) == [("/round/1", 10), ("/round/2", 20), ("/round/3", 30)]


def test_a_field_alone_keeps_the_number() -> None:
    doc = _doc(
        "  - repeat:\n      count: 2\n      actions:\n"
        '        - {set: /n, value: "{repeat.index}"}\n'
    )
    assert _values(doc) == [("/n", 1), ("/n", 2)]


def test_in_nested_repeats_it_is_the_innermost_s() -> None:
    doc = _doc(
        "  - repeat:\n"
        "      count: 2\n"
        "      actions:\n"
        "        - {set: /outer, value: '{repeat.index}'}\n"
        "        - repeat:\n"
        "            count: 2\n"
        "            actions:\n"
        "              - {set: /inner, value: '{repeat.index}'}\n"
        "        - {set: /after, value: '{repeat.index}'}\n"
    )
    assert _values(doc) == [
        ("/outer", 1),
        ("/inner", 1),
        ("/inner", 2),
        ("/after", 1),
        ("/outer", 2),
        ("/inner", 1),
        ("/inner", 2),
        ("/after", 2),
    ]


def test_while_sees_the_pass_it_would_make_and_until_the_pass_made() -> None:
    doc = _doc(
        "  - repeat:\n"
        "      while: repeat.index <= 3\n"
        "      actions: [{set: /w, value: '{repeat.index}'}]\n"
        "  - repeat:\n"
        "      until: repeat.index == 2\n"
        "      actions: [{set: /u, value: '{repeat.index}'}]\n"
    )
    assert _values(doc) == [("/w", 1), ("/w", 2), ("/w", 3), ("/u", 1), ("/u", 2)]


def test_outside_a_repeat_it_is_refused_at_its_place() -> None:
    doc = _doc(
        "  - set: /a\n"
        "    value: 'pass {repeat.index}'\n"
        "  - condition: 'repeat.index > 1'\n"
        "  - repeat:\n"
        "      count: 2\n"
        "      actions: [{log: '{repeat.index}'}]\n"
        "  - log: '{repeat.index}'\n"
    )
    assert validate_scenario(doc, "s.yaml") == [
        "s.yaml:6:18: actions[0].value: repeat.index is known only inside a"
        " repeat's actions",
        "s.yaml:7:17: actions[1].condition: repeat.index is known only inside a"
        " repeat's actions",
        "s.yaml:11:11: actions[3].log: repeat.index is known only inside a"
        " repeat's actions",
    ]


def test_in_the_scenario_s_conditions_it_is_refused() -> None:
    doc = "name: a\nconditions: ['repeat.index == 1']\nactions: [{log: x}]\n"
    assert validate_scenario(doc, "s.yaml") == [
        "s.yaml:2:15: conditions[0]: repeat.index is known only inside a repeat's"
        " actions"
    ]


def test_a_variable_named_repeat_is_still_a_variable() -> None:
    doc = (
        "name: a\nvariables: {repeat: 4}\ntriggers: [{event: /event/test/go}]\n"
        "actions: [{set: /r, expr: repeat + 1}]\n"
    )
    assert _values(doc) == [("/r", 5)]


def test_repeat_has_no_other_field() -> None:
    with pytest.raises(ExpressionError) as caught:
        compile_expression("repeat.count")
    assert caught.value.reason == "repeat has only the field index, got 'count'"


def test_the_expression_and_template_read_it_from_the_context() -> None:
    context = make_context(repeat_index=4)
    assert compile_expression("repeat.index + 1").evaluate(context) == 5
    assert render_in("#{repeat.index}", context) == "#4"
    with pytest.raises(ExpressionError):
        compile_expression("repeat.index").evaluate(make_context())


def test_a_run_taken_up_in_pass_2_has_index_2_then_3() -> None:
    doc = load_scenario(
        _doc(
            "  - repeat:\n"
            "      count: 3\n"
            "      actions:\n"
            "        - wait: 10m\n"
            "        - {set: /done, value: '{repeat.index}'}\n"
        )
    )
    h = harness(doc)
    h.change(GO, 1)
    h.advance(600.0)
    h.advance(60.0)  # in pass 2's wait
    records = [out.runs for out in h.outputs if isinstance(out, engine.Resumable)]
    body, _ = resume_record.encode("v", records[-1], 65536)
    r = harness(doc)
    r.mono, r.wall = START_MONO + 7.0, h.wall
    runs = resume_record.decode(json.loads(body), "v", doc)
    r.feed(r.core.on_startup(r.mono, r.wall, resume=runs))
    r.advance(540.0)
    r.advance(600.0)
    assert [s.value for s in sets(r.outputs)] == [2, 3]
