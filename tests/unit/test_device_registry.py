"""The register of device instances of one service (issue 7: device model)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from raspy.devices.onewire import OneWireFactory
from raspy.devices.reading import Reading, Status
from raspy.devices.registries import registry_of
from raspy.devices.registry import Registry, devices_service, read
from raspy.devices.simulated import SimulatedFactory
from raspy.errors import ConfigError, DeviceError
from raspy.mqtt.topics import CONTROL_SEGMENT, SCENARIO_SEGMENT
from raspy.names import RESERVED_SERVICES

NOW = 1_700_000_000.0


@pytest.fixture
def registry() -> Registry:
    return Registry("pi-kitchen", "fake", SimulatedFactory())


def test_full_names_follow_hostname_service_device(registry: Registry) -> None:
    """docs/architecture.md: a device's full name is <hostname>.<service>.<device>."""
    device = registry.add({"name": "attic", "oid": "sensor.temperature"})
    assert device.fullname == "pi-kitchen.fake.attic"
    assert registry.devices_service == "pi-kitchen.fake.devices"
    assert devices_service("pi", "onewire") == "pi.onewire.devices"


def test_composite_tv_gets_channel_and_volume_subdevices(registry: Registry) -> None:
    """Issue 7: media.tv is a composite; sub-devices are named
    <hostname>.<service>.<device>.<subdevice>."""
    registry.add({"name": "tv", "oid": "media.tv", "poll_interval_s": 30})
    assert registry.names() == ["tv", "tv.channel", "tv.volume"]
    volume = registry.get("tv.volume")
    assert (volume.fullname, volume.parent, volume.config.oid) == (
        "pi-kitchen.fake.tv.volume",
        "tv",
        "media.tv.volume",
    )
    assert volume.config.as_dict() == {
        "name": "tv.volume",
        "oid": "media.tv.volume",
        "info": "",
        "friendly_name": "",
        "unit": "%",
        "poll_interval_s": 30.0,
        "log": False,
    }


def test_device_name_is_unique_per_service(registry: Registry) -> None:
    """Issue 7: name required and unique per service."""
    registry.add({"name": "lamp", "oid": "switch"})
    with pytest.raises(DeviceError) as caught:
        registry.add({"name": "lamp", "oid": "dimmer"})
    assert str(caught.value) == "device 'lamp': name: already used in fake"
    assert registry.get("lamp").config.oid == "switch"


def test_add_all_adds_nothing_when_one_config_is_bad(registry: Registry) -> None:
    """docs/style.md §4: all or nothing; validate the whole input before changing."""
    with pytest.raises(DeviceError):
        registry.add_all(
            [
                {"name": "lamp", "oid": "switch"},
                {"name": "bad", "oid": "switch", "x": 1},
            ]
        )
    with pytest.raises(DeviceError) as caught:
        registry.add_all([{"name": "lamp", "oid": "switch"}] * 2)
    assert str(caught.value) == "device 'lamp': name: given twice"
    assert registry.names() == []


def test_an_integer_too_long_to_write_is_named_with_the_others() -> None:
    """An integer too long to write out (TOML reads `min = 0x…` of any length) made
    its device's check raise ValueError, said in Python's words with no device or
    field named: now by its size, with every other device's problems."""
    configs: list[object] = [
        {"name": "attic", "oid": "sensor.temperature", "min": 16**5000},
        {"name": "bad", "oid": "switch", "x": 1},
    ]
    with pytest.raises(ConfigError) as caught:
        registry_of("pi", "fake", SimulatedFactory(), configs)
    problems = caught.value.problems
    assert len(problems) == 2
    assert problems[0] == (
        "devices.fake: device 'attic': min: expected a finite number below 2**63, "
        "got an integer of 6021 digits"
    )
    assert problems[1] == "devices.fake: device 'bad': 'x': unknown field for switch"


def test_cross_field_problem_of_the_driver_names_device_and_field(
    registry: Registry,
) -> None:
    with pytest.raises(DeviceError) as caught:
        registry.add({"name": "attic", "oid": "sensor", "min": 5, "max": 1})
    assert str(caught.value) == "device 'attic': max: expected >= min (5.0), got 1.0"


def test_configure_changes_fields_and_keeps_the_rest(registry: Registry) -> None:
    registry.add({"name": "attic", "oid": "sensor.temperature", "info": "roof"})
    config = registry.configure("attic", {"unit": "K", "log": True})
    assert config.as_dict() == {
        **registry.get("attic").config.as_dict(),
        "unit": "K",
        "log": True,
        "info": "roof",
    }
    assert registry.get("attic").config == config


def test_configure_refuses_a_bad_change_and_keeps_the_old_config(
    registry: Registry,
) -> None:
    registry.add({"name": "attic", "oid": "sensor"})
    before = registry.get("attic").config
    for changes, message in [
        (
            {"poll_interval_s": 0},
            "poll_interval_s: expected a number in 0.1..86400, got 0",
        ),
        ({"name": "cellar"}, "device 'attic': name: cannot be changed"),
        ({"oid": "switch"}, "device 'attic': oid: cannot be changed"),
        ("loud", "device 'attic': config: expected an object of fields"),
    ]:
        with pytest.raises(DeviceError, match=re.escape(message)):
            registry.configure("attic", changes)
    assert registry.get("attic").config is before


def test_parent_config_flows_to_subdevices_which_refuse_their_own(
    registry: Registry,
) -> None:
    registry.add({"name": "tv", "oid": "media.tv"})
    registry.configure("tv", {"log": True})
    assert registry.get("tv.channel").config.settings["log"] is True
    with pytest.raises(DeviceError, match="a sub-device; configure tv"):
        registry.configure("tv.channel", {"log": False})


def test_remove_takes_subdevices_along(registry: Registry) -> None:
    registry.add({"name": "tv", "oid": "media.tv"})
    registry.add({"name": "lamp", "oid": "switch"})
    with pytest.raises(DeviceError):
        registry.remove("tv.volume")
    registry.remove("tv")
    assert registry.names() == ["lamp"]
    assert registry.configs() == [
        {
            "name": "lamp",
            "oid": "switch",
            "info": "",
            "friendly_name": "",
            "unit": "",
            "poll_interval_s": 60.0,
            "log": False,
        }
    ]


def test_unknown_device_lookup_raises_a_device_error(registry: Registry) -> None:
    assert registry.find("ghost") is None
    with pytest.raises(DeviceError) as caught:
        registry.get("ghost")
    assert str(caught.value) == "fake: no device 'ghost'"


def test_record_reports_status_changes_and_counts_errors(registry: Registry) -> None:
    """Issue 7: a failing read is counted and logged once per state change."""
    device = registry.add({"name": "attic", "oid": "sensor"})
    good = read(device, NOW)
    bad = Reading.failed(Status.CRC_ERROR, "", NOW, "crc=00 NO")
    assert [device.record(r) for r in (good, good, bad, bad, good)] == [
        True,
        False,
        True,
        False,
        True,
    ]
    assert (device.errors, device.last) == (2, good)
    device.clear()
    assert (device.errors, device.last) == (0, None)


def test_hostname_with_a_dot_is_refused() -> None:
    """docs/architecture.md: dots separate the parts of a full name."""
    with pytest.raises(ValueError, match="hostname"):
        Registry("pi.local", "fake", SimulatedFactory())


def test_service_without_a_driver_for_a_kind_refuses_it(tmp_path: Path) -> None:
    registry = Registry("pi", "onewire", OneWireFactory(tmp_path))
    with pytest.raises(DeviceError) as caught:
        registry.add({"name": "lamp", "oid": "switch"})
    assert str(caught.value) == "device 'lamp': oid: onewire has no switch devices"


@pytest.mark.parametrize("service", RESERVED_SERVICES)
def test_a_reserved_mqtt_level_is_refused_as_a_service_name(service: str) -> None:
    """A device service named `control` would have the MQTT topics of the hub's
    controls (`<base>/<host>/control/<device>/set`), `scenario` its scenarios'."""
    with pytest.raises(
        ValueError, match=f"service '{service}': a name the MQTT bridge"
    ):
        Registry("pi", service, SimulatedFactory())
    with pytest.raises(ConfigError) as caught:
        registry_of("pi", service, SimulatedFactory(), [])
    assert caught.value.problems == [
        f"devices.{service}: service '{service}': a name the MQTT bridge keeps for "
        "the topics of its own (control, scenario)"
    ]


def test_the_reserved_service_names_are_the_bridges_levels() -> None:
    assert set(RESERVED_SERVICES) == {CONTROL_SEGMENT, SCENARIO_SEGMENT}
