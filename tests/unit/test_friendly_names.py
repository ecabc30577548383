"""Friendly names: a request may name a device by its `friendly_name`; one friendly
name per service (issue 12)."""

from __future__ import annotations

import json

import pytest

from raspy.devices import service
from raspy.devices.registry import Registry
from raspy.devices.simulated import SimulatedFactory
from raspy.errors import DeviceError


@pytest.fixture
def registry() -> Registry:
    registry = Registry("pi", "fake", SimulatedFactory())
    registry.add_all(
        [
            {"name": "lamp", "oid": "switch", "friendly_name": "Hall light"},
            {"name": "hall", "oid": "dimmer"},
        ]
    )
    return registry


def test_a_device_is_found_by_its_name_or_its_friendly_name(registry: Registry) -> None:
    lamp = registry.get("lamp")
    assert [registry.resolve(n) for n in ("lamp", "Hall light", "hall light", "")] == [
        lamp,
        lamp,
        None,
        None,
    ]


def test_a_request_may_use_the_friendly_name(registry: Registry) -> None:
    body = json.dumps({"v": 1, "action": "on", "device": "Hall light"}).encode()
    status, reply = service.handle(registry, [body], 5.0).reply
    assert (status, json.loads(reply)["device"]) == (b"200", "lamp")


@pytest.mark.parametrize(
    ("changes", "detail"),
    [
        ({"friendly_name": "Hall light"},
         "device 'hall': friendly_name: 'Hall light' is already used by 'lamp'"),
        ({"friendly_name": "lamp"},
         "device 'hall': friendly_name: 'lamp' is already used by 'lamp'"),
    ],
    ids=["another-friendly-name", "another-device-name"],
)  # fmt: skip
def test_a_friendly_name_used_in_the_service_is_refused_with_400(
    registry: Registry, changes: dict[str, str], detail: str
) -> None:
    body = json.dumps(
        {"v": 1, "action": "config", "device": "hall", "value": changes}
    ).encode()
    status, reply = service.handle(registry, [body], 5.0).reply
    assert (status, json.loads(reply)["detail"]) == (b"400", detail)
    assert registry.get("hall").config.settings["friendly_name"] == ""


def test_two_devices_of_one_file_with_one_friendly_name_are_refused() -> None:
    registry = Registry("pi", "fake", SimulatedFactory())
    with pytest.raises(DeviceError, match="'Lamp': name: given twice"):
        registry.add_all(
            [
                {"name": "a", "oid": "switch", "friendly_name": "Lamp"},
                {"name": "b", "oid": "switch", "friendly_name": "Lamp"},
            ]
        )
    registry.add({"name": "c", "oid": "switch", "friendly_name": "c"})  # its own name


def test_a_friendly_name_of_the_file_that_is_a_sub_devices_name_is_refused() -> None:
    """A sub-device's name (`tv.volume`) as another device's friendly name passed the
    file's check: the name won every request, and each later `config` of that
    device over MDP was refused (the friendly name is used by `tv.volume`)."""
    registry = Registry("pi", "fake", SimulatedFactory())
    with pytest.raises(DeviceError, match=r"'tv\.volume': name: given twice"):
        registry.add_all(
            [
                {"name": "tv", "oid": "media.tv"},
                {"name": "lamp", "oid": "switch", "friendly_name": "tv.volume"},
            ]
        )
    assert registry.names() == []


def test_two_devices_may_swap_friendly_names_together_and_a_clash_changes_neither(
    registry: Registry,
) -> None:
    """configure() one at a time refuses either half of a swap (the other still
    holds the name); configure_together() checks each against the names the others
    are given with it, and applies all or none."""
    registry.configure("hall", {"friendly_name": "Hall"})
    with pytest.raises(DeviceError):
        registry.configure("lamp", {"friendly_name": "Hall"})
    assert (
        registry.configure_together(
            {"lamp": {"friendly_name": "Hall"}, "hall": {"friendly_name": "Hall light"}}
        )
        == {}
    )
    names = {d.name: d.config.settings["friendly_name"] for d in registry.devices()}
    assert names == {"hall": "Hall light", "lamp": "Hall"}
    refused = registry.configure_together(
        {"lamp": {"friendly_name": "Desk"}, "hall": {"friendly_name": "Desk"}}
    )
    assert refused == {
        "lamp": ["device 'lamp': friendly_name: 'Desk' is already used by 'hall'"],
        "hall": ["device 'hall': friendly_name: 'Desk' is already used by 'lamp'"],
    }
    assert {d.name: d.config.settings["friendly_name"] for d in registry.devices()} == (
        names
    )
