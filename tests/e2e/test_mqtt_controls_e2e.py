"""The controls ([[controls]]) as Home Assistant entities: a real raspyd and a real
Mosquitto. Each control is announced as a number, select, switch or text of the hub
(checked field by field against Home Assistant's schema), its value retained at
`<base>/<host>/control/<level>/value`; a command sets it; a control taken out of the
config over a restart leaves no entity behind."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Any, Final

import pytest
from support.daemon import hostname, running_daemon
from support.ha_schema import PREFIX, schema_problems
from support.ha_state import UNKNOWN, shown_after
from support.mosquitto import BASE, Watcher, bridge_config, running_mosquitto
from support.wait import wait_until

from raspy.client.clone import CloneClient

SETPOINT: Final = """
[[controls]]
key = "/house/living/setpoint"
label = "Living room setpoint"
kind = "number"
min = 15
max = 25
step = 0.5
unit = "°C"
initial = 20
"""
OTHERS: Final = """
[[controls]]
key = "/house/mode"
kind = "choice"
options = ["home", "away", "holiday"]
initial = "home"

[[controls]]
key = "/house/guests"
kind = "switch"
initial = false

[[controls]]
key = "/house/note"
kind = "text"
max_length = 400

[[controls]]
key = "/house/offset"
kind = "number"
"""


def _config(broker: Any, controls: str) -> str:
    return f"{bridge_config(broker)}\n{controls}"


def _by_unique(watcher: Watcher) -> dict[str, tuple[str, dict[str, Any]]]:
    with watcher._lock:
        latest = dict(watcher.latest)
    return {
        json.loads(p)["unique_id"]: (t, json.loads(p))
        for t, p in latest.items()
        if p and t.startswith(f"{PREFIX}/") and t.endswith("/config")
    }


def _control_topic(level: str, leaf: str) -> str:
    return f"{BASE}/{hostname()}/control/{level}/{leaf}"


def _wait_configs(watcher: Watcher, count: int) -> dict[str, Any]:
    host = hostname()
    found = wait_until(
        lambda: (
            found
            if len(
                found := {
                    u: e for u, e in _by_unique(watcher).items() if ".control/" in u
                }
            )
            >= count
            else None
        ),
        what=f"{count} controls' discovery configs",
        timeout_s=20,
    )
    assert found is not None
    assert all(u.startswith(f"raspy.{host}.control/") for u in found)
    return found


@pytest.mark.timeout(90)
def test_each_control_is_an_entity_of_the_hub_with_its_kinds_fields(
    tmp_path: Path,
) -> None:
    host = hostname()
    with running_mosquitto(tmp_path / "mosquitto") as broker:
        watcher = broker.watcher(f"{PREFIX}/#", f"{BASE}/#")
        try:
            config = _config(broker, SETPOINT + OTHERS)
            with running_daemon(tmp_path / "data", config_text=config):
                found = _wait_configs(watcher, 5)
                for topic, entry in found.values():
                    assert schema_problems(topic, entry) == [], topic
                    assert entry["device"]["identifiers"] == [f"raspy.{host}"]
                    assert entry["availability_topic"] == f"{BASE}/{host}/status"
                unique = f"raspy.{host}.control"
                topic, setpoint = found[f"{unique}/house/living/setpoint"]
                assert topic.startswith(f"{PREFIX}/number/")
                assert {
                    k: setpoint[k]
                    for k in (
                        "name",
                        "min",
                        "max",
                        "step",
                        "mode",
                        "unit_of_measurement",
                    )
                } == {
                    "name": "Living room setpoint",
                    "min": 15,
                    "max": 25,
                    "step": 0.5,
                    "mode": "slider",
                    "unit_of_measurement": "°C",
                }
                level = "house.living.setpoint"
                assert setpoint["state_topic"] == _control_topic(level, "value")
                assert setpoint["command_topic"] == _control_topic(level, "set")
                topic, offset = found[f"{unique}/house/offset"]  # no limits: a box
                assert (offset["mode"], offset["step"]) == ("box", 0.001)
                topic, mode = found[f"{unique}/house/mode"]
                assert topic.startswith(f"{PREFIX}/select/")
                assert mode["options"] == ["home", "away", "holiday"]
                topic, guests = found[f"{unique}/house/guests"]
                assert topic.startswith(f"{PREFIX}/switch/")
                assert (guests["payload_on"], guests["state_off"]) == ("true", "false")
                topic, note = found[f"{unique}/house/note"]
                assert topic.startswith(f"{PREFIX}/text/")
                assert note["max"] == 255  # Home Assistant's longest state
                # the initial values, retained
                watcher.wait_for(_control_topic(level, "value"), b"20")
                watcher.wait_for(_control_topic("house.mode", "value"), b'"home"')
                watcher.wait_for(_control_topic("house.guests", "value"), b"false")
                # Home Assistant's number sends the number, its select the option
                watcher.publish(_control_topic(level, "set"), b"21.5")
                watcher.publish(_control_topic("house.mode", "set"), b"away")
                watcher.wait_for(_control_topic(level, "value"), b"21.5")
                watcher.wait_for(_control_topic("house.mode", "value"), b'"away"')
                watcher.publish(_control_topic("house.mode", "set"), b"abroad")
                wait_until(
                    lambda: (
                        watcher.get(_control_topic("house.mode", "result")) is not None
                        and json.loads(
                            watcher.get(_control_topic("house.mode", "result")) or b""
                        )["status"]
                        == 400
                    ),
                    what="the refusal on house.mode's result",
                )
                assert watcher.get(_control_topic("house.mode", "value")) == b'"away"'
        finally:
            watcher.close()


@pytest.mark.timeout(120)
def test_a_control_taken_out_of_the_config_is_cleared_at_the_next_start(
    tmp_path: Path,
) -> None:
    host = hostname()
    removed = f"raspy.{host}.control/house/living/setpoint"
    level = "house.living.setpoint"
    with running_mosquitto(tmp_path / "mosquitto") as broker:
        watcher = broker.watcher(f"{PREFIX}/#", f"{BASE}/#")
        try:
            with running_daemon(
                tmp_path / "data", config_text=_config(broker, SETPOINT + OTHERS)
            ) as daemon:
                config_topic = _wait_configs(watcher, 5)[removed][0]
                watcher.wait_for(_control_topic(level, "value"), b"20")
                assert daemon.terminate() == 0
            with running_daemon(tmp_path / "data", config_text=_config(broker, OTHERS)):
                watcher.wait_for(config_topic, b"", timeout_s=30)
                watcher.wait_for(_control_topic(level, "value"), b"", timeout_s=30)
        finally:
            watcher.close()
        fresh = broker.watcher(f"{PREFIX}/#")  # what Home Assistant gets at its start
        try:
            found = _wait_configs(fresh, 4)
            assert removed not in found
        finally:
            fresh.close()


@pytest.mark.timeout(90)
def test_a_value_set_elsewhere_shows_unknown_in_home_assistant(tmp_path: Path) -> None:
    """A value the control does not take, written to the tree by another tool (a
    scenario's `set:`, raspy-kv): Home Assistant's number, select and switch
    passed over it and went on showing the value before as the control's; each shows unknown, as the web face shows it as set elsewhere."""
    unique = f"raspy.{hostname()}.control"
    written = {
        "/house/living/setpoint": (f"{unique}/house/living/setpoint", b"40"),
        "/house/mode": (f"{unique}/house/mode", b'"party"'),
        "/house/guests": (f"{unique}/house/guests", b'"yes"'),
    }
    with running_mosquitto(tmp_path / "mosquitto") as broker:
        watcher = broker.watcher(f"{PREFIX}/#", f"{BASE}/#")
        try:
            config = _config(broker, SETPOINT + OTHERS)
            with (
                running_daemon(tmp_path / "data", config_text=config) as daemon,
                CloneClient(daemon.endpoint, b"/house/") as tree,
            ):
                found = _wait_configs(watcher, 5)
                for key, (unique_id, body) in written.items():
                    topic, entry = found[unique_id]
                    component = topic.split("/")[1]
                    state = entry["state_topic"]
                    retained = wait_until(
                        partial(watcher.get, state), what=f"{state} retained"
                    )
                    assert retained is not None
                    before = shown_after(component, entry, retained, "")
                    assert before != UNKNOWN, key  # the initial value
                    tree.set(key.encode(), body, confirm_timeout_s=5)
                    watcher.wait_for(state, body)
                    assert shown_after(component, entry, body, before) == UNKNOWN, key
        finally:
            watcher.close()
