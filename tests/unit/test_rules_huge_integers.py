"""A variable may hold any JSON number, an integer no float holds among them (YAML
reads 1 and 400 zeros as one): a function that needs a float of it faults as any
runtime fault does, naming the condition or action, the expression and the place
(docs/scenarios.md, "Conditions and expressions"), rather than raise out of the
engine."""

from __future__ import annotations

from support.scenario_engine import Harness, harness, sets

from raspy.rules import engine
from raspy.rules.document import load_scenario

HUGE = "1" + "0" * 400  # past the largest float (about 1.8e308)


def _loaded(text: str) -> Harness:
    return harness(load_scenario(f"name: test\nvariables: {{v: {HUGE}}}\n{text}"))


def test_a_condition_that_rounds_a_huge_integer_fails_naming_it() -> None:
    """It raised OverflowError out of the engine: the scenario's actor logged a
    traceback and the scenario showed nothing."""
    h = _loaded(
        "triggers: [{event: /event/go}]\n"
        'conditions: ["round(v) > 1"]\n'
        "actions: [{set: /m, value: 1}]\n"
    )
    ended = [o for o in h.change("/event/go", True) if isinstance(o, engine.RunEnded)]
    reason = (
        "condition 1: expression 'round(v) > 1': the result is out of range"
        " (±2**63) (at offset 0)"
    )
    assert ended == [engine.RunEnded(0, reason)]
    assert (h.state, h.core.status.last_error) == (engine.State.ERROR, reason)


def test_a_when_test_that_rounds_a_huge_integer_is_a_fault_of_the_trigger() -> None:
    h = _loaded(
        "triggers: [{when: \"kv('/go') == 1 and round(v, 2) > 1\"}]\n"
        "actions: [{set: /m, value: 1}]\n"
    )
    assert sets(h.change("/go", 1)) == []
    assert h.state is engine.State.ERROR
    assert h.core.status.last_error == (
        "trigger 1 when: expression \"kv('/go') == 1 and round(v, 2) > 1\": the"
        " result is out of range (±2**63) (at offset 19)"
    )


def test_an_action_that_draws_up_to_a_huge_integer_fails_naming_it() -> None:
    """The run failed with `OverflowError: int too large to convert to float`,
    which named neither the action nor the expression."""
    h = _loaded(
        'triggers: [{event: /event/go}]\nactions: [{set: /m, expr: "random(0, v)"}]\n'
    )
    h.change("/event/go", True)
    assert h.core.status.last_error == (
        "set /m: expression 'random(0, v)': random() needs numbers a float holds,"
        " got a large number (at offset 0)"
    )
