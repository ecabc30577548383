"""`[devices]` GPIO, RTC and clock settings in the config file (issue 12)."""

from __future__ import annotations

import pytest

from raspy import config
from raspy.devices.registries import check_config, gpio_registry
from raspy.errors import ConfigError


def test_gpio_tables_and_settings_are_read_from_the_file() -> None:
    loaded = config.load(
        '[devices]\ngpio_enabled = true\npin_factory = "mock"\nrtc_enabled = true\n'
        '[[devices.gpio]]\nname = "relay"\noid = "switch"\npin = 17\n',
        "raspy.toml",
    )
    assert (
        loaded.devices.gpio_enabled,
        loaded.devices.pin_factory,
        loaded.devices.gpio,
        loaded.devices.rtc_enabled,
        loaded.devices.clock_health_interval_s,
    ) == (True, "mock", ({"name": "relay", "oid": "switch", "pin": 17},), True, 10.0)
    registry = gpio_registry("pi", loaded.devices)
    assert registry.get("relay").config.settings["pin"] == "GPIO17"


def test_an_unknown_pin_factory_is_refused_naming_the_key() -> None:
    with pytest.raises(ConfigError) as caught:
        config.load('[devices]\npin_factory = "pigpio"\n', "raspy.toml")
    assert caught.value.problems == [
        'raspy.toml: devices.pin_factory: expected one of default, mock, got "pigpio"'
    ]


def test_a_bad_gpio_table_is_a_config_error_through_check_config() -> None:
    loaded = config.load(
        '[devices]\ngpio_enabled = true\npin_factory = "mock"\n'
        '[[devices.gpio]]\nname = "a"\noid = "switch"\npin = 17\n'
        '[[devices.gpio]]\nname = "b"\noid = "dimmer"\npin = 17\nfrequency_hz = "x"\n',
        "raspy.toml",
    )
    with pytest.raises(ConfigError) as caught:
        check_config("pi", loaded.devices)
    assert caught.value.problems == [
        'devices.gpio[1].frequency_hz: expected a number, got "x"'
    ]
