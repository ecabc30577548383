"""A devices service's `list` that fails is asked again, with backoff, until one is
answered: before, a service whose `list` failed once (a board busy at the bridge's
start) had no discovery config until a sign came by chance (a reading of a device
not yet listed, its worker back), and a switch that is never read gave none."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import pytest
from support.device_services import server_fixture  # noqa: F401  # fixture `server`
from support.edge_fixtures import EdgeHandle
from support.mosquitto import Mosquitto, Watcher
from support.mqtt_bridge import (
    Bridge,
    bridge_fixture,  # noqa: F401  # fixture `bridge`
    mosquitto_fixture,  # noqa: F401  # fixture `mosquitto`
)
from support.wait import wait_until

from raspy.client.worker import Worker
from raspy.mqtt.discovery import DeviceInfo, Discovery
from raspy.mqtt.filters import GlobFilter
from raspy.mqtt.topics import TopicMap

BASE, PREFIX, HOST = "retry", "homeassistant", "pi"
LAMP = "pi.fake.lamp"
LISTED = {
    "devices": [
        {"fullname": LAMP, "oid": "switch", "name": "lamp", "config": {}},
    ]
}


@pytest.fixture
def watcher(mosquitto: Mosquitto) -> Iterator[Watcher]:
    made = mosquitto.watcher(f"{PREFIX}/#")
    yield made
    made.close()


def _lamps_config_topic() -> str:
    discovery = Discovery(
        PREFIX,
        TopicMap(BASE, HOST),
        qos=1,
        sw_version="0.1.0",
        commandable=GlobFilter(["*"]),
    )
    entry = discovery.device_entry(DeviceInfo(LAMP, "switch", "lamp", ""))
    assert entry is not None
    return entry.topic


@pytest.mark.timeout(60)
def test_a_list_that_failed_once_is_asked_again_and_announces(
    bridge: Bridge, mosquitto: Mosquitto, watcher: Watcher, edge: EdgeHandle
) -> None:
    lists: list[int] = []

    def answer(_body: list[bytes]) -> list[bytes]:
        lists.append(1)
        if len(lists) == 1:  # busy at the bridge's start
            return [b"500", b'{"error": "internal"}']
        return [b"200", json.dumps(LISTED).encode()]

    worker = Worker(edge.endpoint, "pi.fake.devices", context=edge.context)
    stop = threading.Event()
    serving = threading.Thread(
        target=worker.serve, args=(answer,), kwargs={"stop": stop}
    )
    serving.start()
    try:
        bridge.start(mosquitto.port, BASE, ("/device/*",), discovery_prefix=PREFIX)
        wait_until(
            lambda: bridge.stats.get("mqtt.refused.list_failed") >= 1,
            what="the first list refused",
        )
        # no reading, no worker coming back: nothing but the retry lists it again
        topic = _lamps_config_topic()
        wait_until(lambda: watcher.get(topic), what="the lamp's config", timeout_s=15)
        assert len(lists) == 2
    finally:
        stop.set()
        serving.join(timeout=10)
        worker.close()
