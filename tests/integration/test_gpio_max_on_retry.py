"""A switch-off by `max_on_s` that the pin refuses is tried again until it takes:
it was tried once, its deadline gone, and a transient pin error left a heater on
for good. A real edge, Clone server and Store, gpiozero's mock pins with one that
refuses to be set while told to (a fault of the GPIO chip), a fake clock."""

from __future__ import annotations

from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory, MockPWMPin
from structlog.testing import capture_logs
from support.clock import FakeClock
from support.device_services import (
    HOST,
    server_fixture,  # noqa: F401  # fixture `server`
    tree_fixture,  # noqa: F401  # fixture `tree`
    wait_entry,
)
from support.gpio_service import (
    Gpio,
    gpio_fixture,  # noqa: F401  # fixture `gpio`
)
from support.wait import wait_until

from raspy.client.clone import CloneClient
from raspy.devices.gpio_pins import PinFactoryKind, Pins


class FlakyPin(MockPWMPin):  # type: ignore[misc]  # gpiozero is untyped
    """A mock pin whose level cannot be set while `failing` (reads still work)."""

    def __init__(self, factory: Any, info: Any) -> None:
        super().__init__(factory, info)
        self.failing = False

    def _set_state(self, value: float) -> None:
        if self.failing:
            raise OSError(5, "Input/output error")
        super()._set_state(value)


@pytest.fixture
def flaky(gpio: Gpio) -> tuple[Gpio, FakeClock, FlakyPin]:
    """The gpio service on a fake clock and flaky mock pins; GPIO17's pin."""
    factory = MockFactory(pin_class=FlakyPin)
    gpio.pins = Pins(factory, PinFactoryKind.MOCK)
    gpio.clock = FakeClock()
    return gpio, gpio.clock, factory.pin(17)


def _stat(gpio: Gpio, name: str) -> float:
    return gpio.stats.snapshot().get(f"devices.gpio.{name}", 0)


def _wait_stat(gpio: Gpio, name: str, count: int) -> None:
    wait_until(lambda: _stat(gpio, name) == count, what=f"{name} == {count}")


@pytest.mark.parametrize("oid", ["switch", "dimmer"])
def test_a_switch_off_by_max_on_s_the_pin_refused_is_tried_again_until_it_takes(
    flaky: tuple[Gpio, FakeClock, FlakyPin], tree: CloneClient, oid: str
) -> None:
    gpio, clock, pin = flaky
    gpio.start({"name": "heater", "oid": oid, "pin": 17, "max_on_s": 10})
    assert gpio.request(action="on", device="heater")[0] == b"200"
    pin.failing = True
    with capture_logs() as logs:
        clock.advance(10)
        _wait_stat(gpio, "max_on_retries", 1)  # the first try failed: 2 s
        clock.advance(2)
        _wait_stat(gpio, "max_on_retries", 2)  # and the second: 4 s
        assert gpio.pins.level("GPIO17") is True
        pin.failing = False
        clock.advance(3.9)
        assert gpio.request(action="get", device="heater")[0] == b"200"
        assert gpio.pins.level("GPIO17") is True  # not due yet
        clock.advance(0.1)
        wait_until(lambda: not gpio.pins.level("GPIO17"), what="the heater off")
        wait_until(
            lambda: any(
                e["event"] == "device_switched_off_after_retries" for e in logs
            ),
            what="the switch-off said",
        )
    wait_entry(tree, f"{HOST}.gpio.heater", "status", "ok")
    wait_entry(tree, f"{HOST}.gpio.heater", "value", 0 if oid == "dimmer" else False)
    assert (_stat(gpio, "max_on_expired"), _stat(gpio, "max_on_retries")) == (1, 2)
    said = [e for e in logs if e["event"].startswith("device_switch")]
    assert said == [
        {
            "component": "gpio",
            "event": "device_switched_off_after_max_on",
            "log_level": "warning",
            "device": f"{HOST}.gpio.heater",
            "max_on_s": 10.0,
            "status": "error",
        },
        {
            "component": "gpio",
            "event": "device_switch_off_retry",
            "log_level": "warning",
            "device": f"{HOST}.gpio.heater",
            "failures": 1,
            "in_s": 2.0,
            "reason": "GPIO17: OSError: '[Errno 5] Input/output error'",
        },  # the second try's failure is counted, not logged within the minute
        {
            "component": "gpio",
            "event": "device_switched_off_after_retries",
            "log_level": "warning",
            "device": f"{HOST}.gpio.heater",
            "failures": 2,
        },
    ]


def test_a_command_that_switches_the_output_off_ends_the_tries(
    flaky: tuple[Gpio, FakeClock, FlakyPin],
) -> None:
    """Off by a command, then on again: its next max_on_s is a new one, counted
    and said as the first was."""
    gpio, clock, pin = flaky
    gpio.start({"name": "heater", "oid": "switch", "pin": 17, "max_on_s": 10})
    assert gpio.request(action="on", device="heater")[0] == b"200"
    pin.failing = True
    clock.advance(10)
    _wait_stat(gpio, "max_on_retries", 1)
    pin.failing = False
    for action in ("off", "on"):
        assert gpio.request(action=action, device="heater")[0] == b"200"
    clock.advance(2)  # when the next try was due: none is left
    assert gpio.request(action="get", device="heater")[0] == b"200"
    assert gpio.pins.level("GPIO17") is True
    clock.advance(8)
    wait_until(lambda: not gpio.pins.level("GPIO17"), what="the heater off")
    _wait_stat(gpio, "max_on_expired", 2)
    assert _stat(gpio, "max_on_retries") == 1
