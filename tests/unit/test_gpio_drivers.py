"""GPIO drivers on gpiozero's own mock pins (MockFactory with PWM pins), and the
checks of `[[devices.gpio]]` tables (issue 12)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from raspy.devices import gpio, gpio_binary, gpio_options
from raspy.devices.builtin_kinds import BUILTIN
from raspy.devices.gpio_logic import Decision, Hold, Verdict
from raspy.devices.gpio_pins import PinFactoryKind, Pins, reference_resolve
from raspy.devices.kinds import validate
from raspy.devices.reading import Reading, Status
from raspy.devices.template import DeviceConfig
from raspy.errors import DeviceError

NOW = 1_700_000_000.0


@pytest.fixture
def pins() -> Pins:
    return Pins.mock()


def _config(oid: str, **fields: Any) -> DeviceConfig:
    return validate(
        BUILTIN,
        {"name": "d", "oid": oid, **fields},
        lambda o: gpio.GpioFactory().fields(o) or (),
    )


@pytest.fixture
def opened(pins: Pins) -> Iterator[list[gpio.GpioOutput | gpio_binary.GpioInput]]:
    drivers: list[gpio.GpioOutput | gpio_binary.GpioInput] = []
    yield drivers
    for driver in drivers:
        driver.close()


def _output(
    pins: Pins, opened: list[Any], config: DeviceConfig, stored: Any = None
) -> gpio.GpioOutput:
    driver = gpio.GpioOutput(config.oid)
    driver.open(pins, config, stored)
    opened.append(driver)
    return driver


def test_a_switch_drives_its_pin_high_when_on(pins: Pins, opened: list[Any]) -> None:
    config = _config("switch", pin="GPIO17")
    switch = _output(pins, opened, config)
    assert pins.level("GPIO17") is False
    assert switch.execute(config, "on", None, NOW) == Reading(True, "", Status.OK, NOW)
    assert pins.level("GPIO17") is True
    switch.execute(config, "toggle", None, NOW)
    assert (pins.level("GPIO17"), switch.read(config, NOW).value) == (False, False)
    switch.execute(config, "state", True, NOW)
    assert pins.level("GPIO17") is True


def test_an_active_low_relay_board_is_on_when_its_pin_is_low(
    pins: Pins, opened: list[Any]
) -> None:
    config = _config("switch", pin="GPIO22", active_high=False)
    switch = _output(pins, opened, config)
    assert pins.level("GPIO22") is True  # off: the relay's input is held high
    switch.execute(config, "on", None, NOW)
    assert pins.level("GPIO22") is False


def test_a_dimmer_sets_the_pwm_duty_cycle_and_frequency(
    pins: Pins, opened: list[Any]
) -> None:
    config = _config("dimmer", pin="GPIO18", frequency_hz=200.0)
    dimmer = _output(pins, opened, config)
    assert dimmer.execute(config, "level", 40, NOW).value == 40
    assert (pins.duty("GPIO18"), pins.frequency("GPIO18")) == (0.4, 200.0)
    dimmer.execute(config, "off", None, NOW)
    assert pins.duty("GPIO18") == 0.0
    assert dimmer.execute(config, "on", None, NOW).value == 40  # the last level
    assert dimmer.state() == {"level": 40}


@pytest.mark.parametrize(
    ("initial", "stored", "expected"),
    [("off", True, False), ("on", None, True), ("restore", True, True),
     ("restore", False, False), ("restore", None, False)],
)  # fmt: skip
def test_an_output_starts_off_on_or_as_stored(
    pins: Pins, opened: list[Any], initial: str, stored: Any, expected: bool
) -> None:
    config = _config("switch", pin="GPIO23", initial=initial)
    switch = _output(pins, opened, config, stored)
    assert (pins.level("GPIO23"), switch.read(config, NOW).value) == (
        expected,
        expected,
    )


def test_on_stop_off_switches_off_and_releases_the_pin(
    pins: Pins, opened: list[Any]
) -> None:
    config = _config("switch", pin="GPIO24", initial="on")
    switch = _output(pins, opened, config)
    switch.stop(pins, config)
    assert pins.level("GPIO24") is False
    assert switch.read(config, NOW).status is Status.ERROR  # not open any more
    again = _output(pins, opened, config)  # the pin is free again
    assert again.read(config, NOW).value is True


def test_on_stop_keep_leaves_the_pin_on_for_the_next_start_to_adopt(
    pins: Pins, opened: list[Any]
) -> None:
    config = _config("switch", pin="GPIO25", on_stop="keep")
    switch = _output(pins, opened, config)
    switch.execute(config, "on", None, NOW)
    switch.stop(pins, config)
    assert pins.level("GPIO25") is True
    successor = _output(pins, opened, config)  # initial "off", but it never stopped
    assert (successor.read(config, NOW).value, pins.level("GPIO25")) == (True, True)


def test_a_dimmer_restored_or_adopted_at_a_level_comes_back_there_after_off_and_on(
    pins: Pins, opened: list[Any]
) -> None:
    """`on`: back to the last level above 0, also when that level came from the
    stored state (initial = restore) or from the output a restart adopted."""
    config = _config("dimmer", pin="GPIO18", initial="restore", on_stop="keep")
    dimmer = _output(pins, opened, config, stored=40)
    dimmer.execute(config, "off", None, NOW)
    assert dimmer.execute(config, "on", None, NOW).value == 40
    dimmer.stop(pins, config)  # kept at 40 %
    adopted = _output(pins, opened, _config("dimmer", pin="GPIO18"))
    adopted.execute(config, "off", None, NOW)
    assert adopted.execute(config, "on", None, NOW).value == 40


def test_a_dimmer_off_over_a_restart_of_its_service_comes_back_on_at_its_level(
    pins: Pins, opened: list[Any]
) -> None:
    """`on`: back to the last level above 0. A reload (or a restart of the service
    after a failure) leaves every output as it is: a dimmer set to 40 % and then
    switched off came back on at 100 % after one, the level it had forgotten. So
    with a reload that rewires it (another frequency)."""
    config = _config("dimmer", pin="GPIO18")
    dimmer = _output(pins, opened, config)
    dimmer.execute(config, "level", 40, NOW)
    dimmer.execute(config, "off", None, NOW)
    dimmer.stop(pins, config, restarting=True)  # a reload: kept, off
    successor = _output(pins, opened, config)
    assert successor.execute(config, "on", None, NOW).value == 40
    successor.execute(config, "off", None, NOW)
    successor.stop(pins, config, restarting=True)
    rewired = _config("dimmer", pin="GPIO18", frequency_hz=200.0)
    reopened = _output(pins, opened, rewired)  # opened anew with the new wiring
    assert reopened.execute(rewired, "on", None, NOW).value == 40
    reopened.reset(rewired, NOW)  # reset: the way back to the file's dimmer
    reopened.stop(pins, rewired, restarting=True)
    after_reset = _output(pins, opened, rewired)
    assert after_reset.execute(rewired, "on", None, NOW).value == 100


def _held(state: bool, due: float, in_s: float, detail: str) -> Decision:
    return Decision(Verdict.HOLD, Hold(state, due, in_s, detail))


def test_a_switch_sooner_than_min_off_s_or_min_on_s_is_held_saying_how_long(
    pins: Pins, opened: list[Any]
) -> None:
    """A compressor stopped must stay off for minutes, and a relay's contacts wear
    with every click: a command that would switch too soon is held until the limit
    ends; one that changes nothing (`off` when off) is carried out as before."""
    config = _config("switch", pin="GPIO17", min_on_s=60.0, min_off_s=300.0)
    switch = _output(pins, opened, config)
    assert switch.last_change(1000.0) == 1000.0  # off since it was opened
    early_on = _held(True, 1300.0, 260.0, "off for 40s of min_off_s 300s: on in 260s")
    assert [
        switch.decide(config, command, value, 1040.0)
        for command, value in (("on", None), ("toggle", None), ("state", True))
    ] == [early_on] * 3
    assert [
        switch.decide(config, command, value, 1040.0)
        for command, value in (("off", None), ("state", False), ("state", None))
    ] == [Decision(Verdict.NOW)] * 2 + [None]
    assert switch.decide(config, "on", None, 1300.0) == Decision(Verdict.NOW)
    switch.execute(config, "on", None, NOW)
    assert switch.last_change(1300.0) == 1300.0
    early_off = _held(False, 1360.0, 50.0, "on for 10s of min_on_s 60s: off in 50s")
    assert [
        switch.decide(config, command, value, 1310.0)
        for command, value in (("off", None), ("toggle", None), ("state", False))
    ] == [early_off] * 3
    assert switch.decide(config, "off", True, 1310.0) is None  # a 400 elsewhere
    assert switch.decide(config, "off", None, 1360.0) == Decision(Verdict.NOW)
    assert pins.level("GPIO17") is True  # deciding never switches


def test_a_held_change_is_noted_on_the_switch_and_any_switch_of_the_pin_drops_it(
    pins: Pins, opened: list[Any]
) -> None:
    """Held, a second `toggle` flips where the switch is headed (back to as it
    is); what drives the pin (a command, max_on_s, reset, the change come due)
    replaces what was held."""
    config = _config("switch", pin="GPIO17", min_off_s=300.0)
    switch = _output(pins, opened, config)
    switch.last_change(1000.0)
    switch.hold(True)
    assert (switch.pending, switch.held_left_s(config, 1040.0)) == (True, 260.0)
    assert switch.decide(config, "toggle", None, 1040.0) == Decision(Verdict.CANCEL)
    assert switch.switch(config, True, NOW) == Reading(True, "", Status.OK, NOW)
    assert (switch.pending, switch.held_left_s(config, 1040.0)) == (None, None)
    switch.hold(False)
    assert switch.reset(config, NOW) == Reading(False, "", Status.OK, NOW)
    assert switch.pending is None
    switch.hold(False)  # off while off: moot, never carried out
    assert switch.pending is None


def test_a_held_change_stays_with_a_pin_kept_over_a_restart_and_not_over_a_stop(
    pins: Pins, opened: list[Any]
) -> None:
    """A reload restarts the service, which adopts the pins it kept (also opened
    anew with another wiring): an `on` it answered 200 still comes. raspyd's stop
    drops it (in memory only), as does the switch made a dimmer."""
    config = _config("switch", pin="GPIO17", min_off_s=300.0, on_stop="keep")
    switch = _output(pins, opened, config)
    switch.last_change(1000.0)
    switch.hold(True)
    switch.stop(pins, config, restarting=True)
    adopted = _output(pins, opened, config)
    assert (adopted.pending, adopted.held_left_s(config, 1100.0)) == (True, 200.0)
    adopted.stop(pins, config, restarting=True)
    rewired = _config(
        "switch", pin="GPIO17", min_off_s=600.0, active_high=False, on_stop="keep"
    )
    reopened = _output(pins, opened, rewired)
    assert (reopened.pending, reopened.held_left_s(rewired, 1100.0)) == (True, 500.0)
    reopened.stop(pins, rewired)  # raspyd stops, the pin kept as it is (keep)
    kept = _output(pins, opened, rewired)  # adopted: the same wiring
    assert (kept.pending, pins.level("GPIO17")) == (None, True)  # active low, off
    kept.hold(True)
    kept.stop(pins, config, restarting=True)
    dimmer = _output(pins, opened, _config("dimmer", pin="GPIO17"))
    assert dimmer.pending is None


def test_the_time_of_the_last_change_stays_with_a_pin_kept_over_a_restart(
    pins: Pins, opened: list[Any]
) -> None:
    """A reload restarts the service, which adopts the pins it kept (also opened
    anew when the reload changed their wiring): the time goes on from the switch,
    or a reload every minute would let a scenario click the relay as fast."""
    config = _config("switch", pin="GPIO17", min_on_s=60.0)
    switch = _output(pins, opened, config)
    switch.execute(config, "on", None, NOW)
    switch.last_change(1000.0)
    switch.stop(pins, config, restarting=True)
    adopted = _output(pins, opened, config)
    assert adopted.last_change(1030.0) == 1000.0
    adopted.stop(pins, config, restarting=True)
    rewired = _config("switch", pin="GPIO17", min_on_s=60.0, active_high=False)
    reopened = _output(pins, opened, rewired)
    assert reopened.last_change(1040.0) == 1000.0
    assert reopened.decide(rewired, "off", None, 1040.0) == _held(
        False, 1060.0, 20.0, "on for 40s of min_on_s 60s: off in 20s"
    )


def test_a_dimmer_has_no_minimum_time_on_or_off(pins: Pins, opened: list[Any]) -> None:
    """Its level moves smoothly (a slider, a fade): never held."""
    config = _config("dimmer", pin="GPIO18")
    dimmer = _output(pins, opened, config)
    dimmer.last_change(1000.0)
    assert dimmer.decide(config, "on", None, 1000.0) is None
    with pytest.raises(DeviceError, match="min_off_s"):
        _config("dimmer", pin="GPIO18", min_off_s=300.0)


def test_a_pin_that_fails_to_open_is_a_status_and_a_device_error(
    pins: Pins, opened: list[Any]
) -> None:
    config = _config("switch", pin="GPIO5")
    _output(pins, opened, config)
    second = _output(pins, opened, config)  # gpiozero: GPIOPinInUse
    reading = second.read(config, NOW)
    assert (reading.status, reading.value) == (Status.ERROR, None)
    assert reading.detail.startswith("GPIO5: GPIOPinInUse: ")
    with pytest.raises(DeviceError, match="GPIOPinInUse"):
        second.execute(config, "on", None, NOW)


class error(Exception):  # lgpio's one exception, named so
    """What lgpio raises for a pin another process or a kernel driver holds."""


def _busy_pins() -> Pins:
    """gpiozero's mock pins, each refused as lgpio refuses a pin held elsewhere."""
    from gpiozero.pins.mock import MockFactory, MockPin

    class HeldElsewhere(MockPin):  # type: ignore[misc]  # gpiozero ships no types
        refused = False

        def _set_function(self, value: str) -> None:
            if self.refused:  # gpiozero's close of the device it could not make
                return
            self.refused = True
            raise error("GPIO busy")

    return Pins(MockFactory(pin_class=HeldElsewhere), PinFactoryKind.MOCK)


def test_a_pin_held_by_another_program_says_so_and_what_to_do(
    opened: list[Any],
) -> None:
    """lgpio's whole word for it is `error: 'GPIO busy'`: a household did not know
    what held the pin (often the 1-Wire overlay, whose bus is GPIO4 by default)
    nor how to use it once freed."""
    config = _config("switch", pin="GPIO4")
    switch = _output(_busy_pins(), opened, config)
    detail = switch.read(config, NOW).detail
    assert detail == (
        "GPIO4: error: 'GPIO busy' (another program or a kernel driver holds the "
        "pin, such as the 1-Wire overlay on GPIO4: free it, then reset the device)"
    )
    button = gpio_binary.GpioInput()
    button.open(_busy_pins(), _config("sensor.binary", pin="GPIO4"), lambda _: None)
    opened.append(button)
    assert button.read(_config("sensor.binary", pin="GPIO4"), NOW).detail == detail


def test_a_pwm_pin_refused_by_the_factory_is_a_status(opened: list[Any]) -> None:
    plain = Pins.mock(pwm=False)
    config = _config("dimmer", pin="GPIO12")
    dimmer = _output(plain, opened, config)
    assert dimmer.read(config, NOW).detail == "GPIO12: PinPWMUnsupported: '-'"


def test_an_input_reports_its_edges_with_the_logical_level(
    pins: Pins, opened: list[Any]
) -> None:
    config = _config("sensor.binary", pin="GPIO27")  # pull-up: pressed is low
    seen: list[bool] = []
    button = gpio_binary.GpioInput()
    button.open(pins, config, seen.append)
    opened.append(button)
    assert button.read(config, NOW).value is False
    pins.drive("GPIO27", high=False)
    pins.drive("GPIO27", high=True)
    assert seen == [True, False]
    with pytest.raises(DeviceError, match="read-only input"):
        button.execute(config, "value", True, NOW)


def test_a_pir_input_without_pull_up_is_active_high(
    pins: Pins, opened: list[Any]
) -> None:
    config = _config("sensor.binary", pin="GPIO4", pull_up=False, device_class="motion")
    seen: list[bool] = []
    pir = gpio_binary.GpioInput()
    pir.open(pins, config, seen.append)
    opened.append(pir)
    pins.drive("GPIO4", high=True)
    assert (seen, pir.read(config, NOW).value) == ([True], True)


# --- [[devices.gpio]] tables ----------------------------------------------------------
def _check(*entries: object) -> list[dict[str, Any]]:
    return gpio_options.check_entries(
        BUILTIN, entries, reference_resolve, "40-pin header"
    )


def test_pin_numbers_and_names_become_canonical_gpio_names() -> None:
    assert _check(
        {"name": "relay", "oid": "switch", "pin": 17, "max_on_s": 60},
        {"name": "led", "oid": "dimmer", "pin": "BOARD12"},
        {"name": "pir", "oid": "sensor.binary", "pin": "BCM4", "pull_up": False},
    ) == [
        {"name": "relay", "oid": "switch", "pin": "GPIO17", "max_on_s": 60.0},
        {"name": "led", "oid": "dimmer", "pin": "GPIO18"},
        {"name": "pir", "oid": "sensor.binary", "pin": "GPIO4", "pull_up": False},
    ]


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        (
            [{"name": "a", "oid": "switch", "pin": 17},
             {"name": "b", "oid": "switch", "pin": "BOARD11"}],
            "devices.gpio[1].pin: GPIO17 is already used by devices.gpio[0]",
        ),
        (
            [{"name": "a", "oid": "switch", "pin": 40}],
            "devices.gpio[0].pin: the board (40-pin header) has no GPIO pin 40",
        ),
        (
            [{"name": "a", "oid": "switch", "pin": "BOARD1"}],
            "devices.gpio[0].pin: the board (40-pin header) has no GPIO pin "
            "\"BOARD1\"",
        ),
        (
            [{"name": "a", "oid": "switch", "pin": 5, "active_high": "yes"}],
            "devices.gpio[0].active_high: expected true or false, got \"yes\"",
        ),
        (
            [{"name": "a", "oid": "dimmer", "pin": 5, "frequency_hz": 0}],
            "devices.gpio[0].frequency_hz: expected a number in 1..100000, "
            "got 0",
        ),
        (
            [{"name": "a", "oid": "switch", "pin": 5, "bounce_time_s": 0.1}],
            "devices.gpio[0].bounce_time_s: unknown option for switch",
        ),
        (
            [{"name": "a", "oid": "switch", "pin": 5, "min_off_s": 86400.5}],
            "devices.gpio[0].min_off_s: expected a number in 0..86400, got 86400.5",
        ),
        (
            [{"name": "a", "oid": "switch", "pin": 5, "min_on_s": -1}],
            "devices.gpio[0].min_on_s: expected a number in 0..86400, got -1",
        ),
        (
            [{"name": "a", "oid": "switch", "pin": 5, "min_on_s": "5m"}],
            "devices.gpio[0].min_on_s: expected a number, got \"5m\"",
        ),
        (
            [{"name": "a", "oid": "dimmer", "pin": 18, "min_off_s": 300}],
            "devices.gpio[0].min_off_s: unknown option for dimmer",
        ),
        (  # a compressor's protection mistyped: told the name it may mean
            [{"name": "a", "oid": "switch", "pin": 5, "min_of_s": 300}],
            "devices.gpio[0].min_of_s: unknown option for switch "
            "(did you mean min_off_s?)",
        ),
        (
            [{"name": "a", "oid": "sensor.binary", "pin": 5,
              "device_class": "doorbell"}],
            "devices.gpio[0].device_class: expected one of button, battery, "
            "battery_charging, carbon_monoxide, cold, connectivity, door, "
            "garage_door, gas, heat, light, lock, moisture, motion, moving, "
            "occupancy, opening, plug, power, presence, problem, running, safety, "
            "smoke, sound, tamper, update, vibration, window, got \"doorbell\"",
        ),
        (  # a button's gesture on an output: said whose option it is
            [{"name": "a", "oid": "switch", "pin": 5, "long_press_s": 1.5}],
            "devices.gpio[0].long_press_s: unknown option for switch (a button's: "
            "oid = \"sensor.binary\", device_class = \"button\")",
        ),
        (  # and on an input that is no button, which has no presses to tell apart
            [{"name": "a", "oid": "sensor.binary", "pin": 5, "device_class": "door",
              "double_press_s": 0.5, "long_press_s": 0}],
            "devices.gpio[0].double_press_s: only a button takes it (device_class = "
            "\"button\"), this input is \"door\"",
        ),
        (
            [{"name": "a", "oid": "sensor.binary", "pin": 5, "double_press": 0.5}],
            "devices.gpio[0].double_press: unknown option for sensor.binary "
            "(did you mean double_press_s?)",
        ),
        (
            [{"name": "a", "oid": "sensor.binary", "pin": 5, "double_press_s": 5.5}],
            "devices.gpio[0].double_press_s: expected a number in 0..5, got 5.5",
        ),
        (
            [{"name": "a", "oid": "switch"}],
            "devices.gpio[0].pin: required",
        ),
        (
            [{"name": "a", "oid": "switch", "pin": True}],
            "devices.gpio[0].pin: expected a BCM number or a pin name, got true",
        ),
        (
            [{"oid": "sensor.temperature", "pin": 5, "name": "t"}],
            "devices.gpio[0].oid: expected one of dimmer, sensor.binary, switch, "
            "got \"sensor.temperature\"",
        ),
        (
            [{"name": "a b", "oid": "switch", "pin": 5}],
            "devices.gpio[0].name: expected 1-64 ASCII letters, digits, '_' or '-', "
            "got \"a b\"",
        ),
    ],
    ids=["pin-twice", "no-such-bcm", "power-pin", "wrong-type", "out-of-range",
         "unknown-option", "min-off-too-long", "min-on-negative", "min-on-text",
         "min-off-on-a-dimmer", "mistyped-option", "bad-choice",
         "gesture-on-a-switch", "gesture-on-a-door", "mistyped-gesture",
         "window-too-long", "no-pin", "bool-pin", "not-gpio-kind",
         "bad-name"],
)  # fmt: skip
def test_a_bad_table_is_refused_naming_its_key(
    entries: list[dict[str, Any]], message: str
) -> None:
    with pytest.raises(DeviceError) as caught:
        _check(*entries)
    assert str(caught.value) == message


_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 60),
    st.floats(allow_nan=True),
    st.text(max_size=12),
    st.sampled_from(["GPIO17", "BOARD11", "switch", "dimmer", "sensor.binary"]),
)


@given(
    st.lists(
        st.one_of(
            st.dictionaries(
                st.sampled_from(
                    ["name", "oid", "pin", "active_high", "initial", "max_on_s",
                     "min_on_s", "min_off_s", "pull_up", "bounce_time_s",
                     "frequency_hz", "other"]
                ),
                _VALUES,
                max_size=6,
            ),
            _VALUES,
        ),
        max_size=4,
    )
)  # fmt: skip
def test_any_tables_give_configs_or_a_device_error(entries: list[object]) -> None:
    try:
        configs = _check(*entries)
    except DeviceError:
        return
    pins = [c["pin"] for c in configs]
    assert len(set(pins)) == len(pins)


@given(
    st.sampled_from(["min_on_s", "min_off_s"]),
    st.one_of(
        st.floats(allow_nan=True, allow_infinity=True),
        st.integers(-(2**70), 2**70),
        st.booleans(),
        st.text(max_size=8),
        st.none(),
    ),
)
def test_a_minimum_time_is_a_number_of_seconds_up_to_a_day_or_named_as_wrong(
    key: str, value: object
) -> None:
    """Any value of min_on_s / min_off_s: kept as seconds when it is a number in
    0..86400, else one problem naming the table and the key."""
    entry = {"name": "compressor", "oid": "switch", "pin": 17, key: value}
    fits = (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and 0 <= value <= 86400
    )
    if not fits:
        with pytest.raises(DeviceError) as caught:
            _check(entry)
        assert str(caught.value).startswith(f"devices.gpio[0].{key}: expected ")
        assert "\n" not in str(caught.value)  # one line
        return
    assert isinstance(value, int | float)
    assert _check(entry) == [{**entry, "pin": "GPIO17", key: float(value)}]


def test_a_read_reports_the_pin_but_never_changes_the_commanded_level(
    pins: Pins, opened: list[Any]
) -> None:
    """read() runs on the reader thread: a sample taken just before an `on` (here:
    the mock pin set low underneath, as that stale sample saw it) once overwrote
    the level, so the next `toggle` switched the relay on instead of off."""
    config = _config("switch", pin="GPIO17")
    switch = _output(pins, opened, config)
    switch.execute(config, "on", None, NOW)
    mock_pin = pins._factory.pin("GPIO17")  # gpiozero's MockPin under the output
    mock_pin.state = 0
    assert switch.read(config, NOW).value is False  # what the pin says
    assert switch.level == 1  # what it was told
    switch.execute(config, "toggle", None, NOW)
    assert switch.level == 0


def test_a_service_given_up_leaves_a_kept_pin_as_it_is_with_nothing_held(
    pins: Pins, opened: list[Any]
) -> None:
    """The supervisor gave the gpio service up: an output whose on_stop is keep
    stays as it is, and the `on` it held is dropped, not carried out by a service
    started later."""
    keep = _config("switch", pin="GPIO17", min_off_s=300.0, on_stop="keep")
    switch = _output(pins, opened, keep)
    switch.hold(True)
    switch.stop(pins, keep, restarting=True)  # kept for a restart that never comes
    assert pins.release_kept(abandoned=True) == []  # keep: left as it is
    adopted = _output(pins, opened, keep)
    assert adopted.pending is None
