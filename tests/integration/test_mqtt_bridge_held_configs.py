"""The configs an earlier run retained for a device service whose `list` failed are
left by the sweep until that service's next `list`; a reload that turns the
service off deletes its values instead, and no `list` comes: they go then, as a
real Mosquitto shows (before, they stayed until the next start's sweep)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

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
from raspy.storage.scenario_store import stored_tree
from raspy.storage.store import Store

BASE, PREFIX, HOST = "held", "homeassistant", "pi"


@pytest.fixture
def watcher(mosquitto: Mosquitto) -> Iterator[Watcher]:
    made = mosquitto.watcher(f"{PREFIX}/#")
    yield made
    made.close()


def _earlier_runs_config(fullname: str) -> tuple[str, bytes]:
    """The config an earlier run of this hub's bridge retained for `fullname`."""
    topics = TopicMap(BASE, HOST)
    discovery = Discovery(
        PREFIX, topics, qos=1, sw_version="0.1.0", commandable=GlobFilter(["*"])
    )
    entry = discovery.device_entry(DeviceInfo(fullname, "switch", fullname, ""))
    assert entry is not None
    return entry.topic, entry.payload()


@contextmanager
def _swept_while_list_fails(
    bridge: Bridge, mosquitto: Mosquitto, edge: EdgeHandle
) -> Iterator[None]:
    """The bridge started, and its sweep ended, while fake's worker fails every
    `list`; the worker leaves (a reload stops it, it says goodbye) on the way out."""
    worker = Worker(edge.endpoint, "pi.fake.devices", context=edge.context)
    stop = threading.Event()
    serving = threading.Thread(
        target=worker.serve,
        args=(lambda _body: [b"500", b'{"error": "internal"}'],),
        kwargs={"stop": stop},
    )
    serving.start()
    try:
        bridge.start(
            mosquitto.port,
            BASE,
            ("/device/*",),
            discovery_prefix=PREFIX,
            cleanup_after_s=0.5,
        )
        wait_until(
            lambda: "mqtt.ghosts_cleared" in bridge.stats.counters(),
            what="the sweep's end",
        )
        yield
    finally:
        stop.set()
        serving.join(timeout=10)
        worker.close()


@pytest.mark.timeout(60)
def test_a_service_turned_off_after_its_list_failed_loses_its_held_configs(
    bridge: Bridge,
    mosquitto: Mosquitto,
    watcher: Watcher,
    store: Store,
    edge: EdgeHandle,
) -> None:
    lamp = _earlier_runs_config("pi.fake.lamp")
    gone = _earlier_runs_config("pi.fake.gone")  # taken out of the config since
    for topic, payload in (lamp, gone):
        watcher.publish(topic, payload, retain=True)
    bridge.set(("/device/pi.fake.lamp/value", b"true"))
    wait_until(lambda: stored_tree(store), what="the lamp's value stored")
    with _swept_while_list_fails(bridge, mosquitto, edge):
        pass  # the reload stops fake's worker ...
    assert bridge.stats.get("mqtt.refused.list_failed") >= 1
    assert bridge.stats.get("mqtt.ghosts_cleared") == 0
    assert (watcher.get(lamp[0]), watcher.get(gone[0])) == (lamp[1], gone[1])
    bridge.set(("/device/pi.fake.lamp/value", b""))  # ... and deletes its values
    watcher.wait_for(gone[0], b"")
    watcher.wait_for(lamp[0], b"")


@pytest.mark.timeout(60)
def test_a_service_with_no_value_whose_worker_leaves_loses_its_held_configs(
    bridge: Bridge, mosquitto: Mosquitto, watcher: Watcher, edge: EdgeHandle
) -> None:
    """A service that never had a value in the tree gives no sign by its values
    when a reload turns it off: its worker leaving (the broker's list of services)
    is the sign. Its held configs stayed until the next start's sweep."""
    lamp = _earlier_runs_config("pi.fake.lamp")
    watcher.publish(*lamp, retain=True)
    with _swept_while_list_fails(bridge, mosquitto, edge):
        assert bridge.stats.get("mqtt.refused.list_failed") >= 1
        assert watcher.get(lamp[0]) == lamp[1]  # held: its list failed
    watcher.wait_for(lamp[0], b"")
