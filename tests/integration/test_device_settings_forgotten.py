"""What the store holds of a device that left the config file is forgotten at the
next start of its service (a reload restarts it): its output state for `initial =
"restore"` and its settings changed over MDP. They stayed, and a later device of
the same name took them over: a new `heater` with `initial = "restore"` started on
because an old one had been on. 1-Wire keeps them (a sensor off the bus for a
while keeps its rename: tests/integration/test_onewire_actors.py).

A real edge, Clone server and Store, gpiozero's mock pins."""

from __future__ import annotations

import json
from pathlib import Path

from structlog.testing import capture_logs
from support.device_services import (
    HOST,
    Services,
    server_fixture,  # noqa: F401  # fixture `server`
    services_fixture,  # noqa: F401  # fixture `services`
    tree_fixture,  # noqa: F401  # fixture `tree`
)
from support.device_services import mdp_request as _request
from support.gpio_service import (
    Gpio,
    gpio_fixture,  # noqa: F401  # fixture `gpio`
)

from raspy.clock import SystemClock
from raspy.config import DevicesConfig
from raspy.devices.registries import fake_registry
from raspy.storage.device_settings import DeviceSettings, Saved
from raspy.storage.store import Store

HEATER = {"name": "heater", "oid": "switch", "pin": 17, "initial": "restore"}
FAN = {"name": "fan", "oid": "switch", "pin": 22, "initial": "restore"}


def test_a_new_output_named_as_a_removed_one_starts_afresh(
    gpio: Gpio, store: Store
) -> None:
    """The heater is on, with settings changed over MDP; its entry is removed and
    the config reloaded; weeks later a new heater on another pin starts off, with
    the file's settings, and nobody asked for anything."""
    gpio.start(HEATER, FAN, restarting=True)
    for device in ("heater", "fan"):
        assert gpio.request(action="on", device=device)[0] == b"200"
    changed = {"friendly_name": "Old heater", "max_on_s": 900, "on_stop": "keep"}
    status, _ = gpio.request(action="config", device="heater", value=changed)
    assert status == b"200"
    gpio.stop()  # a reload: the heater's entry is gone from the file
    with capture_logs() as logs:
        gpio.start(FAN, restarting=True)
        assert gpio.request(action="get", device="fan")[0] == b"200"  # started
    assert gpio.pins.level("GPIO17") is False  # switched off and released
    assert [e for e in logs if e["event"] == "device_settings_forgotten"] == [
        {
            "component": "devices",
            "event": "device_settings_forgotten",
            "log_level": "info",
            "service": f"{HOST}.gpio.devices",
            "devices": [f"{HOST}.gpio.heater"],
        }
    ]
    saved = DeviceSettings(store).load(f"{HOST}.gpio.")
    assert (saved.configs, saved.states) == ({}, {f"{HOST}.gpio.fan": True})
    gpio.stop()

    gpio.start({**HEATER, "pin": 23}, FAN)  # weeks later, a new heater
    status, reply = gpio.request(action="config", device="heater")
    assert gpio.pins.level("GPIO23") is False
    assert gpio.pins.level("GPIO22") is True  # the fan as it was
    config = reply["config"]
    assert (status, config["friendly_name"], config["max_on_s"], config["on_stop"]) == (
        b"200",
        "",
        0.0,
        "off",
    )


def _config_of(services: Services, name: str) -> dict[str, object]:
    status, reply = _request(
        services.edge, f"{HOST}.fake.devices", action="config", device=name
    )
    assert status == b"200", reply
    config: dict[str, object] = json.loads(reply)["config"]
    return config


def _fake(*names: str) -> DevicesConfig:
    entries = tuple({"name": name, "oid": "switch"} for name in names)
    return DevicesConfig(fake_enabled=True, fake=entries)


def test_the_settings_of_a_removed_simulated_device_are_forgotten(
    services: Services, tmp_path: Path
) -> None:
    settings = Store.open(tmp_path / "settings")
    try:
        stored = DeviceSettings(settings)
        for name in ("lamp", "desk"):
            stored.save_config(f"{HOST}.fake.{name}", {"friendly_name": name}, 1.0)
        services.start(
            fake_registry(HOST, _fake("desk")), SystemClock(), settings=stored
        )
        assert _config_of(services, "desk")["friendly_name"] == "desk"
        assert stored.load(f"{HOST}.fake.") == Saved(
            configs={f"{HOST}.fake.desk": {"friendly_name": "desk"}}
        )
        services.refs.pop().stop(block=True, timeout=10)
        services.start(
            fake_registry(HOST, _fake("desk", "lamp")), SystemClock(), settings=stored
        )
        assert _config_of(services, "lamp")["friendly_name"] == ""
    finally:
        services.stop()
        settings.close()


def test_a_store_that_refuses_to_forget_is_logged_and_the_service_starts(
    services: Services, tmp_path: Path
) -> None:
    """A store that cannot write (here: opened read-only) must not keep the service
    down: its devices are what counts; the records wait for the next start."""
    with Store.open(tmp_path / "settings") as writer:
        DeviceSettings(writer).save_config(
            f"{HOST}.fake.lamp", {"friendly_name": "Lamp"}, 1.0
        )
    settings = Store.open(tmp_path / "settings", readonly=True)
    try:
        with capture_logs() as logs:
            services.start(
                fake_registry(HOST, _fake("desk")),
                SystemClock(),
                settings=DeviceSettings(settings),
            )
            assert _config_of(services, "desk")["name"] == "desk"
        refused = [e for e in logs if e["event"] == "device_settings_not_forgotten"]
        assert [(e["service"], e["log_level"]) for e in refused] == [
            (f"{HOST}.fake.devices", "error")
        ]
    finally:
        services.stop()
        settings.close()
