"""The MQTT bridge follows only the fixed prefixes of its subtrees in a real Clone
server (and `/scenario/`, for the scenarios' buttons), and BridgeCore alone checks
each key against the subtrees' globs; a real Mosquitto shows what goes out."""

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
from support.wait import wait_until

from raspy.storage.scenario_store import stored_tree
from raspy.storage.store import Store

BASE = "subtrees"
HOST = "pi"
SUBTREES = ("/device/pi.fake.*", "/stats/up*/count")


@pytest.fixture
def watcher(mosquitto: Mosquitto) -> Iterator[Watcher]:
    made = mosquitto.watcher(f"{BASE}/#")
    yield made
    made.close()


def _topic(*levels: str) -> str:
    return "/".join((BASE, *levels))


@pytest.mark.timeout(60)
def test_keys_outside_the_subtrees_prefixes_never_reach_the_bridge(
    bridge: Bridge, mosquitto: Mosquitto, watcher: Watcher, store: Store
) -> None:
    bridge.set(("/device/pi.fake.attic/value", b"21.5"), ("/event/boot", b"1"))
    wait_until(
        lambda: len(stored_tree(store)) == 2, what="the keys stored before the start"
    )
    bridge.start(mosquitto.port, BASE, SUBTREES)
    watcher.wait_for(_topic(HOST, "status"), b"online")
    watcher.wait_for(_topic("pi", "fake", "attic", "value"), b"21.5")  # the seed
    assert bridge.link_stats()["tree_changes"] == 0
    bridge.set(
        ("/device/pi.other.x/value", b"1"),  # outside every prefix
        ("/device/pi.fakes/value", b"2"),
        ("/stats/down", b"3"),
        ("/event/tick", b"4"),
        ("/stats/upper/other", b"5"),  # under /stats/up, not the glob: the core says
        ("/scenario/wake/state", b'"idle"'),  # the scenarios' states: followed
        ("/stats/upper/count", b"6"),
        ("/device/pi.fake.lamp/value", b"true"),  # the last: when it is out, all are
    )
    watcher.wait_for(_topic("pi", "fake", "lamp", "value"), b"true")
    assert watcher.get(_topic(HOST, "stats", "upper", "count")) == b"6"
    # the Clone server notifies in order
    assert bridge.link_stats()["tree_changes"] == 4
    published = {message.topic for message in watcher.messages}
    assert published == {
        _topic(HOST, "status"),
        _topic("pi", "fake", "attic", "value"),
        _topic(HOST, "stats", "upper", "count"),
        _topic("pi", "fake", "lamp", "value"),
    }


@pytest.mark.timeout(60)
def test_another_hosts_reserved_service_levels_are_not_mirrored(
    bridge: Bridge, mosquitto: Mosquitto, watcher: Watcher
) -> None:
    """`control` and `scenario` are no device service's: a key of another host's
    (an older board's, one written by hand) would be published on that host's
    controls' or scenarios' topics, where its hub takes commands and Home
    Assistant reads their state."""
    bridge.start(mosquitto.port, BASE, ("/device/*",))
    watcher.wait_for(_topic(HOST, "status"), b"online")
    bridge.set(
        ("/device/board2.control.house.mode/value", b'"away"'),
        ("/device/board2.scenario.wake/value", b"1"),
        (
            "/device/board2.fake.lamp/value",
            b"true",
        ),  # the last: when it is out, all are
    )
    watcher.wait_for(_topic("board2", "fake", "lamp", "value"), b"true")
    assert {message.topic for message in watcher.messages} == {
        _topic(HOST, "status"),
        _topic("board2", "fake", "lamp", "value"),
    }
    assert bridge.stats.get("mqtt.refused.key_on_control_topic") == 1
    assert bridge.stats.get("mqtt.refused.key_on_scenario_topic") == 1


@pytest.mark.timeout(60)
def test_a_reading_not_yet_stored_is_in_the_bridges_first_picture(
    bridge: Bridge, mosquitto: Mosquitto, watcher: Watcher, store: Store
) -> None:
    """A device reading reaches the store once a coalesce interval (60 s here), and
    the devices start before the bridge: its first picture is the live tree, or a
    door contact that does not change for hours is shown with its old value."""
    # as a device service writes its readings (the batch channel: coalesced)
    assert (
        bridge.server.publisher.set_many([(b"/device/pi.fake.door/value", b"true")])
        == []
    )
    wait_until(
        lambda: bridge.server.counter("clone.published") >= 1,
        what="the reading published",
    )
    assert stored_tree(store, "/device/") == []  # coalesced: not in the store yet
    bridge.start(mosquitto.port, BASE, SUBTREES)
    watcher.wait_for(_topic("pi", "fake", "door", "value"), b"true")
    assert bridge.link_stats()["tree_changes"] == 0  # the seed, not a change


@pytest.mark.timeout(60)
def test_a_scenarios_state_is_bridged_and_never_taken_for_a_command(
    bridge: Bridge, mosquitto: Mosquitto, watcher: Watcher
) -> None:
    """`state` is a switch's command too, so the bridge subscribes to
    `<base>/+/+/+/state` and hears its own `…/scenario/<n>/state` (live, and retained
    at each resubscription): published all the same, and never run nor refused."""
    bridge.start(mosquitto.port, BASE, ("/device/pi.fake.*", "/scenario/*"))
    watcher.wait_for(_topic(HOST, "status"), b"online")
    bridge.set(
        ("/scenario/wake/state", b'"idle"'),
        ("/scenario/wake/runs", b"3"),
        ("/device/pi.fake.lamp/value", b"true"),
    )
    watcher.wait_for(_topic("pi", "fake", "lamp", "value"), b"true")
    assert watcher.get(_topic(HOST, "scenario", "wake", "state")) == b'"idle"'
    bridge.set(("/scenario/wake/state", b'"running"'))
    watcher.wait_for(_topic(HOST, "scenario", "wake", "state"), b'"running"')
    # another client's message on the lamp's `state` is a command: once it has an
    # answer, the bridge has read everything the broker sent it before
    watcher.publish(_topic("pi", "fake", "lamp", "state"), b"ON")
    wait_until(
        lambda: bridge.stats.get("mqtt.commands") >= 1, what="the lamp's command"
    )
    counters = bridge.stats.counters()
    assert counters["mqtt.commands"] == 1, counters
    assert not [name for name in counters if name.startswith("mqtt.refused.")], counters


@pytest.mark.timeout(60)
def test_a_button_s_gesture_reaches_mqtt_with_the_device_subtree_exposed(
    bridge: Bridge, mosquitto: Mosquitto, watcher: Watcher
) -> None:
    """docs/mqtt.md: each gesture goes out as it happens on `…/<device>/gesture` for
    a device the subtrees expose. A gesture is an `/event/<fullname>/…` key, outside
    `/device/`: the bridge must follow the exposed devices' events too, or every
    trigger it announces to Home Assistant is dead."""
    bridge.start(mosquitto.port, BASE, ("/device/pi.gpio.*",))
    watcher.wait_for(_topic(HOST, "status"), b"online")
    bridge.set(
        ("/event/pi.other.door/single", b"1700000000.5"),  # not exposed: not followed
        ("/event/pi.gpio.button/double", b"1700000001.5"),
    )
    watcher.wait_for(_topic("pi", "gpio", "button", "gesture"), b"double")
    bridge.set(("/device/pi.gpio.lamp/value", b"true"))  # the last: all are out
    watcher.wait_for(_topic("pi", "gpio", "lamp", "value"), b"true")
    assert bridge.link_stats()["tree_changes"] == 2  # the other board's: not followed
    assert {message.topic for message in watcher.messages} == {
        _topic(HOST, "status"),
        _topic("pi", "gpio", "button", "gesture"),
        _topic("pi", "gpio", "lamp", "value"),
    }


@pytest.mark.timeout(60)
def test_only_this_hubs_commands_are_counted_as_commands(
    bridge: Bridge, mosquitto: Mosquitto, watcher: Watcher
) -> None:
    """`mqtt.commands` counted every message on the command path, another hub's
    command and a retained message of another tool's too, which the bridge leaves
    alone: it counts the commands this hub takes."""
    watcher.publish(_topic("other", "fake", "lamp", "on"), b"", retain=True)
    watcher.publish(_topic("a.b", "fake", "lamp", "on"), b"{}", retain=True)
    bridge.start(mosquitto.port, BASE, ("/device/pi.fake.*",))
    watcher.wait_for(_topic(HOST, "status"), b"online")
    bridge.set(("/device/pi.fake.lamp/value", b"true"))
    watcher.wait_for(_topic("pi", "fake", "lamp", "value"), b"true")
    watcher.publish(_topic("other", "fake", "lamp", "off"), b"")  # another hub's
    # this hub's, the last (an admin action: its 403 comes at once); once it is
    # answered, the others were read before it
    watcher.publish(_topic("pi", "fake", "lamp", "reset"), b"")
    result = _topic("pi", "fake", "lamp", "result")
    wait_until(lambda: watcher.get(result) is not None, what="the lamp's result")
    counters = bridge.stats.counters()
    assert counters["mqtt.commands"] == 1, counters
    refused = {k: v for k, v in counters.items() if k.startswith("mqtt.refused.")}
    assert refused == {"mqtt.refused.forbidden": 1}, counters
    watcher.publish(_topic("other", "fake", "lamp", "on"), b"", retain=True)
    watcher.publish(_topic("a.b", "fake", "lamp", "on"), b"", retain=True)
