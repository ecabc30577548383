"""An expression's work is bounded, not only its size: `==`, `in`, `min`, `max`,
`str()` and `kv()` take time in the size of their values, and 60 comparisons of a
100,000-item list in a condition held a scenario's actor for 3 s at every trigger,
or for hours in a `repeat`. A meter (expr_values.Work) makes too much work a fault,
and a run counts its expressions' work as steps."""

from __future__ import annotations

import dataclasses
import json

import pytest
from support.expr_context import make_context
from support.scenario_engine import harness, sets

from raspy import json_text
from raspy.devices.template import JsonValue
from raspy.rules import engine, run
from raspy.rules.document import DocumentError, load_scenario
from raspy.rules.expr import ExpressionError, compile_expression
from raspy.rules.expr_values import MAX_STRING, TOO_MUCH_WORK
from raspy.rules.own_writes import OwnWrites
from raspy.rules.tree_view import TreeView

pytestmark = pytest.mark.timeout(60)

BIG: list[JsonValue] = [0] * 40_000  # 40,000 units a comparison with itself
HUGE: list[JsonValue] = [0] * 400_000


def _evaluate(text: str, **values: JsonValue) -> JsonValue:
    context = make_context(variables=values, tree={"/big": BIG, "/huge": HUGE})
    return compile_expression(text).evaluate(context)


@pytest.mark.parametrize(
    "text",
    [
        " and ".join(["l == l"] * 30),  # 30 comparisons of 40,000 items
        " or ".join(["l != l"] * 30),  # != compares them whole too
        " and ".join(["kv('/big') == kv('/big')"] * 30),
        " and ".join(["[l, l] == [l, l]"] * 15),
        " and ".join(["1 not in l"] * 26),
        " and ".join(["min(l) == 0"] * 15),  # picked from 40,000 items, 15 times
        " and ".join(["max(l) == 0"] * 15),
        " and ".join(["len(kv('/huge')) > 0"] * 25),  # 400,000 items decoded each
    ],
    ids=["eq", "ne", "kv-eq", "nested", "in", "min", "max", "kv-read"],
)
def test_an_expression_that_does_too_much_work_is_a_fault(text: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        _evaluate(text, l=BIG, h=HUGE)
    assert caught.value.reason == TOO_MUCH_WORK


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("str(h)", {"h": HUGE}),  # 800,000 characters: given up past the cap
        ("str([s, s])", {"s": "x" * 40_000}),
        ("str(s)", {"s": "x" * 70_000}),
        ("str(o)", {"o": {"a": "x" * 65_530}}),
    ],
    ids=["long-list", "two-strings", "string", "object"],
)
def test_str_gives_at_most_a_joined_strings_length(
    text: str, values: dict[str, JsonValue]
) -> None:
    """str() of a long list wrote 16 MB before the work's limit stopped it."""
    with pytest.raises(ExpressionError) as caught:
        _evaluate(text, **values)
    assert caught.value.reason == (
        f"str() gives text longer than {MAX_STRING} characters"
    )


def test_str_up_to_the_cap_gives_the_text() -> None:
    text = _evaluate("str([s])", s="x" * (MAX_STRING - 4))
    assert text == '["' + "x" * (MAX_STRING - 4) + '"]'
    assert _evaluate("str(l)", l=[0] * 3) == "[0,0,0]"


@pytest.mark.parametrize("value", [float("inf"), float("nan"), [1, float("-inf")]])
def test_str_of_a_number_json_has_not_is_a_fault_as_in_a_template(
    value: JsonValue,
) -> None:
    """kv() of a key `1e400` reads an infinity: str() wrote `Infinity`."""
    with pytest.raises(ExpressionError) as caught:
        _evaluate("str(x)", x=value)
    assert caught.value.reason == "str() of a number that is not finite"


def test_work_within_the_budget_gives_the_value() -> None:
    # 20 comparisons of 40,000 items: 800,000 units, under the million
    assert _evaluate(" and ".join(["l == l"] * 20), l=BIG) is True
    assert _evaluate("1 in l or min(l) == 0", l=BIG) is True


def test_an_ordinary_expression_charges_next_to_nothing() -> None:
    context = make_context(variables={"target": 19.5}, tree={"/t": 18.5})
    text = "kv('/t') < target - 0.5 and hour() >= 6 and 'a' in ['a', 'b']"
    assert compile_expression(text).evaluate(context) is True
    assert context.work.spent < 10


def _document(body: str, variables: str = "") -> str:
    return f"name: t\n{variables}triggers:\n  - event: /event/x\n" + body.lstrip("\n")


def test_a_condition_that_does_too_much_work_fails_as_a_condition_fault() -> None:
    # 13 x (40,000 compared + 2 reads of their 120,001 bytes): 715,000 units
    condition = " and ".join(["kv('/big') == kv('/big')"] * 13)
    doc = _document(
        f'conditions:\n  - "{condition}"\n  - "{condition}"\n'
        "actions:\n  - set: /x\n    value: 1\n"
    )
    h = harness(load_scenario(doc), tree={"/big": BIG})
    outputs = h.change("/event/x", True)
    assert sets(outputs) == []
    error = h.core.status.last_error or ""
    # the conditions of one trigger share a budget: the second one goes past it
    assert error.startswith("condition 2: expression")
    assert TOO_MUCH_WORK in error


def test_a_loop_of_conditions_counts_their_work_as_steps() -> None:
    """`repeat: count` over a condition comparing a long list ran every pass: 10,000
    passes of 60 comparisons of 100,000 items were 9 hours without a wait."""
    doc = _document(
        "actions:\n  - repeat:\n      count: 1000\n      actions:\n"
        "        - condition: \"kv('/big') == kv('/big')\"\n"
        "        - set: /x\n          value: 1\n"
    )
    h = harness(load_scenario(doc), tree={"/big": [0] * 4000})
    outputs = h.change("/event/x", True)
    # 55 steps of work a pass (4,000 items compared, two reads of their 12,001
    # bytes) and the actions' few: 175 passes, not 1000 (a pass of far more
    # work, a budget's twentieth, would meet the work's own limit first)
    assert 165 <= len(sets(outputs)) <= 185
    ended = [o for o in outputs if isinstance(o, engine.RunEnded)]
    assert ended[0].error == (
        f"more than {run.DEFAULT_STEP_LIMIT} steps without a wait"
        " (counting its expressions' work as steps); stopped"
    )


def test_a_runs_work_is_counted_again_from_each_wait() -> None:
    doc = _document(
        "actions:\n  - repeat:\n      count: 30\n      actions:\n"
        "        - condition: \"kv('/big') == kv('/big')\"\n"
        "        - wait: 1s\n"
    )
    h = harness(load_scenario(doc), tree={"/big": BIG})
    h.change("/event/x", True)
    for _ in range(30):  # 1.5 million units in all: the budget's, and steps'
        h.advance(1.0)
    assert h.core.status.last_error is None
    assert h.state is engine.State.IDLE


def test_a_single_expression_of_a_run_past_the_budget_fails_naming_its_action() -> None:
    condition = " and ".join(["kv('/big') == kv('/big')"] * 30)
    doc = _document(f'actions:\n  - condition: "{condition}"\n')
    h = harness(load_scenario(doc), tree={"/big": BIG})
    h.change("/event/x", True)
    error = h.core.status.last_error or ""
    assert error.startswith("condition: expression")
    assert TOO_MUCH_WORK in error


def test_variables_past_64_kib_of_json_are_refused_at_their_line() -> None:
    items = json.dumps([0] * 40_000)  # 120,000 bytes of JSON
    doc = _document(
        "actions:\n  - set: /x\n    value: 1\n", f"variables:\n  l: {items}\n"
    )
    with pytest.raises(DocumentError) as caught:
        load_scenario(doc)
    (problem,) = caught.value.problems
    assert (problem.line, problem.col) == (3, 3)
    assert problem.message.startswith("variables: their JSON is 120007 bytes")


def test_variables_up_to_64_kib_load() -> None:
    items = json.dumps(list(range(10_000)))
    doc = _document(
        "actions:\n  - set: /x\n    value: 1\n", f"variables:\n  l: {items}\n"
    )
    assert load_scenario(doc).variables["l"] == list(range(10_000))


def test_a_wait_until_past_the_runs_budget_fails_the_run_rather_than_wait() -> None:
    """The first test of a wait_until is the run's work since its last pause: past
    the budget, its fault was taken as no value yet, and a test that holds waited
    until a key changed (for ever, here)."""
    test = " and ".join(["kv('/big') == kv('/big')"] * 4)
    doc = _document(
        "actions:\n  - repeat:\n      count: 17\n      actions:\n"
        "        - condition: \"kv('/big') == kv('/big')\"\n"
        f'  - wait_until: "{test}"\n'
        "  - set: /x\n    value: 1\n"
    )
    h = harness(load_scenario(doc), tree={"/big": BIG})
    outputs = h.change("/event/x", True)
    assert sets(outputs) == []
    (ended,) = [o for o in outputs if isinstance(o, engine.RunEnded)]
    assert (ended.error or "").startswith("wait_until: expression")
    assert TOO_MUCH_WORK in (ended.error or "")
    assert h.state is engine.State.ERROR


def test_a_wait_untils_retests_have_a_budget_of_their_own() -> None:
    """After the first test, each re-test is after a pause: the run's work before
    the wait does not count, and a test that holds lets the run go on."""
    test = "kv('/big') == kv('/big') and kv('/go') == 1"
    doc = _document(
        "actions:\n  - repeat:\n      count: 17\n      actions:\n"
        "        - condition: \"kv('/big') == kv('/big')\"\n"
        f'  - wait_until: "{test}"\n'
        "  - set: /x\n    value: 1\n"
    )
    h = harness(load_scenario(doc), tree={"/big": BIG, "/go": 0})
    h.change("/event/x", True)
    assert h.state is engine.State.RUNNING
    outputs = h.change("/go", 1)
    assert [s.key for s in sets(outputs)] == ["/x"]
    assert h.core.status.last_error is None


_DAY: list[JsonValue] = [round(20 + (i % 50) / 10, 1) for i in range(1440)]
NESTED: list[JsonValue] = [_DAY * 9]  # a day of readings in one item: 78 KB of JSON


def test_a_kv_read_is_charged_by_the_json_it_decodes_not_its_outside() -> None:
    """A read decodes the key's whole body: a list of one list of 12,960 numbers
    was charged nothing, and 70 reads of it took 67 ms for no work at all."""
    tree = TreeView()
    tree.update("/n", json_text.encode(NESTED))
    context = dataclasses.replace(make_context(), kv=tree.kv, kv_size=tree.kv_size)
    assert compile_expression(" and ".join(["kv('/n')"] * 70)).evaluate(context)
    # 77,762 bytes a read, 16 a unit: 4,860 units, 70 times
    assert context.work.spent == 70 * (len(json_text.encode(NESTED)) // 16)


def test_a_runs_kv_reads_of_the_tree_are_charged_by_their_json() -> None:
    tree = TreeView()
    tree.update("/n", json_text.encode(NESTED))
    own = OwnWrites(tree.kv, tree.kv_size)
    assert own.kv_size("/n") == len(json_text.encode(NESTED))
    own.wrote(run.SetKey("/n", 1))  # written this turn: read back, not decoded
    assert own.kv_size("/n") == 0
