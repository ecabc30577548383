"""What paho holds unacknowledged when the bridge's connection is lost: the link
takes it back into its buffer at the reconnect (the buffer keeps one message per
topic), so each goes out once and the in-flight count is what paho really holds.
A real Mosquitto behind a relay that can hold and cut the connection."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest
from support.device_services import server_fixture  # noqa: F401  # fixture `server`
from support.mosquitto import Mosquitto, Watcher
from support.mqtt_bridge import (
    Bridge,
    bridge_fixture,  # noqa: F401  # fixture `bridge`
    mosquitto_fixture,  # noqa: F401  # fixture `mosquitto`
)
from support.relay import Relay
from support.wait import wait_until

BASE = "reconnect"
SUBTREES = ("/device/*",)
HELD = 20


@pytest.fixture
def relay(mosquitto: Mosquitto) -> Iterator[Relay]:
    made = Relay(mosquitto.port)
    yield made
    made.close()


@pytest.fixture
def watcher(mosquitto: Mosquitto) -> Iterator[Watcher]:
    made = mosquitto.watcher(f"{BASE}/#")
    yield made
    made.close()


def _value_topic(name: str) -> str:
    return f"{BASE}/pi/fake/{name}/value"


@pytest.mark.timeout(60)
def test_messages_paho_held_at_a_lost_connection_go_out_once_and_are_counted(
    relay: Relay, watcher: Watcher, bridge: Bridge
) -> None:
    bridge.start(relay.port, BASE, SUBTREES)
    watcher.wait_for(f"{BASE}/pi/status", b"online")
    relay.hold()  # the broker hears nothing more: nothing is acknowledged
    names = [f"k{index}" for index in range(HELD)]
    bridge.set(*((f"/device/pi.fake.{name}/value", b"1") for name in names))
    wait_until(
        lambda: bridge.link_stats()["inflight"] == HELD,
        what="the values handed to paho, unacknowledged",
    )
    relay.cut()
    for name in names:
        watcher.wait_for(_value_topic(name), b"1")
    # the bridge sends in order over one connection: once this is out, all is
    bridge.set(("/device/pi.fake.last/value", b"1"))
    watcher.wait_for(_value_topic("last"), b"1")
    wait_until(
        lambda: bridge.link_stats()["inflight"] == 0, what="every message acknowledged"
    )
    counts = Counter(message.topic for message in watcher.messages)
    assert {counts[_value_topic(name)] for name in names} == {1}, counts
    assert bridge.stats.get("mqtt.disconnects") == 1
