"""Issue 16: Home Assistant MQTT discovery, checked field by field against the schema
Home Assistant documents for each component (written here from its MQTT docs: the
discovery topic, the entity fields every MQTT platform takes, and the fields of
sensor, binary_sensor, switch, light (basic schema) and button).
"""

from __future__ import annotations

import json
import re
import signal
from pathlib import Path
from typing import Any

import pytest
from support.daemon import hostname, running_daemon
from support.ha_schema import PREFIX, schema_problems
from support.mosquitto import BASE, bridge_config, running_mosquitto, topic
from support.wait import wait_until

from raspy.client.mdp import Client
from raspy.storage.scenario_store import ScenarioStore
from raspy.storage.store import Store

SCENARIO = """\
name: porch-light
description: Lamp on, by hand (a button in Home Assistant)
triggers:
  - kv: "/device/{host}.fake.nothing/value"
    above: 1000
actions:
  - device: "{host}.fake.lamp"
    action: "on"
"""


def discovery_config(broker_config: str, scenarios: Path, *, bathroom: bool) -> str:
    bath = (
        '[[devices.fake]]\nname = "bathroom"\noid = "sensor.humidity"\n'
        if bathroom
        else ""
    )
    gpio = '[[devices.gpio]]\nname = "button"\noid = "sensor.binary"\npin = 27\n'
    more = f"""
[[devices.fake]]
name = "hall"
oid = "dimmer"

[[devices.fake]]
name = "meter"
oid = "sensor"
unit = "kWh"
state_class = "total_increasing"
precision = 3

[[devices.gpio]]
name = "bay"
oid = "sensor.binary"
pin = 22
device_class = "window"

[[devices.fake]]
name = "tv"
oid = "media.tv"

{bath}
{gpio}
[core]
preload_dir = "{scenarios}"
"""
    head, _, mqtt = broker_config.partition("[mqtt]")
    return f"{head}{more}\n[mqtt]{mqtt}"


# a button with double presses: its entity, and a device trigger for its short and
# its double press
BELL = """
[[devices.gpio]]
name = "bell"
oid = "sensor.binary"
pin = 23
device_class = "button"
double_press_s = 0.4
"""


def _configs(watcher: Any) -> dict[str, dict[str, Any]]:
    with watcher._lock:
        latest = dict(watcher.latest)
    return {
        t: json.loads(p)
        for t, p in latest.items()
        if p and t.startswith(PREFIX) and t.endswith("/config")
    }


@pytest.mark.timeout(90)
def test_discovery_configs_follow_home_assistants_schema_field_by_field(
    tmp_path: Path,
) -> None:
    """Issue 16: one retained config per device, with the documented fields, and
    a removed device's config removed (an empty retained message)."""
    host = hostname()
    hub_id = f"raspy.{host}"
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    (scenarios / "porch-light.yaml").write_text(SCENARIO, encoding="utf-8")
    with running_mosquitto(tmp_path / "mosquitto") as broker:
        config = discovery_config(bridge_config(broker), scenarios, bathroom=True)
        config = config.replace("[mqtt]", BELL + "\n[mqtt]", 1)
        with running_daemon(tmp_path / "data", config_text=config) as daemon:
            watcher = broker.watcher(f"{PREFIX}/#", f"{BASE}/#")
            try:
                by_id = wait_until(
                    lambda: (
                        {
                            c["unique_id"]: c
                            for t, c in _configs(watcher).items()
                            if "/device_automation/" not in t  # no entity: no id
                        }
                        if len(_configs(watcher)) >= 13
                        else None
                    ),
                    what="eleven discovery configs (the hub's too), two triggers",
                    timeout_s=20,
                )
                assert by_id is not None
                for name, payload in _configs(watcher).items():
                    assert schema_problems(name, payload) == [], name
                triggers = [
                    c
                    for t, c in _configs(watcher).items()
                    if "/device_automation/" in t
                ]
                assert sorted(c["payload"] for c in triggers) == ["double", "single"]
                status = f"{BASE}/{host}/status"
                hub = by_id.pop(f"raspy.{host}.hub")  # the hub: its state is status
                assert (hub["state_topic"], hub["device_class"]) == (
                    status,
                    "connectivity",
                )
                for entry in by_id.values():
                    assert entry["availability_topic"] == status
                    assert entry["device"]["manufacturer"] == "raspy"
                    via = entry["device"].get("via_device")
                    assert via == (None if "scenario" in entry["unique_id"] else hub_id)
                attic = by_id[f"raspy.{host}.fake.attic"]
                assert attic["device_class"] == "temperature"
                assert attic["unit_of_measurement"] == "°C"
                assert attic["state_class"] == "measurement"
                assert attic["state_topic"] == topic("attic", "value")
                assert attic["device"]["model"] == "sensor.temperature"
                bath = by_id[f"raspy.{host}.fake.bathroom"]
                assert (bath["device_class"], bath["unit_of_measurement"]) == (
                    "humidity",
                    "%",
                )
                lamp = by_id[f"raspy.{host}.fake.lamp"]
                assert lamp["command_topic"] == topic("lamp", "set")
                assert lamp["state_topic"] == topic("lamp", "value")
                assert (lamp["payload_on"], lamp["state_on"]) == ("true", "true")
                hall = by_id[f"raspy.{host}.fake.hall"]
                assert hall["brightness_command_topic"] == topic("hall", "set")
                assert hall["brightness_scale"] == 100
                button = by_id[f"raspy.{host}.gpio.button"]
                assert button["state_topic"] == topic("button", "value", service="gpio")
                # what Home Assistant shows: decimals, a total's statistics, the
                # input's class (Open/Closed); a GPIO button is a plain on/off
                assert attic["suggested_display_precision"] == 1
                assert bath["suggested_display_precision"] == 0
                meter = by_id[f"raspy.{host}.fake.meter"]
                assert (
                    meter["state_class"],
                    meter["suggested_display_precision"],
                    meter["unit_of_measurement"],
                ) == ("total_increasing", 3, "kWh")
                assert "device_class" not in meter
                bay = by_id[f"raspy.{host}.gpio.bay"]
                assert bay["device_class"] == "window"
                assert "device_class" not in button
                # display only: the meter's value (its wave's exact points) goes
                # out with more decimals than Home Assistant is told to show
                wait_until(
                    lambda: (
                        len(
                            (watcher.get(topic("meter", "value")) or b"").partition(
                                b"."
                            )[2]
                        )
                        > 3
                    ),
                    what="the meter's value, unrounded",
                    timeout_s=30,
                )
                porch = by_id[f"raspy.{host}.scenario.porch-light"]
                assert (
                    porch["command_topic"] == f"{BASE}/{host}/scenario/porch-light/run"
                )
                assert f"raspy.{host}.fake.tv" not in by_id  # no component fits a TV
                relay = by_id[f"raspy.{host}.gpio.relay"]
                # the button runs the scenario, which switches the lamp on
                watcher.publish(porch["command_topic"], b"PRESS")
                watcher.wait_for(topic("lamp", "value"), b"true")
                # the light: brightness 40 through …/set, as Home Assistant sends it
                watcher.publish(hall["brightness_command_topic"], b"40")
                watcher.wait_for(topic("hall", "value"), b"40")
                # and off: its payload_off on command_topic (never ON with
                # on_command_type brightness)
                watcher.publish(hall["command_topic"], hall["payload_off"].encode())
                watcher.wait_for(topic("hall", "value"), b"0")
                assert relay["command_topic"] == topic("relay", "set", service="gpio")
                bath_topic = next(
                    t
                    for t, c in _configs(watcher).items()
                    if c["unique_id"] == bath["unique_id"]
                )
                assert daemon.config_path is not None
                assert daemon.process is not None
                daemon.config_path.write_text(
                    discovery_config(bridge_config(broker), scenarios, bathroom=False)
                )
                daemon.process.send_signal(signal.SIGHUP)
                watcher.wait_for(bath_topic, b"", timeout_s=20)
            finally:
                watcher.close()


@pytest.mark.timeout(90)
def test_a_device_taken_out_of_the_config_over_a_restart_leaves_no_ghost_entity(
    tmp_path: Path,
) -> None:
    """raspyd stopped, a device taken out of its config, raspyd started again: the
    retained config the run before announced is cleared (an empty retained
    message), else Home Assistant would keep the entity for ever."""
    host = hostname()
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    bath_id = f"raspy.{host}.fake.bathroom"
    with running_mosquitto(tmp_path / "mosquitto") as broker:
        watcher = broker.watcher(f"{PREFIX}/#", f"{BASE}/#")
        try:
            before = discovery_config(bridge_config(broker), scenarios, bathroom=True)
            with running_daemon(tmp_path / "data", config_text=before) as daemon:
                bath_topic = wait_until(
                    lambda: next(
                        (
                            t
                            for t, c in _configs(watcher).items()
                            if c["unique_id"] == bath_id
                        ),
                        None,
                    ),
                    what="the bathroom's discovery config",
                    timeout_s=20,
                )
                # its reading stored too: what tells the next run it is gone
                wait_until(
                    lambda: watcher.get(topic("bathroom", "value")),
                    what="the bathroom's value",
                )
                assert daemon.terminate() == 0
            assert bath_topic is not None
            after = discovery_config(bridge_config(broker), scenarios, bathroom=False)
            with running_daemon(tmp_path / "data", config_text=after):
                watcher.wait_for(bath_topic, b"", timeout_s=20)
        finally:
            watcher.close()
        fresh = broker.watcher(f"{PREFIX}/#")  # what Home Assistant gets on start
        try:
            # retained messages come one by one: wait for the one asserted, not a count
            lamp_id = f"raspy.{host}.fake.lamp"
            wait_until(
                lambda: lamp_id in _unique_ids(fresh), what="the lamp's retained config"
            )
            assert bath_id not in _unique_ids(fresh)
        finally:
            fresh.close()


KEPT_SCENARIO = """\
name: hall-dim
description: The hall at 30
triggers:
  - kv: "/device/{host}.fake.nothing/value"
    above: 1000
actions:
  - device: "{host}.fake.hall"
    action: "set"
    value: 30
"""


def _unique_ids(watcher: Any) -> dict[str, str]:
    return {c["unique_id"]: t for t, c in _configs(watcher).items() if "unique_id" in c}


@pytest.mark.timeout(120)
def test_what_a_restart_leaves_out_loses_its_retained_messages(tmp_path: Path) -> None:
    """raspyd stopped; its fake devices service turned off, a scenario deleted from
    the store, a stray state message left retained under its topics: at the next
    start the bridge clears their retained configs and state (no ghost entity in
    Home Assistant), and keeps the rest and other tools' entries."""
    host = hostname()
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    (scenarios / "porch-light.yaml").write_text(SCENARIO, encoding="utf-8")
    (scenarios / "hall-dim.yaml").write_text(KEPT_SCENARIO, encoding="utf-8")
    (tmp_path / "no-scenarios").mkdir()
    node = re.sub(r"[^A-Za-z0-9_-]", "_", host)
    foreign = f"{PREFIX}/sensor/{node}/other_tool/config"
    stray = f"{BASE}/{host}/fake/unplugged/value"
    gone = [f"raspy.{host}.fake.{name}" for name in ("lamp", "attic", "hall")]
    gone.append(f"raspy.{host}.scenario.porch-light")
    kept = [f"raspy.{host}.gpio.relay", f"raspy.{host}.scenario.hall-dim"]
    with running_mosquitto(tmp_path / "mosquitto") as broker:
        base = bridge_config(broker, "cleanup_after_s = 1.0")
        before = discovery_config(base, scenarios, bathroom=False)
        watcher = broker.watcher(f"{PREFIX}/#", f"{BASE}/#")
        try:
            with running_daemon(tmp_path / "data", config_text=before) as daemon:
                announced = wait_until(
                    lambda: (
                        ids
                        if all(
                            u in (ids := _unique_ids(watcher)) for u in [*gone, *kept]
                        )
                        else None
                    ),
                    what="the configs of the first run",
                    timeout_s=30,
                )
                assert announced is not None
                assert daemon.terminate() == 0
            store = Store.open(tmp_path / "data")
            try:
                ScenarioStore(store).delete("porch-light")
            finally:
                store.close()
            watcher.publish(foreign, b'{"unique_id": "other.1"}', retain=True)
            watcher.publish(stray, b"1", retain=True)
            after = discovery_config(
                base.replace("fake_enabled = true", "fake_enabled = false"),
                tmp_path / "no-scenarios",
                bathroom=False,
            )
            with running_daemon(tmp_path / "data", config_text=after):
                for unique in gone:
                    watcher.wait_for(announced[unique], b"", timeout_s=30)
                watcher.wait_for(stray, b"", timeout_s=10)
                fresh = broker.watcher(f"{PREFIX}/#", f"{BASE}/#")  # Home Assistant
                try:
                    wait_until(
                        lambda: all(u in _unique_ids(fresh) for u in kept),
                        what="the configs that stay",
                    )
                    ids = _unique_ids(fresh)
                    assert not set(gone) & set(ids), sorted(ids)
                    assert ids[kept[0]] == announced[kept[0]]
                    assert fresh.get(foreign) == b'{"unique_id": "other.1"}'
                    assert fresh.get(stray) is None
                finally:
                    fresh.close()
        finally:
            watcher.close()


def _sent(watcher: Any, topic_name: str) -> int:
    """How many messages came on `topic_name` (retained replays included)."""
    with watcher._lock:
        return sum(1 for m in watcher.messages if m.topic == topic_name)


@pytest.mark.timeout(90)
def test_a_rename_over_mdp_and_home_assistants_restart_reach_the_broker(
    tmp_path: Path,
) -> None:
    """A friendly name set over MDP (`config`) is announced within seconds, not at
    the next start (the device service's `/event/device/<fullname>/configured`);
    Home Assistant's birth message (`online` on `homeassistant/status`) brings
    every config again, the hub's too; and the hub is a device of its own."""
    host = hostname()
    lamp_id, relay_id, hub_id = (
        f"raspy.{host}.fake.lamp",
        f"raspy.{host}.gpio.relay",
        f"raspy.{host}.hub",
    )
    with running_mosquitto(tmp_path / "mosquitto") as broker:
        watcher = broker.watcher(f"{PREFIX}/#")
        config = bridge_config(broker)
        try:
            with running_daemon(tmp_path / "data", config_text=config) as daemon:
                ids = wait_until(
                    lambda: (
                        found
                        if {lamp_id, relay_id, hub_id}
                        <= set(found := _unique_ids(watcher))
                        else None
                    ),
                    what="the lamp's, the relay's and the hub's configs",
                    timeout_s=20,
                )
                assert ids is not None
                lamp = _configs(watcher)[ids[lamp_id]]
                assert lamp["device"]["via_device"] == f"raspy.{host}"
                assert lamp["device"]["name"] == "lamp"
                assert (
                    _configs(watcher)[ids[hub_id]]["device"]["name"] == f"raspy {host}"
                )
                # renamed over MDP: Home Assistant hears of it at once
                document = {
                    "v": 1,
                    "action": "config",
                    "device": "lamp",
                    "value": {"friendly_name": "Kitchen"},
                }
                with Client(daemon.endpoint, timeout_s=3, retries=2) as client:
                    status, _ = client.request(
                        f"{host}.fake.devices", json.dumps(document)
                    )
                assert status == b"200"
                wait_until(
                    lambda: (
                        _configs(watcher)[ids[lamp_id]]["device"]["name"] == "Kitchen"
                    ),
                    what="the lamp's config with its new name",
                    timeout_s=10,
                )
                # Home Assistant restarts: every config again (a retained `online`
                # would be a replay, and is not sent here)
                before = {u: _sent(watcher, t) for u, t in ids.items()}
                watcher.publish(f"{PREFIX}/status", b"online")
                wait_until(
                    lambda: all(
                        _sent(watcher, ids[u]) > before[u]
                        for u in (lamp_id, relay_id, hub_id)
                    ),
                    what="every config again after the birth message",
                    timeout_s=10,
                )
                assert _configs(watcher)[ids[lamp_id]]["device"]["name"] == "Kitchen"
        finally:
            watcher.close()


@pytest.mark.timeout(90)
def test_with_the_prefix_equal_to_the_base_a_restart_refuses_no_config_of_its_own(
    tmp_path: Path,
) -> None:
    """discovery_prefix = base_topic: the bridge's `<base>/+/+/+/config` filter
    (the admin action `config`, answered 403) brings back its own retained configs
    at each start. They were refused as retained commands, each start, and the
    ghost of a device taken out stayed; now they are the sweep's."""
    host = hostname()
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    bath_id = f"raspy.{host}.fake.bathroom"
    with running_mosquitto(tmp_path / "mosquitto") as broker:
        extra = f'discovery_prefix = "{BASE}"\ncleanup_after_s = 1.0\n'
        same = bridge_config(broker, extra)
        watcher = broker.watcher(f"{BASE}/#")

        def bath_topic() -> str | None:
            with watcher._lock:
                latest = dict(watcher.latest)
            return next(
                (
                    t
                    for t, p in latest.items()
                    if t.endswith("/config") and p and bath_id.encode() in p
                ),
                None,
            )

        try:
            before = discovery_config(same, scenarios, bathroom=True)
            with running_daemon(tmp_path / "data", config_text=before) as daemon:
                wait_until(bath_topic, what="the bathroom's config", timeout_s=20)
                wait_until(
                    lambda: watcher.get(topic("bathroom", "value")),
                    what="the bathroom's value",
                )
                assert daemon.terminate() == 0
            bath = bath_topic()
            assert bath is not None
            after = discovery_config(same, scenarios, bathroom=False)
            with running_daemon(tmp_path / "data", config_text=after) as daemon:
                watcher.wait_for(bath, b"", timeout_s=20)
                wait_until(
                    lambda: "mqtt_ghosts_cleared" in daemon.log_text(),
                    what="the sweep's end",
                    timeout_s=20,
                )
                log = daemon.log_text()
            assert "retained_command" not in log
        finally:
            watcher.close()


@pytest.mark.timeout(90)
def test_home_assistants_birth_is_heard_on_its_own_topic_whatever_the_prefix(
    tmp_path: Path,
) -> None:
    """Home Assistant sends its birth message to `homeassistant/status` by default,
    whatever its discovery prefix (its MQTT docs, "Birth and Last will"): with
    `discovery_prefix = "ha"` the bridge listened on `ha/status` alone, and a Home
    Assistant restart with a broker that lost its retained messages found no
    entity. `birth_topic` names the topic, Home Assistant's default by default."""
    hub_id = f"raspy.{hostname()}.hub"
    with running_mosquitto(tmp_path / "mosquitto") as broker:
        watcher = broker.watcher("ha/#")
        config = bridge_config(broker, 'discovery_prefix = "ha"')
        try:
            with running_daemon(tmp_path / "data", config_text=config):

                def hub_topic() -> str | None:
                    with watcher._lock:
                        latest = dict(watcher.latest)
                    return next(
                        (
                            t
                            for t, p in latest.items()
                            if t.endswith("/config")
                            and p
                            and json.loads(p).get("unique_id") == hub_id
                        ),
                        None,
                    )

                hub = wait_until(hub_topic, what="the hub's config under ha/")
                assert hub is not None
                before = _sent(watcher, hub)
                watcher.publish("homeassistant/status", b"online")
                wait_until(
                    lambda: _sent(watcher, hub) > before,
                    what="the hub's config again after the birth message",
                    timeout_s=10,
                )
        finally:
            watcher.close()
