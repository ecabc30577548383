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
    assert _gpio_problems(
        '[[devices.gpio]]\nname = "a"\noid = "switch"\npin = 17\n'
        '[[devices.gpio]]\nname = "b"\noid = "dimmer"\npin = 17\nfrequency_hz = "x"\n'
    ) == ['devices.gpio[1].frequency_hz: expected a number, got "x"']


def test_check_config_names_every_bad_device_of_every_service_at_once() -> None:
    """`raspyd --check-config` promises every problem at once: it stopped at a
    service's first bad device, and at the first service with one."""
    loaded = config.load(
        '[devices]\nfake_enabled = true\ngpio_enabled = true\npin_factory = "mock"\n'
        '[[devices.fake]]\nname = "a"\noid = "sensor.temperature"\nprecision = 9\n'
        '[[devices.fake]]\nname = "ok"\noid = "sensor.temperature"\n'
        '[[devices.fake]]\nname = "b"\noid = "sensor.humidity"\nprecision = "x"\n'
        '[[devices.gpio]]\nname = "c"\noid = "switch"\npin = 99\n',
        "raspy.toml",
    )
    with pytest.raises(ConfigError) as caught:
        check_config("pi", loaded.devices)
    assert caught.value.problems == [
        "devices.fake: device 'a': precision: expected an integer in 0..6, got 9",
        "devices.fake: device 'b': precision: expected an integer, got \"x\"",
        "devices.gpio[0].pin: the board (3B) has no GPIO pin 99",
    ]


def test_devices_given_twice_are_still_named_once_each_is_valid() -> None:
    loaded = config.load(
        "[devices]\nfake_enabled = true\n"
        '[[devices.fake]]\nname = "a"\noid = "switch"\n'
        '[[devices.fake]]\nname = "a"\noid = "switch"\n',
        "raspy.toml",
    )
    with pytest.raises(ConfigError) as caught:
        check_config("pi", loaded.devices)
    assert caught.value.problems == ["devices.fake: device 'a': name: given twice"]


def test_a_name_given_twice_is_named_with_the_other_bad_devices_at_once() -> None:
    """Only the bad oid was named; the name given twice came at the next run."""
    loaded = config.load(
        "[devices]\nfake_enabled = true\n"
        '[[devices.fake]]\nname = "a"\noid = "switch"\n'
        '[[devices.fake]]\nname = "a"\noid = "switch"\n'
        '[[devices.fake]]\nname = "b"\noid = "nonsense"\n',
        "raspy.toml",
    )
    with pytest.raises(ConfigError) as caught:
        check_config("pi", loaded.devices)
    assert len(caught.value.problems) == 2
    assert caught.value.problems[0].startswith("devices.fake: device 'b': oid: ")
    assert caught.value.problems[1] == "devices.fake: device 'a': name: given twice"


def test_each_problem_of_the_gpio_tables_is_a_problem_of_its_own() -> None:
    """They came as one problem joined with `; `: one line in `--check-config`."""
    assert _gpio_problems(
        '[[devices.gpio]]\nname = "a"\noid = "switch"\npin = 99\n'
        '[[devices.gpio]]\nname = "b"\noid = "switch"\npin = 17\nbogus = 1\n'
        '[[devices.gpio]]\nname = "c"\noid = "dimmer"\npin = 18\n'
        'frequency_hz = "x"\n'
    ) == [
        "devices.gpio[0].pin: the board (3B) has no GPIO pin 99",
        "devices.gpio[1].bogus: unknown option for switch",
        'devices.gpio[2].frequency_hz: expected a number, got "x"',
    ]


def test_an_input_names_any_home_assistant_class_read_from_the_file() -> None:
    """A window contact, a leak sensor: the input's `device_class` is Home
    Assistant's word for it (what the MQTT bridge announces), `button` raspy's own."""
    loaded = config.load(
        '[devices]\ngpio_enabled = true\npin_factory = "mock"\n'
        '[[devices.gpio]]\nname = "bay"\noid = "sensor.binary"\npin = 5\n'
        'device_class = "window"\n'
        '[[devices.gpio]]\nname = "leak"\noid = "sensor.binary"\npin = 6\n'
        'device_class = "moisture"\n'
        '[[devices.gpio]]\nname = "bell"\noid = "sensor.binary"\npin = 13\n',
        "raspy.toml",
    )
    registry = gpio_registry("pi", loaded.devices)
    assert [
        registry.get(n).config.settings["device_class"] for n in ("bay", "leak", "bell")
    ] == [
        "window",
        "moisture",
        "button",
    ]


@pytest.mark.parametrize(
    ("table", "problems"),
    [
        (
            '[[devices.fake]]\nname = "meter"\noid = "sensor"\nprecision = 7\n'
            'state_class = "counter"\n',
            [
                "devices.fake: device 'meter': precision: expected an integer in "
                "0..6, got 7",
                "devices.fake: device 'meter': state_class: expected one of "
                'measurement, total, total_increasing, got "counter"',
            ],
        ),
        (
            '[[devices.fake]]\nname = "attic"\noid = "sensor.temperature"\n'
            'precision = "1"\n',
            ["devices.fake: device 'attic': precision: expected an integer, got \"1\""],
        ),
        (
            '[[devices.gpio]]\nname = "bay"\noid = "sensor.binary"\npin = 5\n'
            'device_class = "doorbell"\n',
            [
                "devices.gpio[0].device_class: expected one of button, battery, "
                "battery_charging, carbon_monoxide, cold, connectivity, door, "
                "garage_door, gas, heat, light, lock, moisture, motion, moving, "
                "occupancy, opening, plug, power, presence, problem, running, "
                "safety, smoke, sound, tamper, update, vibration, window, got "
                '"doorbell"',
            ],
        ),
    ],
    ids=["fake-sensor", "fake-temperature", "gpio-input"],
)
def test_bad_display_fields_in_the_file_are_named_by_their_key(
    table: str, problems: list[str]
) -> None:
    """A device's precision, state class and input class are checked with the rest
    of its table, before anything starts, each problem named by its key."""
    loaded = config.load(
        '[devices]\nfake_enabled = true\ngpio_enabled = true\npin_factory = "mock"\n'
        + table,
        "raspy.toml",
    )
    with pytest.raises(ConfigError) as caught:
        check_config("pi", loaded.devices)
    assert caught.value.problems == problems


def _gpio_problems(tables: str) -> list[str]:
    """check_config's problems of `[[devices.gpio]]` tables (TOML text)."""
    loaded = config.load(
        '[devices]\ngpio_enabled = true\npin_factory = "mock"\n' + tables,
        "raspy.toml",
    )
    with pytest.raises(ConfigError) as caught:
        check_config("pi", loaded.devices)
    return list(caught.value.problems)


def test_a_name_used_twice_is_refused_naming_both_tables() -> None:
    """It was `device 'a': name: given twice`, without the table to look at."""
    assert _gpio_problems(
        '[[devices.gpio]]\nname = "a"\noid = "switch"\npin = 17\n'
        '[[devices.gpio]]\nname = "a"\noid = "dimmer"\npin = 18\n'
    ) == ['devices.gpio[1].name: "a" is already used by devices.gpio[0]']


def test_an_option_of_choices_given_another_type_names_the_choices() -> None:
    """`on_stop = true` said `expected a string`: which string was left to guess."""
    assert _gpio_problems(
        '[[devices.gpio]]\nname = "a"\noid = "switch"\npin = 17\non_stop = true\n'
    ) == ["devices.gpio[0].on_stop: expected one of off, keep, got true"]
