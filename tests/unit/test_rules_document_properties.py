"""The scenario loader under hypothesis (issue #11 "hypothesis on ... the document
loader"): any text, and any YAML-ish damage to a good document, gives a Scenario or
a DocumentError whose problems point inside the text; nothing else escapes."""

from __future__ import annotations

import json
import re

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from raspy.rules import model
from raspy.rules.document import DocumentError, load_scenario

GOOD = """\
name: heat-living
description: Heater on when the living room is cold
mode: queued
max: 4
variables: {target: 19.5, room: living}
triggers:
  - kv: "/device/*.fake.{host}/value"
    below: 19.5
    for: 60s
  - cron: "0 7 * * 1-5"
  - at: "23:00"
  - every: 10m
  - sun: sunset
    offset: -15m
  - event: /event/doorbell/*
  - startup: true
conditions:
  - "kv('/device/{host}.fake.lamp/value') == false"
  - between('06:00', '23:30')
actions:
  - device: "{host}.fake.lamp"
    action: set
    value: true
  - set: /scenario/heat-living/note
    value: {text: "heating {room}", n: [1, 2.5, null]}
    ttl: 1h
  - call: "{host}.echo"
    body: ["hello", {v: 1}]
    titanic: true
  - wait_until: "kv('/device/{host}.fake.living/value') > target"
    timeout: 30m
  - repeat: {count: 3, actions: [{wait: 1s}]}
  - choose: [{if: "trigger.value < 10", then: [{log: cold}]}]
    else: [{log: "warm at {now}", level: debug}]
  - event: /event/heating/on
  - run: other-scenario
  - condition: "weekday() <= 5"
  - set: /scenario/heat-living/count
    expr: "(kv('/scenario/heat-living/count') or 0) + 1"
  - wait: {min: 1s, max: 5m}
  - device: "{host}.fake.hall"
    action: level
    expr: "round(random(10, 90))"
  - event: /event/heating/level
    expr: random()
  - http: "https://ntfy.sh/{room}"
    method: PUT
    body: {text: "heating {room}", at: "{now}"}
    headers: {Title: Heating, Priority: 4}
    timeout: 20s
"""

YAMLISH = [
    ":", " ", "  ", "\n", "-", "- ", "[", "]", "{", "}", ",", "'", '"', "#", "&a", "*a",
    "!!python/object/apply:os.system ", "!x ", "---", "|", ">", "?", "%", "@", "`", "\t",
    "null", "true", "1e999", "0x1F", "12:30", "{{", "}}", "{host}", "{nope}", "**", "(",
    ")", "kv", "name", "actions", "triggers", "wait", "\\", "\x00", "\ufeff", "é",
]  # fmt: skip


def _outcome(text: str) -> model.Scenario | DocumentError:
    try:
        return load_scenario(text, "p.yaml")
    except DocumentError as error:
        return error


def _check(text: str) -> None:
    outcome = _outcome(text)
    if isinstance(outcome, model.Scenario):
        assert outcome.source_text == text
        return
    lines = len(re.split("\r\n|[\n\r\x85\u2028\u2029]", text)) + 1  # YAML's breaks
    assert outcome.problems
    for problem in outcome.problems:
        assert 1 <= problem.line <= lines
        assert problem.col >= 1
    assert str(outcome).splitlines()[0].startswith("p.yaml:")


def test_the_good_document_loads() -> None:
    assert isinstance(_outcome(GOOD), model.Scenario)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_any_text_loads_or_raises_document_error(text: str) -> None:
    _check(text)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(YAMLISH), max_size=40).map("".join))
def test_yamlish_text_loads_or_raises_document_error(text: str) -> None:
    _check(text)


@pytest.mark.timeout(120)  # ~10 s alone; a loaded machine is slower
@settings(max_examples=300, deadline=None)
@given(st.data())
def test_a_damaged_good_document_loads_or_raises_document_error(
    data: st.DataObject,
) -> None:
    text = GOOD
    for _ in range(data.draw(st.integers(1, 4))):
        how = data.draw(
            st.sampled_from(
                ["insert", "delete", "replace", "drop_line", "dup_line", "swap"]
            )
        )
        at = data.draw(st.integers(0, len(text)))
        lines = text.split("\n")
        line = data.draw(st.integers(0, len(lines) - 1))
        if how == "insert":
            text = text[:at] + data.draw(st.sampled_from(YAMLISH)) + text[at:]
        elif how == "delete":
            text = text[:at] + text[at + data.draw(st.integers(1, 8)) :]
        elif how == "replace":
            text = text[:at] + data.draw(st.sampled_from(YAMLISH)) + text[at + 1 :]
        elif how == "drop_line":
            text = "\n".join(lines[:line] + lines[line + 1 :])
        elif how == "dup_line":
            text = "\n".join(lines[: line + 1] + lines[line:])
        else:
            other = data.draw(st.integers(0, len(lines) - 1))
            lines[line], lines[other] = lines[other], lines[line]
            text = "\n".join(lines)
    _check(text)


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(["", "1s", "-5m", "23:00", "sunset", "/a", "/event/x", "{host}",
                       "https://ntfy.sh/x", "ftp://x", "GET", "Title",
                       "{nope}", "x.y.z", "true", "kv('/a')", "1 +", "queued",
                       "random()", "random(2, 1)", "random(1)", "5m"])
    | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.sampled_from(["kv", "wait", "if", "then", "count", "actions",
                                       "value", "expr", "min", "max", "x"]), inner,
                      max_size=3),
    max_leaves=8,
)  # fmt: skip


# GOOD parsed once: PyYAML's pure-Python parse of it took 5 ms an example, a third
# of the test's CPU; its values are JSON's, so a copy through JSON is the same
_GOOD_AS_JSON = json.dumps(yaml.safe_load(GOOD))


def _paths(value: object, path: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    """Every place in a parsed document where a value sits."""
    found = [path] if path else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*path, index))
    return found


@pytest.mark.timeout(120)  # idem
@settings(max_examples=250, deadline=None)
@given(st.data())
def test_any_value_anywhere_in_a_good_document_loads_or_raises_document_error(
    data: st.DataObject,
) -> None:
    """Each key of the contract gets values of every JSON type and shape."""
    document = json.loads(_GOOD_AS_JSON)  # a fresh copy of GOOD parsed
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(_paths(document)))
        parent = document
        for step in path[:-1]:
            parent = parent[step]
        parent[path[-1]] = data.draw(JSON_VALUES)
    _check(json.dumps(document))


VALUE_ACTION_KEYS = ("set", "device", "event", "action", "value", "expr", "ttl",
                     "timeout", "wait", "min", "max", "log")  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(st.sampled_from(VALUE_ACTION_KEYS), JSON_VALUES, max_size=5).filter(
        lambda entry: bool({"set", "device", "event", "wait"} & set(entry))
    )
)
def test_any_mapping_for_a_value_action_or_a_wait_loads_or_raises_document_error(
    entry: dict[str, object],
) -> None:
    """`set`, `device` and `event` with a `value:` or an `expr:`, and a `wait:`
    (a duration, or a random one's {min, max}), given anything at all."""
    _check(json.dumps({"name": "a", "actions": [entry]}))
