"""The /scenario/<name>/… state keys a scenario's status is written as."""

from __future__ import annotations

import json

from raspy.actors.clone.publisher import ClonePublisher
from raspy.actors.core.parts import Entry
from raspy.actors.core.status_keys import StatusKeys
from raspy.devices.template import JsonValue
from raspy.protocol.clone_local import LocalBatch, decode_local
from raspy.rules.engine import State, Status
from raspy.rules.status_entries import SHOWN_VALUE_BYTES, status_entries
from raspy.rules.tree_view import TreeView
from raspy.storage.scenario_store import StoredScenario
from raspy.transport.outbox import Outbox


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


def _messages(outbox: Outbox) -> list[dict[bytes, bytes]]:
    """What the Clone server would read from `outbox`: each message's sets."""
    read: list[dict[bytes, bytes]] = []

    def take(frames: list[bytes]) -> None:
        message = decode_local(frames)
        assert isinstance(message, LocalBatch), "one key a message"
        read.append(dict(message.entries))

    outbox.drain(take, limit=1000)
    outbox.close()
    return read


def test_a_status_is_written_as_one_message_so_in_one_store_commit() -> None:
    """The Clone server commits what it read in one turn, and it may read between
    two messages: a status sent a key at a time was cut into several commits (seen
    in a stress trial: `last_run` alone, then `last_trigger` with `last_error`), and
    a power cut between them kept it half written."""
    outbox = Outbox()
    keys = StatusKeys(TreeView(), ClonePublisher(outbox), lambda prefix: [])
    stored = StoredScenario("heat", "name: heat\n", True, "single", 0.0, 0.0)
    entry = Entry(stored, None, Status(State.IDLE))
    keys.show(entry, _status({"kind": "kv", "key": "/k", "value": 1}), lambda: None)
    ran = Status(
        State.RUNNING,
        runs=4,
        last_run=1_800_000_060.0,
        last_trigger={"kind": "manual"},
        last_error="x",
        last_error_at=1_800_000_001.0,
    )
    keys.show(entry, ran, lambda: 1_800_000_600.0)
    first, second = _messages(outbox)
    assert sorted(first) == sorted(k.encode() for k in status_entries("heat", ran))
    assert sorted(second) == [
        b"/scenario/heat/last_error",
        b"/scenario/heat/last_error_at",
        b"/scenario/heat/last_run",
        b"/scenario/heat/last_trigger",
        b"/scenario/heat/next_fire",
        b"/scenario/heat/runs",
        b"/scenario/heat/state",
    ]
    assert json.loads(second[b"/scenario/heat/runs"]) == 4


def test_the_state_is_written_last_so_a_client_that_sees_it_has_the_rest() -> None:
    """A client that waited for `state` to read `error` then read `last_error` at
    once and found the one before: the tree hands out a set's keys in its order."""
    outbox = Outbox()
    keys = StatusKeys(TreeView(), ClonePublisher(outbox), lambda prefix: [])
    stored = StoredScenario("heat", "name: heat\n", True, "single", 0.0, 0.0)
    entry = Entry(stored, None, Status(State.IDLE))
    failed = Status(
        State.ERROR, runs=1, last_error="boom", last_error_at=1_800_000_001.0
    )
    keys.show(entry, failed, lambda: 1_800_000_600.0)
    (written,) = _messages(outbox)
    assert list(written)[-1] == b"/scenario/heat/state"
    assert b"/scenario/heat/next_fire" in written


def test_a_deletion_the_publisher_refuses_leaves_the_key_in_the_view() -> None:
    """A key over [clone] max_key_bytes (lowered since it was written) is not
    sent, so not deleted from the tree: the core's view lost it all the same, and
    no later show deleted it (a next_fire left by a version with a time trigger)."""
    name = "n" * 40
    fire_key = f"/scenario/{name}/next_fire"
    view = TreeView()
    view.update(fire_key, b"1800000600.0")
    publisher = ClonePublisher(Outbox(), max_key_bytes=len(fire_key) - 1)
    keys = StatusKeys(view, publisher, lambda prefix: [])
    stored = StoredScenario(name, f"name: {name}\n", True, "single", 0.0, 0.0)
    entry = Entry(stored, None, Status(State.IDLE))  # no time trigger: no key

    keys.show(entry, Status(State.ERROR), lambda: None)

    assert view.kv_size(fire_key) > 0
    publisher.outbox.close()
