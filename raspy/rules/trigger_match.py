"""Which Clone changes fire a scenario's kv triggers, and the `trigger` a run sees (pure)."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable

from raspy.devices.template import JsonValue
from raspy.rules import model


def glob(pattern: str) -> Callable[[str], bool]:
    match = re.compile(fnmatch.translate(pattern)).match
    return lambda key: match(key) is not None


def matcher(patterns: Iterable[str]) -> Callable[[str], bool]:
    """One test for several globs (the owner's routing of keys to scenarios)."""
    joined = "|".join(f"(?:{fnmatch.translate(p)})" for p in patterns)
    if not joined:
        return lambda key: False
    match = re.compile(joined).match
    return lambda key: match(key) is not None


def same(a: JsonValue, b: JsonValue) -> bool:
    """JSON equality: true is not 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    return a == b


def as_number(value: JsonValue) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def holds(trigger: model.KvTrigger, value: JsonValue) -> bool:
    """The value part of the test (`to`, `below`, `above`): what `for:` needs to keep."""
    if trigger.has_to and not same(value, trigger.to):
        return False
    if trigger.below is None and trigger.above is None:
        return True
    number = as_number(value)
    if number is None:
        return False
    if trigger.below is not None and not number < trigger.below:
        return False
    return trigger.above is None or number > trigger.above


def fires(trigger: model.KvTrigger, old: JsonValue, new: JsonValue) -> bool:
    """A change fires when it enters the test: a bound is crossed into, `to` is
    reached, `from` was left; a trigger with no test fires on any change of value."""
    if trigger.has_from and not same(old, trigger.from_):
        return False
    if not holds(trigger, new):
        return False
    if trigger.below is not None or trigger.above is not None:
        return not holds(trigger, old)
    return not same(old, new)


def trigger_data(
    kind: str,
    trigger_id: str,
    *,
    key: str | None = None,
    value: JsonValue = None,
    from_: JsonValue = None,
) -> dict[str, JsonValue]:
    """What `trigger.*` shows in templates and expressions."""
    return {"kind": kind, "id": trigger_id, "key": key, "value": value, "from": from_}
