"""With `discovery_prefix` equal to `base_topic` the bridge's `<base>/+/+/+/config`
command filter (the admin action, answered 403) also brings the discovery configs
other tools retain under that prefix: a real Mosquitto replays them at the
bridge's start. They are no command of this hub's, so nothing is said of them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.device_services import server_fixture  # noqa: F401  # fixture `server`
from support.mosquitto import Mosquitto, Watcher
from support.mqtt_bridge import (
    Bridge,
    bridge_fixture,  # noqa: F401  # fixture `bridge`
    mosquitto_fixture,  # noqa: F401  # fixture `mosquitto`
)
from support.wait import repeated, wait_until

PREFIX = "homeassistant"  # the base topic too
# what Zigbee2MQTT retains for one of its sensors, and a retained command for a
# device of this hub's ("pi"), which is still refused
OTHER_TOOLS = f"{PREFIX}/sensor/0x00158d/temperature/config"
OWN_COMMAND = f"{PREFIX}/pi/fake/lamp/set"
# a live admin command, refused 403 (`forbidden`)
LAST = f"{PREFIX}/pi/fake/lamp/config"


@pytest.fixture
def watcher(mosquitto: Mosquitto) -> Iterator[Watcher]:
    made = mosquitto.watcher()
    yield made
    made.close()


@pytest.mark.timeout(60)
def test_another_tools_retained_config_is_no_refused_command(
    bridge: Bridge, mosquitto: Mosquitto, watcher: Watcher
) -> None:
    watcher.publish(OTHER_TOOLS, b'{"name": "Temperature"}', retain=True)
    watcher.publish(OWN_COMMAND, b"true", retain=True)
    bridge.start(mosquitto.port, PREFIX, ("/device/*",), discovery_prefix=PREFIX)
    # the bridge subscribes once connected, after start() returns: a live command
    # refused tells that it did, and that the replay before it was taken
    with repeated(lambda: watcher.publish(LAST, b""), every_s=0.1, what="a command"):
        wait_until(
            lambda: bridge.stats.get("mqtt.refused.forbidden") >= 1,
            what="a live command refused, after the retained ones",
        )
    refused = {
        name: count
        for name, count in bridge.stats.counters().items()
        if name.startswith("mqtt.refused.")
    }
    del refused["mqtt.refused.forbidden"]
    assert refused == {"mqtt.refused.retained_command": 1}  # the lamp's only
