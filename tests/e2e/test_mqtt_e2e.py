"""Issue 16: raspyd's MQTT bridge against a real Mosquitto (never a mocked client).

State goes out retained, commands come in on `…/set` (and `…/<action>`), results go
out on `…/result`, availability is the last will, and a broker restart is survived.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.daemon import Daemon, hostname, running_daemon
from support.mosquitto import (
    BASE,
    Mosquitto,
    Watcher,
    bridge_config,
    running_mosquitto,
    topic,
)
from support.wait import wait_until


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    with running_mosquitto(tmp_path / "mosquitto") as started:
        yield started


@pytest.fixture
def daemon(tmp_path: Path, broker: Mosquitto) -> Iterator[Daemon]:
    with running_daemon(tmp_path / "data", config_text=bridge_config(broker)) as d:
        yield d


@pytest.fixture
def watcher(broker: Mosquitto) -> Iterator[Watcher]:
    watching = broker.watcher(f"{BASE}/#")
    yield watching
    watching.close()


def result_of(watcher: Watcher, result_topic: str) -> dict[str, object]:
    body = wait_until(
        lambda: watcher.get(result_topic), what=f"a result on {result_topic}"
    )
    assert body is not None
    document = json.loads(body)
    assert isinstance(document, dict)
    return document


@pytest.mark.timeout(60)
def test_state_goes_out_retained_and_a_fresh_subscriber_gets_it(
    daemon: Daemon, broker: Mosquitto, watcher: Watcher
) -> None:
    """Issue 16, state out: every device key retained at <base>/<host>/<svc>/<dev>/<field>."""
    watcher.wait_for(topic("lamp", "value"), b"false")
    watcher.wait_for(topic("lamp", "unit"), b'""')
    watcher.wait_for(f"{BASE}/{hostname()}/status", b"online")
    fresh = broker.watcher(f"{BASE}/{hostname()}/fake/lamp/#")
    try:
        fresh.wait_for(topic("lamp", "value"), b"false")
        fresh.wait_for(topic("lamp", "status"), b'"ok"')
        retained = [m for m in fresh.messages if m.topic == topic("lamp", "value")]
        assert retained[0].retain is True
    finally:
        fresh.close()


@pytest.mark.timeout(60)
def test_a_set_on_a_simulated_switch_changes_the_tree_and_answers_on_result(
    daemon: Daemon, watcher: Watcher
) -> None:
    """Issue 16, commands in: `…/set` becomes the device's command; `…/result` has 200."""
    watcher.wait_for(topic("lamp", "value"), b"false")
    watcher.publish(topic("lamp", "set"), b"true")
    watcher.wait_for(topic("lamp", "value"), b"true")
    result = result_of(watcher, topic("lamp", "result"))
    assert result["status"] == 200
    assert result["action"] == "set"


@pytest.mark.timeout(60)
def test_an_action_topic_on_a_gpio_mock_relay_switches_it(
    daemon: Daemon, watcher: Watcher
) -> None:
    """Issue 16: `…/<action>` runs a kind's other commands (here `toggle`)."""
    relay_value = topic("relay", "value", service="gpio")
    watcher.wait_for(relay_value, b"false")
    watcher.publish(topic("relay", "toggle", service="gpio"), b"")
    watcher.wait_for(relay_value, b"true")
    result = result_of(watcher, topic("relay", "result", service="gpio"))
    assert result["status"] == 200


@pytest.mark.timeout(60)
def test_malformed_commands_are_answered_on_result_and_the_daemon_keeps_serving(
    daemon: Daemon, watcher: Watcher
) -> None:
    """Issue 16: a malformed command is answered on `…/result`, never crashes."""
    watcher.wait_for(topic("lamp", "value"), b"false")
    watcher.publish(topic("lamp", "set"), b"\xff\xfe")
    bad_utf8 = result_of(watcher, topic("lamp", "result"))
    assert bad_utf8 == {
        "v": 1,
        "action": "set",
        "status": 400,
        "reply": {"error": "bad_payload", "detail": "not UTF-8"},
    }
    watcher.latest.pop(topic("lamp", "result"))
    watcher.publish(topic("lamp", "set"), b'"loud"')
    refused = result_of(watcher, topic("lamp", "result"))
    assert refused["status"] == 400
    assert isinstance(refused["reply"], dict)
    assert refused["reply"]["error"] == "invalid_value"
    watcher.latest.pop(topic("lamp", "result"))
    watcher.publish(topic("nosuch", "set"), b"true")
    missing = result_of(watcher, topic("nosuch", "result"))
    assert missing["status"] == 404  # the devices service's own answer
    assert isinstance(missing["reply"], dict)
    assert missing["reply"]["error"] == "unknown_device"
    watcher.publish(topic("lamp", "set"), b"true")
    watcher.wait_for(topic("lamp", "value"), b"true")
    assert daemon.process is not None
    assert daemon.process.poll() is None


@pytest.mark.timeout(60)
def test_a_lone_surrogate_in_a_command_is_a_400_and_the_bridge_keeps_serving(
    daemon: Daemon, watcher: Watcher
) -> None:
    """`"\\ud800"` is UTF-8 and JSON but names no character: a 400 on `…/result`,
    not a crash of the bridge's thread (which dropped the command and restarted)."""
    watcher.wait_for(topic("lamp", "value"), b"false")
    watcher.publish(topic("lamp", "set"), b'"\\ud800"')
    refused = result_of(watcher, topic("lamp", "result"))
    assert (refused["status"], refused["reply"]) == (
        400,
        {
            "error": "bad_payload",
            "detail": "a lone surrogate (\\ud800-\\udfff) in the text",
        },
    )
    watcher.publish(topic("lamp", "set"), b"true")
    watcher.wait_for(topic("lamp", "value"), b"true")
    assert "runner_failed" not in daemon.log_text()


@pytest.mark.timeout(90)
def test_a_retained_command_does_not_switch_the_lamp_when_the_bridge_starts(
    tmp_path: Path, broker: Mosquitto, watcher: Watcher
) -> None:
    """Someone published `…/lamp/set true` retained: Mosquitto replays it to every new
    subscriber, so without a rule the lamp would switch on at every restart."""
    watcher.publish(topic("lamp", "set"), b"true", retain=True)
    with running_daemon(tmp_path / "data", config_text=bridge_config(broker)):
        watcher.wait_for(topic("lamp", "value"), b"false")
        relay = topic("relay", "value", service="gpio")
        watcher.wait_for(relay, b"false")
        watcher.publish(topic("relay", "toggle", service="gpio"), b"")  # a live one
        watcher.wait_for(relay, b"true")  # ... came after the retained replay
        assert watcher.get(topic("lamp", "value")) == b"false"
        assert watcher.get(topic("lamp", "result")) is None


@pytest.mark.timeout(60)
def test_commands_lists_a_devices_actions_on_result(
    daemon: Daemon, watcher: Watcher
) -> None:
    """A word that is no action gets no `…/result`: `…/commands` is how an MQTT
    user learns the words a device takes."""
    watcher.wait_for(topic("lamp", "value"), b"false")
    watcher.publish(topic("lamp", "commands"), b"")
    result = result_of(watcher, topic("lamp", "result"))
    assert (result["action"], result["status"]) == ("commands", 200)
    reply = result["reply"]
    assert isinstance(reply, dict)
    names = {command["name"] for command in reply["commands"]}
    assert {"state", "on", "off", "toggle"} <= names
