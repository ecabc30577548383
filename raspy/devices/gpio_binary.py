"""The `gpio` service's binary input (sensor.binary): its driver, read-only.

Apart from the outputs' drivers (raspy.devices.gpio) because an input shares none of
their state: no level to set, no hold, no max-on; only a pin opened with the edge's
callback, and a read for the first value. The edge itself, from gpiozero's thread to
the service's actor, is raspy.devices.gpio_edge's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

from raspy.devices import gpio_pins
from raspy.devices.driver import ReadOnlySensor
from raspy.devices.gpio_logic import BUTTON
from raspy.devices.reading import Reading, Status
from raspy.devices.template import DeviceConfig
from raspy.errors import DeviceError

Notify = Callable[[bool], None]
"""An input's edge: called on gpiozero's thread with the new logical level."""


def fault_reading(config: DeviceConfig, fault: str, now: float) -> Reading:
    """A GPIO device's reading when its pin cannot be read (inputs and outputs)."""
    return Reading.failed(Status.ERROR, config.text("unit"), now, fault)


class _Closable(Protocol):
    def close(self) -> None: ...


PinT = TypeVar("PinT", bound=_Closable)


class PinHolder(Generic[PinT]):
    """A GPIO device's one pin (an input's or an output's), or why it has none."""

    def __init__(self) -> None:
        self._pin: PinT | None = None
        self._fault = "pin not opened"

    def is_open(self) -> bool:
        """The pin is claimed: False when it failed to open (held elsewhere)."""
        return self._pin is not None

    def close(self) -> None:
        if self._pin is not None:
            self._pin.close()
            self._pin = None
        self._fault = "pin not opened"

    def unavailable(self, fault: str) -> None:
        """No pin can be opened (no pin factory): reads (and an output's commands)
        say why."""
        self.close()
        self._fault = fault


class GpioInput(ReadOnlySensor, PinHolder[gpio_pins.InputPin]):
    """A binary input (Button, or DigitalInputDevice for any other class); read-only.

    Edge-driven: the owner passes `notify` to open(); read() is for the first value.
    """

    WHAT = "input"

    def open(self, pins: gpio_pins.Pins, config: DeviceConfig, notify: Notify) -> None:
        self.close()
        try:
            self._pin = pins.input(
                config.text("pin"),
                pull_up=config.flag("pull_up"),
                button=config.text("device_class") == BUTTON,
                on_change=notify,
            )
        except DeviceError as exc:
            self._fault = str(exc)
            return
        self._fault = ""

    def read(self, config: DeviceConfig, now: float) -> Reading:
        if self._pin is None:
            return fault_reading(config, self._fault, now)
        try:
            active = self._pin.active
        except DeviceError as exc:
            return fault_reading(config, str(exc), now)
        return Reading(active, config.text("unit"), Status.OK, now)
