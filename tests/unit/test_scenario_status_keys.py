"""The /scenario/<name>/… state keys a scenario's status is written as."""

from __future__ import annotations

import json

from raspy.devices.template import JsonValue
from raspy.rules.engine import State, Status
from raspy.rules.status_entries import SHOWN_VALUE_BYTES, status_entries


def _status(trigger: dict[str, JsonValue]) -> Status:
    return Status(State.IDLE, 3, 1_800_000_000.0, trigger, None)


def test_every_state_key_is_written_as_json() -> None:
    trigger: dict[str, JsonValue] = {
        "kind": "kv",
        "id": "",
        "key": "/device/a/value",
        "value": 21.5,
    }
    entries = status_entries("heat", _status({**trigger, "from": None}))
    assert {k: json.loads(v) for k, v in entries.items()} == {
        "/scenario/heat/state": "idle",
        "/scenario/heat/runs": 3,
        "/scenario/heat/last_run": 1_800_000_000.0,
        "/scenario/heat/last_trigger": {**trigger, "from": None},
        "/scenario/heat/last_error": None,
        "/scenario/heat/last_error_at": None,
        "/scenario/heat/error_from": None,
    }


def test_a_huge_trigger_value_is_named_by_its_size_not_copied() -> None:
    """A value near [clone] max_value_bytes, with its old value, made last_trigger
    too big for the Clone server, which dropped it: the key went stale silently."""
    big = "x" * 200_000
    trigger: dict[str, JsonValue] = {
        "kind": "kv",
        "id": "",
        "key": "/k",
        "value": big,
        "from": [big],
    }
    body = status_entries("s", _status(trigger))["/scenario/s/last_trigger"]
    shown = json.loads(body)
    assert shown["value"] == "(200002 bytes of JSON, not shown)"
    assert shown["from"] == "(200004 bytes of JSON, not shown)"
    assert shown["key"] == "/k"
    assert len(body) < 2 * SHOWN_VALUE_BYTES


def test_a_value_up_to_the_limit_is_shown_whole() -> None:
    value = "é" * ((SHOWN_VALUE_BYTES - 2) // 2)  # two bytes each in UTF-8
    trigger: dict[str, JsonValue] = {"key": "/k", "value": value, "from": 1}
    body = status_entries("s", _status(trigger))["/scenario/s/last_trigger"]
    assert json.loads(body)["value"] == value


def test_a_trigger_value_json_cannot_hold_is_shown_as_a_note() -> None:
    """A tree body `1e400` reads as an infinity: last_trigger was written with
    `Infinity` in it, which no JSON reader takes (the web face, MQTT)."""
    trigger: dict[str, JsonValue] = {
        "key": "/k",
        "value": float("inf"),
        "from": [float("nan")],
    }
    body = status_entries("s", _status(trigger))["/scenario/s/last_trigger"]
    assert json.loads(body, parse_constant=_no_constant) == {
        "key": "/k",
        "value": "(inf: not a finite number, not shown)",
        "from": "(a value holding a number that is not finite, not shown)",
    }


def _no_constant(name: str) -> None:
    raise AssertionError(f"{name} written: no JSON")
