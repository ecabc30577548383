"""A `when:` trigger of a scenario document -> model.WhenTrigger (problems recorded
in Checks, never raised).

A `when:` is re-tested only when something it reads changes: a key it names in a
`kv('...')` (routed by the same globs as a `wait_until`, raspy.rules.expr_keys) or the
time. So an expression that would never be re-tested is refused here, at its line and
column, rather than taken and silent for ever: a key put together by the expression,
a key of fields and slashes only (it would be every key), an expression that reads
neither a key nor the time. `trigger.*` is refused too: the test comes before a
trigger, and no run's trigger is there to read.
"""

from __future__ import annotations

from typing import Final

import yaml

from raspy.devices.template import JsonValue
from raspy.rules import model
from raspy.rules.document_checks import Checks
from raspy.rules.document_shapes import join
from raspy.rules.document_yaml import text_offset
from raspy.rules.duration import parse_duration
from raspy.rules.expr import CompiledExpression
from raspy.rules.expr_functions import TIME_FUNCTIONS
from raspy.rules.expr_keys import key_glob
from raspy.rules.template import TemplateError, parse

_PLACEHOLDER: Final = "x"  # a variable's or the host's value: only its presence counts


def read_when(
    checks: Checks,
    entries: dict[str, tuple[yaml.Node, yaml.Node]],
    path: str,
    trigger_id: str | None,
) -> model.WhenTrigger | None:
    node = entries["when"][1]
    where = join(path, "when")
    expression = checks.expression(node, where)
    hold_s: float | None = 0.0
    if "for" in entries:
        hold_s = checks.parsed(entries["for"][1], join(path, "for"), parse_duration)
    if expression is None or hold_s is None or trigger_id is None:
        return None
    found = _unwatchable(expression, checks.variables)
    if found is not None:
        reason, offset = found
        checks.problem(node, where, reason, text_offset(node, offset, checks.document))
        return None
    return model.WhenTrigger(expression, reads_time(expression), hold_s, trigger_id)


def reads_nothing(expression: CompiledExpression) -> bool:
    """Whether it reads neither a key written out nor the time: nothing makes a
    `wait_until` of it test again (a key put together by the expression wakes
    nothing: such a wait ends at its timeout, as documented)."""
    return not (expression.kv_keys() or reads_time(expression))


def reads_time(expression: CompiledExpression) -> bool:
    """Whether its value may change with the clock alone: a time function, or a
    key with a time in it (`kv('/plan/{now:%H}')`)."""
    if expression.function_names() & TIME_FUNCTIONS:
        return True
    return any(_has_clock(key) for key in expression.kv_keys())


def _unwatchable(
    expression: CompiledExpression, variables: frozenset[str]
) -> tuple[str, int] | None:
    """Why the expression could not be re-tested when it should, and where."""
    if expression.trigger_uses():
        return (
            "trigger.* is known only in a run; a when: is tested before one",
            expression.trigger_uses()[0],
        )
    if expression.computed_keys():
        return (
            "a when: is re-tested when a key it reads changes: write the key out,"
            " kv('/house/...'), not put together by the expression",
            expression.computed_keys()[0],
        )
    names: dict[str, JsonValue] = dict.fromkeys(variables, _PLACEHOLDER)
    names["host"] = _PLACEHOLDER
    for key, offset in expression.kv_literals():
        if "{trigger." in key:
            return (
                "trigger.* is known only in a run; a when: is tested before one",
                offset,
            )
        if key_glob(key, names) is None:
            return (
                "kv() of a key of fields and slashes only cannot be watched (it would"
                " be every key): write its fixed parts out",
                offset,
            )
    if reads_nothing(expression):
        return (
            "reads no key with kv('...') and not the time, so it never changes:"
            " a when: fires when what it reads makes it true",
            0,
        )
    return None


def _has_clock(key: str) -> bool:
    """A time in the key: a field written as one (`{now:%H}`), or `{now}` itself."""
    try:
        return any(
            not isinstance(part, str) and (part.clock is not None or part.name == "now")
            for part in parse(key)
        )
    except TemplateError:
        return False
