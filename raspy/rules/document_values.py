"""The values inside a scenario's actions -> what rules.model holds (problems recorded
in Checks, never raised): durations, JSON values whose strings are templates, the
`value:` / `expr:` pair of `set`, `device` and `event`, and a `wait:`'s length,
fixed or drawn at random between a `min:` and a `max:`."""

from __future__ import annotations

from typing import Final

import yaml

from raspy.devices.template import JsonValue
from raspy.rules import model
from raspy.rules.document_checks import Checks
from raspy.rules.document_shapes import join
from raspy.rules.document_yaml import INVALID, Invalid, duration_mapping_hint, kind_of
from raspy.rules.duration import parse_duration
from raspy.rules.expr import CompiledExpression

Entries = dict[str, tuple[yaml.Node, yaml.Node]]
RANDOM_WAIT_KEYS: Final = ("min", "max")


def seconds(
    checks: Checks, entries: Entries, path: str, key: str, default: float
) -> float | Invalid:
    """A positive duration under `key`, `default` without it."""
    if key not in entries:
        return default
    found = checks.parsed(entries[key][1], join(path, key), parse_duration)
    if found is None:
        return INVALID
    if found <= 0:
        checks.problem(entries[key][1], join(path, key), "expected a duration > 0")
        return INVALID
    return found


def value(checks: Checks, entries: Entries, path: str, key: str) -> JsonValue | Invalid:
    """The JSON value under `key` (None without it), its strings checked as templates."""
    if key not in entries:
        return None
    return checks.json(entries[key][1], join(path, key), templates=True)


def value_or_expr(
    checks: Checks, entries: Entries, path: str, key: str = "value"
) -> tuple[JsonValue, CompiledExpression | None] | Invalid:
    """The `value:` (None without it) or the compiled `expr:` of an action: one of
    them at most (`key` names the value: `body` for an `http:` action). The
    expression is checked as a condition's is (its variables, the templates of its
    kv() keys); it is evaluated when the action runs."""
    if key in entries and "expr" in entries:
        checks.problem(
            entries["expr"][0],
            path,
            f"{key}: and expr: both given; use one (expr: computes the {key} "
            "when the action runs)",
        )
        return INVALID
    if "expr" in entries:
        compiled = checks.expression(entries["expr"][1], join(path, "expr"), test=False)
        return INVALID if compiled is None else (None, compiled)
    found = value(checks, entries, path, key)
    return INVALID if isinstance(found, Invalid) else (found, None)


def wait(checks: Checks, node: yaml.Node, where: str) -> model.WaitAction | None:
    """`wait: DURATION`, or `wait: {min: DURATION, max: DURATION}`: a length drawn
    uniformly from [min, max] each time the wait starts."""
    if isinstance(node, yaml.ScalarNode):
        fixed = checks.parsed(node, where, parse_duration)
        return None if fixed is None else model.WaitAction(fixed)
    if not isinstance(node, yaml.MappingNode):
        checks.problem(
            node,
            where,
            f"expected a duration like 5m, or {{min: 5m, max: 20m}}, got {kind_of(node)}",
        )
        return None
    hint = duration_mapping_hint(node)  # Home Assistant's {minutes: 5}
    if hint is not None:
        checks.problem(node, where, hint)
        return None
    entries = checks.mapping(node, where)
    if entries is None or not checks.known_keys(entries, where, RANDOM_WAIT_KEYS):
        return None
    missing = [key for key in RANDOM_WAIT_KEYS if key not in entries]
    if missing:
        checks.problem(
            node,
            where,
            f"a random wait needs min: and max: (e.g. {{min: 5m, max: 20m}}), "
            f"{missing[0]}: is missing",
        )
        return None
    low = checks.parsed(entries["min"][1], join(where, "min"), parse_duration)
    high = checks.parsed(entries["max"][1], join(where, "max"), parse_duration)
    if low is None or high is None:
        return None
    if low > high:
        checks.problem(
            entries["max"][1],
            join(where, "max"),
            f"expected max >= min, got max {high:g}s < min {low:g}s",
        )
        return None
    return model.WaitAction(low, high)
