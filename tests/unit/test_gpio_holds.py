"""raspy.devices.gpio_hold.Holds on gpiozero's mock pins, the clock passed in: what a
request does to a switch's held change, and when that change is carried out."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from raspy.devices import gpio
from raspy.devices.gpio_hold import Holds
from raspy.devices.gpio_pins import Pins
from raspy.devices.registry import Device, Registry
from raspy.devices.service_vocabulary import Request

pytestmark = pytest.mark.timeout(30)

WALL = 1_700_000_000.0


@pytest.fixture
def switch() -> Iterator[tuple[Device, gpio.GpioOutput, Pins]]:
    pins = Pins.mock()
    registry = Registry("pi", "gpio", gpio.GpioFactory())
    device = registry.add(
        {"name": "compressor", "oid": "switch", "pin": "GPIO17", "min_off_s": 299.9}
    )
    driver = device.driver
    assert isinstance(driver, gpio.GpioOutput)
    driver.open(pins, device.config, None)
    yield device, driver, pins
    driver.close()


def _held_on(
    holds: Holds, device: Device, driver: gpio.GpioOutput, since: float, now: float
) -> float:
    """An `on` at `now` to the switch, off since `since`: held; its due time."""
    driver.last_change(since)
    answer = holds.answer(device, driver, Request("on", device.name, None), now, WALL)
    assert answer.hold is not None
    assert answer.hold.state is True
    return answer.hold.due


def test_a_reset_refused_for_its_value_keeps_the_held_change(
    switch: tuple[Device, gpio.GpioOutput, Pins],
) -> None:
    """`reset` drops what is held, but one the common handling refuses after
    (400: reset takes no value) does nothing: the held `on` it came after stays."""
    device, driver, _ = switch
    holds = Holds()
    due = _held_on(holds, device, driver, 1000.0, 1040.0)
    bad_reset = Request("reset", device.name, 1)
    assert holds.answer(device, driver, bad_reset, 1041.0, WALL).reply is None
    assert driver.pending is True
    assert holds.next_deadline() == due


def test_the_held_change_is_carried_out_at_its_due_time_to_the_last_bit(
    switch: tuple[Device, gpio.GpioOutput, Pins],
) -> None:
    """The alarm comes at the due time the hold was given; the time left computed
    again then may be a few 1e-12 s above 0 (floats), which the due time plus that
    cannot hold: it was set again to the same time, and the alarm came back at once,
    for as long as the clock stayed there (a fake clock: for ever)."""
    device, driver, pins = switch
    holds = Holds()
    since, now = 67950.18825706844, 68013.78945153179  # a case the floats round so
    due = _held_on(holds, device, driver, since, now)
    assert holds.due(due) == ["compressor"]
    reading = holds.carry_out(device, driver, due, WALL)
    assert reading is not None
    assert reading.value is True
    assert (pins.level("GPIO17"), driver.pending, holds.next_deadline()) == (
        True,
        None,
        None,
    )
