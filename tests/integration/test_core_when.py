"""The `when:` trigger on the real core (a real edge, Clone server and store): a
thermostat whose setpoint is in the tree, a `for:` hold on the fake clock, a fault
gap (docs/scenarios.md "Triggers", docs/cookbook.md "A thermostat you can set")."""

from __future__ import annotations

import pytest
from support.core_actors import (
    Core,
    core_fixture,  # noqa: F401  # fixture `core`
    tree_fixture,  # noqa: F401  # fixture `tree`
    wait_value,
)
from support.device_services import server_fixture  # noqa: F401  # fixture `server`
from support.wait import wait_until

from raspy.actors import messages as msgs
from raspy.client.clone import CloneClient
from raspy.devices.template import JsonValue

THERMOSTAT = """\
name: thermostat
mode: queued
triggers:
  - when: "kv('/dev/t') < kv('/house/setpoint') - 0.5"
    id: cold
  - when: "kv('/dev/t') > kv('/house/setpoint') + 0.5"
    id: warm
actions:
  - set: /house/heater
    expr: "'on' if trigger.id == 'cold' else 'off'"
"""


def _publish(core: Core, key: str, body: bytes) -> None:
    core.server.publisher.set(key.encode(), body)


def _seen(core: Core, key: str, expected: JsonValue, name: str) -> None:
    """The core took the change of `key`, and scenario `name` took what the core
    told it of it (each actor takes its messages in order)."""
    assert core.ref is not None
    proxy = core.ref.proxy()
    tree_view = proxy.tree.get()
    wait_until(lambda: tree_view.kv(key) == expected, what=f"the core sees {key}")
    core.ref.ask(msgs.Tick(), timeout=5)
    proxy.entries.get()[name].ref.ask(msgs.Tick(), timeout=5)


@pytest.mark.timeout(30)
def test_a_setpoint_raised_above_the_temperature_heats_once_with_hysteresis(
    core: Core, tree: CloneClient
) -> None:
    _publish(core, "/dev/t", b"20.0")
    _publish(core, "/house/setpoint", b"20.0")
    wait_value(tree, "/house/setpoint", 20.0)
    core.start()
    assert core.request("import", document=THERMOSTAT)[0] == b"200"
    wait_value(tree, "/scenario/thermostat/state", "idle")
    _publish(core, "/house/setpoint", b"21.0")  # raised from the web face
    wait_value(tree, "/house/heater", "on")
    wait_value(
        tree,
        "/scenario/thermostat/last_trigger",
        {
            "kind": "when",
            "id": "cold",
            "key": "/house/setpoint",
            "value": True,
            "from": None,
        },
    )
    _publish(core, "/dev/t", b"20.2")  # still cold: no second run
    _publish(core, "/dev/t", b"21.2")  # inside the band: nothing
    _publish(core, "/dev/t", b"21.6")  # warm: off
    wait_value(tree, "/house/heater", "off")
    wait_value(tree, "/scenario/thermostat/runs", 2)
    # waited for too: the core writes a run's count before its trigger (STATE_KEYS'
    # order), and the tree here takes each write in turn
    wait_value(
        tree,
        "/scenario/thermostat/last_trigger",
        {"kind": "when", "id": "warm", "key": "/dev/t", "value": True, "from": None},
    )
    status, got = core.request("get", name="thermostat")
    assert (status, got["runs"], got["state"]) == (b"200", 2, "idle")


@pytest.mark.timeout(30)
def test_a_for_hold_fires_once_held_by_the_clock_and_tells_since(
    core: Core, tree: CloneClient
) -> None:
    document = """\
name: door
triggers:
  - when: "kv('/house/door') == 'open' and kv('/house/away') == true"
    for: 2s
actions:
  - set: /house/told
    value: "{trigger.key} since {trigger.since}"
"""
    _publish(core, "/house/away", b"true")
    _publish(core, "/house/door", b'"closed"')
    wait_value(tree, "/house/door", "closed")
    core.start()
    assert core.request("import", document=document)[0] == b"200"
    wait_value(tree, "/scenario/door/state", "idle")
    opened = core.clock.wall()
    _publish(core, "/house/door", b'"open"')
    _seen(core, "/house/door", "open", "door")  # the hold is on
    core.clock.advance(2)
    wait_value(tree, "/house/told", f"/house/door since {opened}")


@pytest.mark.timeout(30)
def test_a_fault_is_the_scenarios_error_and_fires_nothing_until_it_is_true_again(
    core: Core, tree: CloneClient
) -> None:
    document = """\
name: frost
triggers:
  - when: "kv('/dev/out') < 0"
actions:
  - set: /house/frost
    expr: "kv('/dev/out')"
"""
    _publish(core, "/dev/out", b"2")
    wait_value(tree, "/dev/out", 2)
    core.start()
    assert core.request("import", document=document)[0] == b"200"
    wait_value(tree, "/scenario/frost/state", "idle")
    _publish(core, "/dev/out", b"null")  # the board went offline
    wait_value(tree, "/scenario/frost/state", "error")
    wait_value(
        tree,
        "/scenario/frost/last_error",
        "trigger 1 when: expression \"kv('/dev/out') < 0\": cannot compare null"
        " < 0 (at offset 15)",
    )
    _publish(core, "/dev/out", b"-1.5")  # back, and freezing: false before the gap
    wait_value(tree, "/house/frost", -1.5)
    wait_value(tree, "/scenario/frost/state", "idle")


@pytest.mark.timeout(30)
def test_an_import_refuses_a_when_that_could_never_be_retested(
    core: Core, tree: CloneClient
) -> None:
    document = """\
name: odd
triggers:
  - when: "kv('/x/' + 'y') == 1"
actions:
  - set: /house/odd
    value: 1
"""
    core.start()
    status, reply = core.request("import", document=document, source="odd.yaml")
    assert status == b"400"
    assert reply == {
        "error": "odd.yaml: not a valid scenario",
        "problems": [
            "odd.yaml:3:12: triggers[0].when: a when: is re-tested when a key it"
            " reads changes: write the key out, kv('/house/...'), not put together by"
            " the expression"
        ],
    }
