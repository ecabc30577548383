"""What the store holds of each GPIO output, for `initial = "restore"`: the record a
change makes (raspy.devices.saved_states writes it when the store has it otherwise,
and again after the store refused it).

A record is the output's value, since when it holds (an output on: its switch-on's
wall time, which max_on_s counts from) and, with `initial = "restore"`, the change
min_on_s / min_off_s hold for it (raspy.devices.gpio_hold), so a start holds it again.
A write the store refused is tried again from the service's alarm with the output's
state as it is then.
"""

from __future__ import annotations

from raspy.devices.gpio import GpioOutput
from raspy.devices.gpio_logic import Initial, initial_level
from raspy.devices.registry import Device
from raspy.devices.saved_states import SavedStates, StateRecord
from raspy.devices.template import JsonValue


def keeps_pending(device: Device) -> bool:
    """Is a held change stored (and held again at start) for this output?"""
    return Initial(device.config.text("initial")) is Initial.RESTORE


def restores_as_is(driver: GpioOutput, stored: JsonValue) -> bool:
    """Would a start with `initial = "restore"` bring the output back where it is,
    from the state the store has (`stored`, None: none)?"""
    return initial_level(Initial.RESTORE, stored, driver.full) == driver.level


class GpioSavedStates(SavedStates):
    """SavedStates with the record of a GPIO output read from its driver."""

    def store(
        self, device: Device, driver: GpioOutput, now: float, wall: float
    ) -> None:
        """The output's state as it is at monotonic `now` (epoch `wall`), durable
        unless the store has it so already."""
        self.put(device, self.change(device, driver, now, wall), now)

    def change(
        self, device: Device, driver: GpioOutput, now: float, wall: float
    ) -> StateRecord:
        """The record of the output as it is at monotonic `now` (epoch `wall`)."""
        on_since = driver.on_since(now)
        pending = driver.pending if keeps_pending(device) else None
        since = wall if on_since is None else wall - (now - on_since)
        return StateRecord(driver.value(), since, pending, on_since)

    def found_output(
        self,
        device: Device,
        driver: GpioOutput,
        stored: JsonValue,
        pending: bool | None,
        now: float,
    ) -> None:
        """At start: the record read (`stored`, None: none), if the output opened
        as it says (so that the same state again is no write)."""
        if stored is None or stored != driver.value() or pending != driver.pending:
            return
        record = StateRecord(stored, 0.0, pending, driver.on_since(now))
        self.found(device.fullname, record)
