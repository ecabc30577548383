"""A time-triggered scenario tried before its time: `run` with "trigger" runs as if
the trigger of that id fired (`raspy scenario run NAME --trigger ID`), and `get`
says when each time trigger fires next. A manual run had no `trigger.id`, so the
23:30 branch of an evening scenario could not be tried, and nothing said when it
would fire (docs/scenarios.md "The command line")."""

from __future__ import annotations

import dataclasses

import pytest
from support.core_actors import (
    Core,
    core_fixture,  # noqa: F401  # fixture `core`
    tree_fixture,  # noqa: F401  # fixture `tree`
    value,
    wait_value,
)
from support.device_services import server_fixture  # noqa: F401  # fixture `server`
from support.wait import wait_until

from raspy.cli.scenario_text import describe_trigger
from raspy.client.clone import CloneClient
from raspy.devices.template import JsonValue

pytestmark = pytest.mark.timeout(30)

# the fake clock starts at 1_700_000_000: 2023-11-14 22:13:20 UTC (the core's zone)
START = 1_700_000_000.0
EVENING = """\
name: evening
triggers:
  - at: "18:00"
    id: "on"
  - at: "23:30"
    id: "off"
  - kv: /house/mode
    id: mode
  - every: 1h
actions:
  - set: /scenario/evening/did
    value: "{trigger.kind} {trigger.id} {trigger.key} {trigger.value}"
"""


def test_a_run_as_a_trigger_sees_its_id_and_kind(core: Core, tree: CloneClient) -> None:
    core.server.publisher.set(b"/house/mode", b'"away"')  # before: fires nothing
    wait_value(tree, "/house/mode", "away")
    core.start()
    assert core.request("import", document=EVENING)[0] == b"200"
    wait_value(tree, "/scenario/evening/state", "idle")
    status, reply = core.request("run", name="evening", trigger="off")
    assert (status, reply["state"]) == (b"200", "idle")
    wait_value(tree, "/scenario/evening/did", f"at off null {START}")
    # a kv trigger on one key: that key, and its value in the tree now
    assert core.request("run", name="evening", trigger="mode")[0] == b"200"
    wait_value(tree, "/scenario/evening/did", "kv mode /house/mode away")
    # the run's own set and the core's last_trigger are two writers' keys: the
    # second may land a commit after the first
    last = _seen(tree, "id", "mode")
    assert last["tried"] is True  # no firing: a try
    assert describe_trigger(last) == 'kv (mode) /house/mode = "away" (tried by hand)'
    # a plain manual run and a real firing are not marked
    assert core.request("run", name="evening")[0] == b"200"
    wait_value(tree, "/scenario/evening/did", "manual  null null")
    assert "tried" not in _seen(tree, "kind", "manual")
    core.server.publisher.set(b"/house/mode", b'"home"')
    wait_value(tree, "/scenario/evening/did", "kv mode /house/mode home")
    assert "tried" not in _seen(tree, "value", "home")


def _seen(tree: CloneClient, field: str, wanted: JsonValue) -> dict[str, JsonValue]:
    """The last trigger once its `field` is `wanted` (the core writes it, after
    the run's own set may have landed)."""

    def found() -> dict[str, JsonValue] | None:
        last = _last_trigger(tree)
        return last if last.get(field) == wanted else None

    last = wait_until(found, what=f"the last trigger's {field} == {wanted!r}")
    assert last is not None
    return last


def _last_trigger(tree: CloneClient) -> dict[str, JsonValue]:
    last = value(tree, "/scenario/evening/last_trigger")
    assert isinstance(last, dict)
    return last


def test_an_unknown_trigger_id_is_refused_naming_the_known_ones(core: Core) -> None:
    core.start()
    assert core.request("import", document=EVENING)[0] == b"200"
    assert core.request("run", name="evening", trigger="of") == (
        b"400",
        {
            "error": "scenario evening has no trigger with id 'of' (its trigger ids:"
            " 'on', 'off', 'mode')"
        },
    )
    assert core.request("run", name="evening", trigger=3)[0] == b"400"


def test_get_and_list_say_when_each_time_trigger_fires_next(core: Core) -> None:
    core.start()
    assert core.request("import", document=EVENING)[0] == b"200"
    expected = [
        {"trigger": 0, "id": "on", "kind": "at", "label": "at", "at": START + 71_200},
        {"trigger": 1, "id": "off", "kind": "at", "label": "at", "at": START + 4_600},
        {
            "trigger": 3,
            "id": None,
            "kind": "every",
            "label": "every",
            "at": START + 3_600,
        },
    ]
    status, reply = core.request("get", name="evening")
    assert (status, reply["next_fires"]) == (b"200", expected)
    assert core.request("list")[1][0]["next_fires"] == expected
    assert core.request("disable", name="evening")[0] == b"200"
    assert core.request("get", name="evening")[1]["next_fires"] == []


SUN = """\
name: lights
triggers:
  - sun: sunset
    offset: -15m
  - sun: dawn
    id: early
  - sun: sunrise
    offset: 1h30m
actions:
  - set: /scenario/lights/did
    value: "x"
"""


def test_a_sun_trigger_s_next_fire_says_its_event_and_offset(core: Core) -> None:
    """`sun` alone did not say which of a scenario's sun triggers fires then."""
    core.config = dataclasses.replace(core.config, latitude=52.5, longitude=13.4)
    core.start()
    assert core.request("import", document=SUN)[0] == b"200"
    fires = core.request("get", name="lights")[1]["next_fires"]
    assert [(f["kind"], f["label"], f["id"]) for f in fires] == [
        ("sun", "sunset -15m", None),
        ("sun", "dawn", "early"),
        ("sun", "sunrise +1h30m", None),
    ]


SHARED = """\
name: shared
triggers:
  - at: "18:00"
    id: lamp
  - kv: /house/mode
    id: lamp
  - at: "23:30"
    id: "off"
  - cron: "0 7 * * *"
    id: "off"
  - every: 1h
    id: hourly
actions:
  - set: /scenario/shared/did
    value: "{trigger.kind}"
"""
NO_IDS = """\
name: plain
triggers:
  - at: "18:00"
actions:
  - set: /scenario/plain/did
    value: "x"
"""


def test_an_id_several_triggers_share_is_refused_naming_them(core: Core) -> None:
    """Which of them was meant is not known: the first was taken silently."""
    core.start()
    assert core.request("import", document=SHARED)[0] == b"200"
    assert core.request("run", name="shared", trigger="lamp") == (
        b"400",
        {
            "error": "scenario shared has 2 triggers with id 'lamp' (triggers 1 (at),"
            " 2 (kv)): give each its own id to run it as one of them"
        },
    )
    assert core.request("run", name="shared", trigger="hourly")[0] == b"200"
    # the known ids are each named once
    assert core.request("run", name="shared", trigger="x")[1] == {
        "error": "scenario shared has no trigger with id 'x' (its trigger ids:"
        " 'lamp', 'off', 'hourly')"
    }
    assert core.request("import", document=NO_IDS)[0] == b"200"
    assert core.request("run", name="plain", trigger="x")[1] == {
        "error": "scenario plain has no trigger with id 'x'"
        " (none of its triggers has an id)"
    }


ESCAPED = """\
name: bracket
triggers:
  - kv: "/house/[[]1]"
    id: one
  - kv: "/house/[12]"
    id: two
actions:
  - set: /scenario/bracket/did
    value: "{trigger.id} {trigger.key} {trigger.value}"
"""


def test_a_key_escaped_as_a_glob_is_one_key_a_class_is_not(
    core: Core, tree: CloneClient
) -> None:
    """`/house/[[]1]` matches the key `/house/[1]` alone (the escape a glob of a
    key has): the run sees that key and its value, as for any key written out."""
    core.server.publisher.set(b"/house/[1]", b'"x"')
    wait_value(tree, "/house/[1]", "x")
    core.start()
    assert core.request("import", document=ESCAPED)[0] == b"200"
    assert core.request("run", name="bracket", trigger="one")[0] == b"200"
    wait_value(tree, "/scenario/bracket/did", "one /house/[1] x")
    assert core.request("run", name="bracket", trigger="two")[0] == b"200"
    wait_value(tree, "/scenario/bracket/did", "two null null")
