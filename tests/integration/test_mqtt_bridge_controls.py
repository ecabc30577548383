"""The controls ([[controls]]) over MQTT: the bridge actor on a real Clone server and
a real Mosquitto publishes each control's value at `<base>/<host>/control/<level>/
value`, writes a command's checked value into the tree through the in-process
publisher, and answers a refused one on `…/result` without writing."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from support.device_services import server_fixture  # noqa: F401  # fixture `server`
from support.mosquitto import Mosquitto, Watcher
from support.mqtt_bridge import (
    Bridge,
    bridge_fixture,  # noqa: F401  # fixture `bridge`
    mosquitto_fixture,  # noqa: F401  # fixture `mosquitto`
)
from support.wait import wait_until

from raspy.controls import Control
from raspy.storage.scenario_store import stored_tree
from raspy.storage.store import Store

BASE = "ctl"
SETPOINT = Control(
    key="/house/living/setpoint",
    label="Setpoint",
    kind="number",
    minimum=15,
    maximum=25,
    step=0.5,
    unit="°C",
)
MODE = Control(key="/house/mode", label="Mode", kind="choice", options=("home", "away"))
GUESTS = Control(key="/house/guests", label="Guests", kind="switch")
CONTROLS = (SETPOINT, MODE, GUESTS)


def _topic(level: str, leaf: str) -> str:
    return f"{BASE}/pi/control/{level}/{leaf}"


@pytest.fixture
def watcher(mosquitto: Mosquitto) -> Iterator[Watcher]:
    made = mosquitto.watcher(f"{BASE}/#")
    yield made
    made.close()


def _tree(store: Store) -> dict[str, bytes]:
    return dict(stored_tree(store, "/house/"))


def _result(watcher: Watcher, level: str, status: int) -> dict[str, object]:
    topic = _topic(level, "result")
    wait_until(
        lambda: any(
            m.topic == topic and json.loads(m.payload)["status"] == status
            for m in list(watcher.messages)
        ),
        what=f"a {status} on {topic}",
    )
    result = json.loads(next(m.payload for m in watcher.messages if m.topic == topic))
    assert isinstance(result, dict)
    return result


def _start(bridge: Bridge, mosquitto: Mosquitto, watcher: Watcher) -> None:
    bridge.start(mosquitto.port, BASE, ("/device/*",), controls=CONTROLS)
    watcher.wait_for(f"{BASE}/pi/status", b"online")


@pytest.mark.timeout(60)
def test_a_controls_value_is_retained_and_follows_the_tree(
    bridge: Bridge, mosquitto: Mosquitto, watcher: Watcher, store: Store
) -> None:
    bridge.set(("/house/living/setpoint", b"20.5"), ("/house/other", b"1"))
    wait_until(lambda: len(_tree(store)) == 2, what="the keys stored")
    _start(bridge, mosquitto, watcher)
    watcher.wait_for(_topic("house.living.setpoint", "value"), b"20.5")  # the seed
    bridge.set(("/house/mode", b'"away"'), ("/house/guests", b"true"))
    watcher.wait_for(_topic("house.mode", "value"), b'"away"')
    watcher.wait_for(_topic("house.guests", "value"), b"true")
    late = mosquitto.watcher(f"{BASE}/pi/control/#")  # a new subscriber: retained
    try:
        late.wait_for(_topic("house.living.setpoint", "value"), b"20.5")
    finally:
        late.close()
    bridge.set(("/house/mode", b""))  # deleted: cleared
    watcher.wait_for(_topic("house.mode", "value"), b"")
    # a key that is no control's, under a control's prefix, is not published
    assert not any("other" in m.topic for m in watcher.messages)


@pytest.mark.timeout(60)
def test_a_command_sets_the_controls_key_and_is_answered(
    bridge: Bridge, mosquitto: Mosquitto, watcher: Watcher, store: Store
) -> None:
    _start(bridge, mosquitto, watcher)
    watcher.publish(_topic("house.living.setpoint", "set"), b"21.5")
    wait_until(
        lambda: _tree(store).get("/house/living/setpoint") == b"21.5",
        what="the setpoint written",
    )
    watcher.wait_for(_topic("house.living.setpoint", "value"), b"21.5")
    result = _result(watcher, "house.living.setpoint", 200)
    assert result == {
        "v": 1,
        "action": "set",
        "status": 200,
        "reply": {"key": "/house/living/setpoint", "value": 21.5},
    }
    # Home Assistant's select and switch payloads: the option, true/false
    watcher.publish(_topic("house.mode", "set"), b"away")
    watcher.publish(_topic("house.guests", "set"), b"true")
    wait_until(
        lambda: (
            _tree(store).get("/house/mode") == b'"away"'
            and _tree(store).get("/house/guests") == b"true"
        ),
        what="the mode and the guests written",
    )


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("level", "payload", "reason"),
    [
        ("house.living.setpoint", b"30", "30 is above the maximum, 25"),
        ("house.living.setpoint", b"20.3", "20.3 is not on the 0.5 step from 15"),
        ("house.mode", b"holiday", "'holiday' is not one of home, away"),
        ("house.guests", b"maybe", "'maybe' is not on or off (true or false)"),
    ],
)
def test_a_refused_command_is_answered_and_writes_nothing(
    bridge: Bridge,
    mosquitto: Mosquitto,
    watcher: Watcher,
    store: Store,
    level: str,
    payload: bytes,
    reason: str,
) -> None:
    bridge.set(("/house/living/setpoint", b"20"))
    wait_until(lambda: len(_tree(store)) == 1, what="the setpoint stored")
    _start(bridge, mosquitto, watcher)
    watcher.publish(_topic(level, "set"), payload)
    result = _result(watcher, level, 400)
    assert result["reply"] == {
        "error": "invalid_value",
        "detail": f"/{level.replace('.', '/')}: {reason}",
    }
    # a good command after it comes back first: the refused one wrote nothing
    watcher.publish(_topic("house.guests", "set"), b"on")
    wait_until(lambda: "/house/guests" in _tree(store), what="the next command")
    assert _tree(store) == {"/house/living/setpoint": b"20", "/house/guests": b"true"}
    assert bridge.stats.get("mqtt.refused.invalid_value") == 1


@pytest.mark.timeout(60)
def test_refusals_are_counted_each_and_logged_once_a_minute(
    bridge: Bridge,
    mosquitto: Mosquitto,
    watcher: Watcher,
    store: Store,
    capfd: pytest.CaptureFixture[str],
) -> None:
    _start(bridge, mosquitto, watcher)
    for payload in (b"30", b"31", b"32"):
        watcher.publish(_topic("house.living.setpoint", "set"), payload)
    wait_until(
        lambda: bridge.stats.get("mqtt.refused.invalid_value") == 3,
        what="three refusals counted",
    )
    logged = [
        line
        for line in capfd.readouterr().err.splitlines()
        if "mqtt_input_refused" in line
    ]
    assert len(logged) == 1, logged
    assert _tree(store) == {}


@pytest.mark.timeout(60)
def test_only_the_controls_keys_take_commands(
    bridge: Bridge, mosquitto: Mosquitto, watcher: Watcher, store: Store
) -> None:
    """A key that is no control's gets a 404 and is not written; another action
    than `set` a 403."""
    _start(bridge, mosquitto, watcher)
    watcher.publish(_topic("house.other", "set"), b"1")
    result = _result(watcher, "house.other", 404)
    assert result["reply"] == {
        "error": "unknown_control",
        "detail": "no control 'house.other' on pi",
    }
    watcher.publish(_topic("house.guests", "toggle"), b"")
    _result(watcher, "house.guests", 403)
    assert _tree(store) == {}
