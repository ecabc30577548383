"""A `[mqtt] buffer_max_messages` far below the number of retained topics the bridge
mirrors: every discovery config and every state still reaches a real Mosquitto at
the connect, and again at Home Assistant's birth message (the buffer's bound once
left all but a few of them out, for good)."""

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

BASE = "small"
PREFIX = "homeassistant"
COUNT = 30
CONTROLS = tuple(
    Control(key=f"/house/k{n}", label=f"K{n}", kind="switch") for n in range(COUNT)
)
# each control's config (an entity of the hub's), and the hub's own connectivity
CONFIG_IDS = {f"raspy.pi.control/house/k{n}" for n in range(COUNT)} | {"raspy.pi.hub"}


@pytest.fixture
def watcher(mosquitto: Mosquitto) -> Iterator[Watcher]:
    made = mosquitto.watcher(f"{BASE}/#", f"{PREFIX}/#")
    yield made
    made.close()


def _config_ids(watcher: Watcher) -> set[str]:
    """The unique ids of the configs the broker holds now (as last sent)."""
    ids: set[str] = set()
    for topic, payload in list(watcher.latest.items()):
        if topic.startswith(f"{PREFIX}/") and topic.endswith("/config") and payload:
            ids.add(json.loads(payload)["unique_id"])
    return ids


def _states(watcher: Watcher) -> dict[str, bytes]:
    """The values the broker holds now (as last sent)."""
    return {
        topic: payload
        for topic, payload in list(watcher.latest.items())
        if topic.startswith(f"{BASE}/pi/") and topic.endswith("/value") and payload
    }


def _all_out(watcher: Watcher, states: dict[str, bytes]) -> None:
    wait_until(
        lambda: _config_ids(watcher) == CONFIG_IDS and _states(watcher) == states,
        what=f"every config ({len(CONFIG_IDS)}) and state ({len(states)}) retained",
    )


@pytest.mark.timeout(60)
def test_every_config_and_state_goes_out_through_a_small_buffer(
    bridge: Bridge, mosquitto: Mosquitto, watcher: Watcher, store: Store
) -> None:
    items = [(f"/house/k{n}", b"true") for n in range(COUNT)]
    items += [(f"/device/pi.fake.d{n}/value", str(n).encode()) for n in range(COUNT)]
    bridge.set(*items)
    wait_until(lambda: len(stored_tree(store)) == len(items), what="the keys stored")
    states = {f"{BASE}/pi/control/house.k{n}/value": b"true" for n in range(COUNT)}
    states |= {f"{BASE}/pi/fake/d{n}/value": str(n).encode() for n in range(COUNT)}
    bridge.start(
        mosquitto.port,
        BASE,
        ("/device/*",),
        controls=CONTROLS,
        discovery_prefix=PREFIX,
        buffer_max_messages=4,
    )
    _all_out(watcher, states)
    assert bridge.link_stats()["forgotten"] == 0
    # the broker loses them all (as one restarted without persistence would), and
    # Home Assistant's birth message asks for them again
    for topic in list(watcher.latest):
        if not topic.endswith("/status"):
            watcher.publish(topic, b"", retain=True)
    wait_until(
        lambda: not _config_ids(watcher) and not _states(watcher),
        what="the retained messages cleared",
    )
    watcher.publish(f"{PREFIX}/status", b"online")
    _all_out(watcher, states)
    assert bridge.link_stats()["reannounced"] == 1
    assert bridge.link_stats()["forgotten"] == 0
