"""Device services of 1-Wire sensors over a real edge, Clone server and Store:
discovery, faults as status, rescans and a missing bus (issue 7).

Sensors are read from a temporary sysfs tree of real-format `w1_slave` files.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs
from support.clock import FakeClock
from support.device_services import (
    HOST,
    START_WALL,
    Services,
    server_fixture,  # noqa: F401  # fixture `server`
    services_fixture,  # noqa: F401  # fixture `services`
    tree_fixture,  # noqa: F401  # fixture `tree`
)
from support.device_services import mdp_request as _request
from support.device_services import tree_value as _value
from support.device_services import wait_entry as _wait_entry
from support.sysfs import (
    FakeW1Tree,
    max31850_scratchpad,
    release_fifo,
    scratchpad,
    w1_slave_text,
)
from support.wait import wait_until

from raspy.client.clone import CloneClient
from raspy.clock import SystemClock
from raspy.config import DevicesConfig
from raspy.devices.registries import Discover, onewire_discover, onewire_registry
from raspy.devices.registry import Registry
from raspy.devices.template import JsonValue
from raspy.storage.device_settings import DeviceSettings
from raspy.storage.store import Store

SENSOR_A = "28-00000000000a"
SENSOR_B = "28-00000000000b"
SENSOR_C = "28-00000000000c"


def _onewire(w1: FakeW1Tree, **settings: Any) -> tuple[Registry, Discover]:
    config = DevicesConfig(
        onewire_enabled=True,
        onewire_base_dir=str(w1.base_dir),
        onewire_poll_interval_s=1.0,
        **settings,
    )
    return onewire_registry(HOST, config), onewire_discover(config)


def test_onewire_sensors_are_discovered_and_faults_become_their_status(
    services: Services, tree: CloneClient, tmp_path: Path
) -> None:
    """Issue 7: 1-Wire sensors are found at start; a good reading, CRC NO, the 85 °C
    power-on value, an empty file and a sensor removed mid-run each show in the
    tree, and the other sensors keep publishing."""
    w1 = FakeW1Tree(tmp_path / "sys")
    w1.add_celsius(SENSOR_A, 21.5)
    w1.add(SENSOR_B, w1_slave_text(scratchpad(0x0150), crc_ok=False))
    w1.add(SENSOR_C, w1_slave_text(scratchpad(0x0550)))  # 85 °C
    clock = FakeClock(wall=START_WALL)
    registry, discover = _onewire(
        w1, onewire=({"name": "attic", "sensor_id": SENSOR_A},)
    )
    services.start(registry, clock, discover)
    a, b, c = (
        "testhost.onewire.attic",
        f"testhost.onewire.{SENSOR_B}",
        (f"testhost.onewire.{SENSOR_C}"),
    )
    _wait_entry(tree, b, "status", "crc_error")  # the first in name order
    clock.advance(1.0)  # sensors found together are spread over a second
    _wait_entry(tree, a, "value", 21.5)
    _wait_entry(tree, c, "status", "power_on_value")
    w1.remove(SENSOR_A)
    w1.set_celsius(SENSOR_B, -3.25)
    w1.write(SENSOR_C, "")
    clock.advance(60.0)  # past every backoff
    _wait_entry(tree, a, "status", "missing")
    assert _value(tree, a) is None
    _wait_entry(tree, b, "value", -3.25)
    # sent after the value (raspy.devices.reading.tree_entries), maybe in a later
    # turn of the tree's client: waited for, not read at once
    _wait_entry(tree, b, "status", "ok")
    _wait_entry(tree, c, "status", "empty")


def test_the_rescan_action_finds_a_sensor_plugged_in_later(
    services: Services, tree: CloneClient, tmp_path: Path
) -> None:
    w1 = FakeW1Tree(tmp_path / "sys")
    w1.add_celsius(SENSOR_A, 20.0)
    registry, discover = _onewire(w1)
    services.start(registry, SystemClock(), discover)
    _wait_entry(tree, f"testhost.onewire.{SENSOR_A}", "value", 20.0)
    w1.add_celsius(SENSOR_B, 18.0625)
    status, reply = _request(services.edge, "testhost.onewire.devices", action="rescan")
    assert (status, json.loads(reply)["rescan"]) == (b"200", "requested")
    _wait_entry(tree, f"testhost.onewire.{SENSOR_B}", "value", 18.0625)
    status, reply = _request(
        services.edge, "testhost.onewire.devices", action="list_keys"
    )
    assert json.loads(reply)["devices"] == [SENSOR_A, SENSOR_B]


def test_a_rescan_names_a_family_3b_part_by_what_it_read(
    services: Services, tree: CloneClient, tmp_path: Path
) -> None:
    """A MAX31850 shares the DS1825's family code: found by a rescan, it is logged
    as what its scratchpad says it is; its name and keys are its id all the same."""
    thermocouple = "3b-00000000000d"
    w1 = FakeW1Tree(tmp_path / "sys")
    w1.add_celsius(SENSOR_A, 20.0)
    registry, discover = _onewire(w1)
    with capture_logs() as logs:
        services.start(registry, SystemClock(), discover)
        _wait_entry(tree, f"testhost.onewire.{SENSOR_A}", "value", 20.0)
        w1.add(thermocouple, w1_slave_text(max31850_scratchpad(412.25)))
        status, _ = _request(services.edge, "testhost.onewire.devices", action="rescan")
        assert status == b"200"
        _wait_entry(tree, f"testhost.onewire.{thermocouple}", "value", 412.25)
    found = [
        (e["sensor_id"], e["model"])
        for e in logs
        if e["event"] == "onewire_sensor_found"
    ]
    assert found == [(SENSOR_A, "DS18B20"), (thermocouple, "MAX31850")]


def test_a_rescan_refuses_a_sensor_whose_id_is_another_devices_friendly_name(
    services: Services, tree: CloneClient, tmp_path: Path
) -> None:
    """A friendly name is one no other device has as its name (README, "Device
    settings that last"): a sensor found by a rescan whose id another device's
    friendly name took was added all the same, and two devices answered to one
    name. It is refused, logged with the device to rename; the other sensors found
    with it are added, and it is once that name is free."""
    w1 = FakeW1Tree(tmp_path / "sys")
    w1.add_celsius(SENSOR_A, 20.0)
    registry, discover = _onewire(w1)
    services.start(registry, SystemClock(), discover)
    _config_of(services, SENSOR_A, {"friendly_name": SENSOR_B})
    w1.add_celsius(SENSOR_B, 18.0)
    w1.add_celsius(SENSOR_C, 19.0)
    with capture_logs() as logs:
        status, _ = _request(services.edge, "testhost.onewire.devices", action="rescan")
        assert status == b"200"
        _wait_entry(tree, f"testhost.onewire.{SENSOR_C}", "value", 19.0)
    status, reply = _request(
        services.edge, "testhost.onewire.devices", action="list_keys"
    )
    assert json.loads(reply)["devices"] == [SENSOR_A, SENSOR_C]
    assert _config_of(services, SENSOR_B)["name"] == SENSOR_A
    refused = [
        {k: e[k] for k in ("event", "service", "reason")}
        for e in logs
        if e["event"] == "device_discovered_refused"
    ]
    assert refused == [
        {
            "event": "device_discovered_refused",
            "service": "onewire",
            "reason": f"device '{SENSOR_B}': name: already the friendly name of "
            f"'{SENSOR_A}'",
        }
    ]
    _config_of(services, SENSOR_A, {"friendly_name": "Attic"})
    status, _ = _request(services.edge, "testhost.onewire.devices", action="rescan")
    assert status == b"200"
    _wait_entry(tree, f"testhost.onewire.{SENSOR_B}", "value", 18.0)


def test_a_missing_onewire_bus_leaves_the_service_up_with_no_devices(
    services: Services, tmp_path: Path
) -> None:
    """No w1-gpio overlay: discovery fails, which is logged, not fatal."""
    config = DevicesConfig(
        onewire_enabled=True, onewire_base_dir=str(tmp_path / "no-such-dir")
    )
    with capture_logs() as logs:
        services.start(
            onewire_registry(HOST, config), SystemClock(), onewire_discover(config)
        )
        status, reply = _request(
            services.edge, "testhost.onewire.devices", action="list_keys"
        )
    assert (status, json.loads(reply)["devices"]) == (b"200", [])
    assert [e["event"] for e in logs if e["event"] == "device_rescan_failed"] == [
        "device_rescan_failed"
    ]


def _with_a_silent_part(tmp_path: Path, silent: str) -> tuple[FakeW1Tree, Path]:
    """SENSOR_A at 20 °C and a part whose w1_slave never answers: a FIFO no one
    writes, as a hung bus (release it with release_fifo)."""
    w1 = FakeW1Tree(tmp_path / "sys")
    w1.add_celsius(SENSOR_A, 20.0)
    w1.add(silent, "")
    fifo = w1.base_dir / silent / "w1_slave"
    fifo.unlink()
    os.mkfifo(fifo)
    return w1, fifo


def _let_go(services: Services, fifo: Path) -> None:
    """End the hung reads, then stop the services while the test still runs: the
    readings that follow (a sensor back to `ok`, the part's empty file) are logged,
    and a line logged once the test's body had ended, before its fixtures stop the
    services, went to the terminal (pytest captures each phase, not the gap)."""
    release_fifo(fifo)
    services.stop()


@pytest.mark.timeout(30)
def test_a_family_3b_part_that_does_not_answer_does_not_hang_the_service(
    services: Services, tree: CloneClient, tmp_path: Path
) -> None:
    """Discovery reads a family-3b part to log what it is, on the device service's
    own thread: a w1_slave that never answers (a hung bus; here a FIFO no one
    writes) hung the service for good, and with it every request to the board. The
    read now has 3 s; the part is logged as not told, and named by its id."""
    silent = "3b-00000000000e"
    w1, fifo = _with_a_silent_part(tmp_path, silent)
    registry, discover = _onewire(w1)
    try:
        with capture_logs() as logs:
            services.start(registry, FakeClock(wall=START_WALL), discover)
            # the service registers after its start, the 3 s of the read included
            wait_until(
                lambda: _value(tree, f"testhost.onewire.{SENSOR_A}") == 20.0,
                what="the other sensor's reading",
                timeout_s=10.0,
            )
            status, reply = _request(
                services.edge, "testhost.onewire.devices", action="list_keys"
            )
        assert (status, json.loads(reply)["devices"]) == (b"200", [SENSOR_A, silent])
        late = [
            e["sensor_id"] for e in logs if e["event"] == "onewire_identify_timeout"
        ]
        assert late == [silent]
    finally:
        _let_go(services, fifo)


@pytest.mark.timeout(30)
def test_a_sensor_whose_read_hangs_leaves_no_stale_value_in_the_tree(
    services: Services, tree: CloneClient, tmp_path: Path
) -> None:
    """A w1_slave that never answers (a hung bus; a FIFO no one writes) held the
    bus's reader for good, and the tree went on showing every sensor of the bus
    with its last value as `ok`. Once the read has not returned in its time, each
    reads `no_answer` with no value."""
    hanging = "28-00000000000f"
    w1, fifo = _with_a_silent_part(tmp_path, hanging)
    registry, discover = _onewire(w1)
    try:
        services.start(registry, SystemClock(), discover, read_stall_s=0.5)

        def shown() -> list[tuple[Any, Any]]:
            return [
                (
                    _value(tree, f"testhost.onewire.{name}", "status"),
                    _value(tree, f"testhost.onewire.{name}"),
                )
                for name in (SENSOR_A, hanging)
            ]

        wait_until(
            lambda: shown() == [("no_answer", None)] * 2,
            what="both sensors of the hung bus read no_answer",
            timeout_s=10.0,
        )
    finally:
        _let_go(services, fifo)


def _config_of(services: Services, name: str, change: JsonValue = None) -> Any:
    """The device's config, after `change` (fields to set) when given."""
    fields: dict[str, JsonValue] = {} if change is None else {"value": change}
    status, reply = _request(
        services.edge,
        "testhost.onewire.devices",
        action="config",
        device=name,
        **fields,
    )
    assert status == b"200", reply
    return json.loads(reply)["config"]


def _start_stored(services: Services, w1: FakeW1Tree, settings: Store) -> None:
    """Start the onewire service of `w1` with its settings stored in `settings`."""
    registry, discover = _onewire(w1)
    services.start(registry, SystemClock(), discover, settings=DeviceSettings(settings))


def _restart(services: Services, w1: FakeW1Tree, settings: Store) -> None:
    """Stop the running onewire service and start it anew from its config."""
    services.refs.pop().stop(block=True, timeout=10)
    _start_stored(services, w1, settings)


def test_a_discovered_sensors_settings_last_and_reset_returns_to_what_was_found(
    services: Services, tree: CloneClient, tmp_path: Path
) -> None:
    """A sensor found on the bus (no entry in the config file) took a `config`
    change over MDP and answered 200, but nothing was stored: its friendly name was
    gone at the next start (README: raspy-poller's data dir keeps "a sensor's
    friendly name"), and `reset` left the change in place."""
    w1 = FakeW1Tree(tmp_path / "sys")
    w1.add_celsius(SENSOR_A, 20.0)
    settings = Store.open(tmp_path / "settings")
    try:
        _start_stored(services, w1, settings)
        _config_of(services, SENSOR_A, {"friendly_name": "Attic", "unit": "°F"})
        _restart(services, w1, settings)
        config = _config_of(services, "Attic")
        assert (config["name"], config["unit"]) == (SENSOR_A, "°F")
        _wait_entry(tree, f"testhost.onewire.{SENSOR_A}", "value", 68.0)
        status, _ = _request(
            services.edge, "testhost.onewire.devices", action="reset", device="Attic"
        )
        assert status == b"200"
        config = _config_of(services, SENSOR_A)
        assert (config["friendly_name"], config["unit"]) == ("", "°C")
        _restart(services, w1, settings)
        config = _config_of(services, SENSOR_A)
        assert (config["friendly_name"], config["unit"]) == ("", "°C")
    finally:
        services.stop()
        settings.close()


def test_a_sensor_found_by_a_rescan_takes_the_settings_stored_for_it(
    services: Services, tree: CloneClient, tmp_path: Path
) -> None:
    """A sensor unplugged at a restart and plugged in again later is found by a
    rescan: what was stored for it applies then, as it does at a start."""
    w1 = FakeW1Tree(tmp_path / "sys")
    w1.add_celsius(SENSOR_A, 20.0)
    w1.add_celsius(SENSOR_B, 18.0)
    settings = Store.open(tmp_path / "settings")
    try:
        _start_stored(services, w1, settings)
        _config_of(services, SENSOR_B, {"friendly_name": "Cellar"})
        w1.remove(SENSOR_B)
        _restart(services, w1, settings)
        w1.add_celsius(SENSOR_B, 18.0)
        status, _ = _request(services.edge, "testhost.onewire.devices", action="rescan")
        assert status == b"200"
        assert _config_of(services, "Cellar")["name"] == SENSOR_B
    finally:
        services.stop()
        settings.close()


def test_a_sensor_a_rescan_finds_is_polled_when_the_store_cannot_be_read(
    services: Services, tree: CloneClient, tmp_path: Path
) -> None:
    """What was stored for a sensor found by a rescan is read then: a store that
    fails (a failing card) leaves it at its found settings, polled all the same."""
    w1 = FakeW1Tree(tmp_path / "sys")
    w1.add_celsius(SENSOR_A, 20.0)
    settings = Store.open(tmp_path / "settings")
    _start_stored(services, w1, settings)
    _wait_entry(tree, f"testhost.onewire.{SENSOR_A}", "value", 20.0)
    settings.close()  # every read and write fails from now on
    w1.add_celsius(SENSOR_B, 18.0625)
    status, reply = _request(services.edge, "testhost.onewire.devices", action="rescan")
    assert (status, json.loads(reply)["rescan"]) == (b"200", "requested")
    _wait_entry(tree, f"testhost.onewire.{SENSOR_B}", "value", 18.0625)


def test_a_stored_friendly_name_outlasts_a_start_that_finds_a_sensor_of_that_id(
    services: Services, tree: CloneClient, tmp_path: Path
) -> None:
    """A friendly name stored while no sensor had that id: once one is on the bus
    at a start, the rename was dropped and the sensor took the name. Stored renames
    last (README, "Device settings that last") and no two devices answer to one
    name: the sensor is refused, as a rescan refuses it, until the name is free."""
    w1 = FakeW1Tree(tmp_path / "sys")
    w1.add_celsius(SENSOR_A, 20.0)
    settings = Store.open(tmp_path / "settings")
    try:
        _start_stored(services, w1, settings)
        _config_of(services, SENSOR_A, {"friendly_name": SENSOR_B})
        w1.add_celsius(SENSOR_B, 18.0)
        with capture_logs() as logs:
            _restart(services, w1, settings)
            assert _config_of(services, SENSOR_B)["name"] == SENSOR_A
        assert [e["reason"] for e in logs if "refused" in e["event"]] == [
            f"device '{SENSOR_B}': name: already the friendly name of '{SENSOR_A}'"
        ]
    finally:
        services.stop()
        settings.close()
