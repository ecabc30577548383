"""A scenario's status as the tree and the replies show it: its `/scenario/<name>/…`
entries as JSON bodies, a trigger's values cut to a size.

Pure: the core actor (actors/core/status_keys.py) writes the entries, its service
shows the trigger and the last skip in its replies.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Final

from raspy import json_text
from raspy.devices.template import JsonValue
from raspy.rules.engine_output import State, Status
from raspy.rules.raspy_keys import STATE_KEYS

# A trigger's value and old value are shown in last_trigger up to this size of JSON
# each: a key's value may be up to [clone] max_value_bytes, and two of them would not
# fit in one (the Clone server dropped the write, and the key went stale silently).
SHOWN_VALUE_BYTES: Final = 1024


def status_entries(name: str, status: Status) -> dict[str, bytes]:
    """`/scenario/<name>/<entry>` -> JSON body, for every state key."""
    values: dict[str, JsonValue] = {
        "state": status.state.value,
        "runs": status.runs,
        "last_run": status.last_run,
        "last_trigger": shown_trigger(status.last_trigger),
        "last_error": status.last_error,
        "last_error_at": status.last_error_at,
        # beside `error` only: what a restart keeps of it (rules.tree_view)
        "error_from": status.error_from.value if status.state is State.ERROR else None,
    }
    return {
        f"/scenario/{name}/{entry}": json_text.encode(values[entry])
        for entry in STATE_KEYS
    }


def shown_trigger(
    trigger: Mapping[str, JsonValue] | None,
) -> dict[str, JsonValue] | None:
    """A trigger's data as the tree and the replies show it: each value up to
    SHOWN_VALUE_BYTES of JSON, a larger one by its size."""
    return None if trigger is None else {k: _shown(v) for k, v in trigger.items()}


def shown_skip(skip: Mapping[str, JsonValue] | None) -> JsonValue:
    """The last skip as replies show it: its trigger's values capped as the tree's
    last_trigger is (a list of many scenarios stays small)."""
    if skip is None:
        return None
    trigger = skip.get("trigger")
    if not isinstance(trigger, dict):
        return dict(skip)
    return {**skip, "trigger": shown_trigger(trigger)}


def _shown(value: JsonValue) -> JsonValue:
    """`value`, or a note of its size when its JSON is over SHOWN_VALUE_BYTES, or
    a note that it is no JSON (a number that is not finite: a body `1e400`)."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"({value!r}: not a finite number, not shown)"
    if isinstance(value, str | list | dict):
        try:
            size = len(json_text.encode(value))
        except ValueError:
            return "(a value holding a number that is not finite, not shown)"
        if size > SHOWN_VALUE_BYTES:
            return f"({size} bytes of JSON, not shown)"
    return value
