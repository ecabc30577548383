"""GPIO devices of the `gpio` service: relays (switch), PWM dimmers, binary inputs.

Drivers talk to pins only through raspy.devices.gpio_pins (gpiozero). A driver is made
closed (a config can be checked without touching a pin) and opened by the service's
actor; a pin that fails to open or to switch is a reading status and a 500 reply,
never an exception out of the actor. The options of each kind and the check of
`[[devices.gpio]]` tables are in raspy.devices.gpio_options; the binary input's
driver is in raspy.devices.gpio_binary.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from types import MappingProxyType

from raspy.devices import gpio_pins
from raspy.devices.gpio_binary import GpioInput, PinHolder, fault_reading
from raspy.devices.gpio_logic import (
    Decision,
    Initial,
    OnStop,
    decide,
    hold_left_s,
    initial_level,
)
from raspy.devices.gpio_options import (
    BINARY,
    DIMMER,
    FIELDS,
    OUTPUTS,
    SWITCH,
    gesture_problems,
)
from raspy.devices.reading import Reading, Status
from raspy.devices.template import DeviceConfig, FieldSpec, JsonValue
from raspy.errors import DeviceError, quote


class GpioOutput(PinHolder[gpio_pins.OutputPin]):
    """A switch (OutputDevice, level 0/1) or a dimmer (PWMOutputDevice, 0..100 %)."""

    def __init__(self, oid: str) -> None:
        super().__init__()
        self.oid = oid
        self.full = 100 if oid == DIMMER else 1
        self._level = 0
        self._last_on = self.full
        # the last open() held again the change stored for it: a start of the
        # output, not a reload that kept the pin and what it held
        self.pending_from_store = False

    @property
    def level(self) -> int:
        return self._level

    def on_since(self, now: float) -> float | None:
        """Since when (monotonic) the output is on, first seen at `now`; None if it
        is off or not open. Kept with the pin when its service restarts."""
        pin = self._pin
        if pin is None or self._level <= 0:
            if pin is not None:
                pin.on_since = None
            return None
        if pin.on_since is None:
            pin.on_since = now
        return pin.on_since

    def last_change(self, now: float) -> float | None:
        """Since when (monotonic) the output is on, or off, first seen at `now`; None
        if it is not open. Kept with the pin when its service restarts; a pin opened
        anew (raspyd started) counts from its opening."""
        pin = self._pin
        if pin is None:
            return None
        on = self._level > 0
        if pin.switched is None or pin.switched[0] != on:
            pin.switched = (on, now)
        return pin.switched[1]

    @property
    def pending(self) -> bool | None:
        """The state a change held by min_on_s / min_off_s switches this output to
        (None: none). Kept with the pin when its service restarts, as the time of
        its last change is; over a stop of raspyd, only in the store (initial =
        restore: the service's actor stores it and passes it to open())."""
        pin = self._pin
        if pin is None or pin.pending == (self._level > 0):  # none, or moot
            return None
        return pin.pending

    def hold(self, state: bool | None) -> None:
        """Note the change held for this output (None: drop it)."""
        if self._pin is not None:
            self._pin.pending = state

    def decide(
        self, config: DeviceConfig, command: str, value: JsonValue, now: float
    ) -> Decision | None:
        """What `command` (with `value`) does to this switch at monotonic `now`
        under its min_on_s and min_off_s (gpio_logic.decide); None if it is no
        switching command, or this is no switch, or its pin is not open (the
        command's own handling answers it)."""
        if self.oid != SWITCH:
            return None
        since = self.last_change(now)
        if since is None:
            return None
        return decide(
            command,
            value,
            on=self._level > 0,
            since=since,
            pending=self.pending,
            min_on_s=config.real("min_on_s"),
            min_off_s=config.real("min_off_s"),
            now=now,
        )

    def held_left_s(self, config: DeviceConfig, now: float) -> float | None:
        """How long the pending change still waits at monotonic `now` under the
        config's limits (0: it is due), or None if there is none."""
        since = self.last_change(now)
        if self.pending is None or since is None:
            return None
        on = self._level > 0
        min_on_s, min_off_s = config.real("min_on_s"), config.real("min_off_s")
        return hold_left_s(on, since, min_on_s, min_off_s, now)

    def open(
        self,
        pins: gpio_pins.Pins,
        config: DeviceConfig,
        stored: JsonValue,
        *,
        on_for_s: float | None = None,
        now: float = 0.0,
        stored_pending: bool | None = None,
    ) -> bool:
        """Claim the pin at its initial level (see Initial); a failure is kept.

        An output kept on the pin by a restart in this process is adopted as it is;
        if a reload changed its wiring (polarity, PWM or not, frequency), it is
        opened anew with the new wiring at the level it had (on stays on).

        `on_for_s`: how long the stored state has been on (monotonic `now`). A state
        restored goes on counting max_on_s from its switch-on; one on for max_on_s
        or longer is not restored: the output starts off, and True says so.
        `stored_pending`: the change held for the stored state; a switch restored
        (opened anew, initial = restore) holds it again, unless it is where the
        switch starts (it was held for a state not restored, or moot).
        """
        self.close()
        self.pending_from_store = False
        initial = Initial(config.text("initial"))
        level = initial_level(initial, stored, self.full)
        wiring = self._wiring(config)
        kept = pins.adopt(config.text("pin"))
        if kept is not None and kept.wiring == wiring:
            # the pin never stopped (of the same kind: a dimmer's wiring is PWM, and
            # a switch made a dimmer is opened anew, below, its held change dropped)
            self._pin, self._fault = kept, ""
            try:
                self._opened_at(round(kept.value * self.full))
            except DeviceError as exc:
                self._fault = str(exc)
            return False
        on_since, expired, switched, pending, last_on = None, False, None, None, None
        if kept is not None:
            with contextlib.suppress(DeviceError):  # unreadable: the initial level
                value = kept.value
                level = max(round(value * self.full), 1 if value > 0 else 0)
            kept.close()
            on_since, switched, pending = kept.on_since, kept.switched, kept.pending
            last_on = kept.last_on
        elif level and initial is Initial.RESTORE and on_for_s is not None:
            max_on_s = config.real("max_on_s")
            expired = 0 < max_on_s <= on_for_s
            level, on_since = (0, None) if expired else (level, now - on_for_s)
        if kept is None and initial is Initial.RESTORE:
            pending = None if stored_pending == (level > 0) else stored_pending
        try:
            self._pin = pins.open_output(config.text("pin"), wiring, level / self.full)
        except DeviceError as exc:
            self._fault = str(exc)
            return expired
        self._fault = ""
        self._pin.on_since = on_since if level else None  # the same hold
        self._pin.switched = switched  # and the same last change (min_on_s)
        self._pin.pending = pending if self.oid == SWITCH else None  # and held change
        self._pin.last_on = last_on  # and the level an `on` goes back to
        self.pending_from_store = kept is None and self._pin.pending is not None
        self._opened_at(level)
        return expired

    def open_off(self, pins: gpio_pins.Pins, config: DeviceConfig) -> None:
        """Claim the pin off, whatever `initial` says: a `reset` of an output whose
        pin did not open at the start (held by another program then) returns it to
        the safe state. A failure is kept, as open()'s."""
        self.close()
        self.pending_from_store = False
        try:
            self._pin = pins.open_output(config.text("pin"), self._wiring(config), 0.0)
        except DeviceError as exc:
            self._fault = str(exc)
            return
        self._fault = ""
        self._opened_at(0)

    def _opened_at(self, level: int) -> None:
        """The level at open; `on` goes back to it later if it is above 0, else
        to the one a pin kept over a reload was last on at."""
        self._level = level
        last_on = None if self._pin is None else self._pin.last_on
        if level:
            self._remember_on(level)
        elif last_on:
            self._last_on = max(1, round(last_on * self.full))

    def _remember_on(self, level: int) -> None:
        """`level` (above 0) is the one `on` goes back to, also after a reload."""
        self._last_on = level
        if self._pin is not None:
            self._pin.last_on = level / self.full

    def _wiring(self, config: DeviceConfig) -> gpio_pins.Wiring:
        """How this output is to be opened: what Pins opens it with, and what a kept
        pin must match to be adopted."""
        if self.oid == DIMMER:
            return gpio_pins.Wiring(
                True, config.flag("active_high"), config.real("frequency_hz")
            )
        return gpio_pins.Wiring(False, config.flag("active_high"))

    def stop(
        self, pins: gpio_pins.Pins, config: DeviceConfig, *, restarting: bool = False
    ) -> str | None:
        """A clean stop: off and released, or kept as it is (on_stop). A service
        restarting inside the daemon keeps every output for its successor; its pin
        is returned if none will come (given up), which released it then."""
        if self._pin is None:
            return None
        keep = OnStop(config.text("on_stop")) is OnStop.KEEP
        if not restarting:  # raspyd stops: a held change stays only in the store
            self._pin.pending = None
        if restarting or keep:
            pin, kept = self._pin.pin, pins.keep(self._pin, on_stop_keep=keep)
            self._pin = None
            return None if kept else pin
        with contextlib.suppress(DeviceError):  # a failing pin: release it anyway
            self._pin.value = 0
        self.close()
        return None

    def value(self) -> JsonValue:
        return self._level if self.oid == DIMMER else bool(self._level)

    def read(self, config: DeviceConfig, now: float) -> Reading:
        """The pin as it reads now. It runs on the poller's reader thread, so it
        never stores into the level execute() sets on the actor's: a sample taken
        just before an `on` would have put the level back to 0 while the pin was
        on, and a `toggle` or the max_on_s check would have gone by that."""
        if self._pin is None:
            return fault_reading(config, self._fault, now)
        try:
            level = round(self._pin.value * self.full)
        except DeviceError as exc:
            return fault_reading(config, str(exc), now)
        value = level if self.oid == DIMMER else bool(level)
        return Reading(value, config.text("unit"), Status.OK, now)

    def execute(
        self, config: DeviceConfig, command: str, value: JsonValue, now: float
    ) -> Reading:
        match command:
            case "on":
                level = self._last_on
            case "off":
                level = 0
            case "toggle":
                level = 0 if self._level else self.full
            case "state" if isinstance(value, bool):
                level = self.full if value else 0
            case "level" if isinstance(value, int) and not isinstance(value, bool):
                level = value
            case _:
                raise DeviceError(
                    f"device {quote(config.name)}: {command}: not supported"
                )
        self.apply(config, level)
        return Reading(self.value(), config.text("unit"), Status.OK, now)

    def apply(self, config: DeviceConfig, level: int) -> None:
        """Drive the pin to `level`; DeviceError if the pin is not open or fails.
        Whatever drives it (a command, max_on_s, reset, a held change come due)
        replaces the change held for it."""
        if self._pin is None:
            raise DeviceError(f"device {quote(config.name)}: {self._fault}")
        self._pin.pending = None
        self._pin.value = level / self.full
        if level:
            self._remember_on(level)
        self._level = level

    def switch(self, config: DeviceConfig, on: bool, now: float) -> Reading:
        """Full on or off, by raspy itself (max_on_s, a held change come due);
        never raises: a failing pin shows in the reading."""
        try:
            self.apply(config, self.full if on else 0)
        except DeviceError as exc:
            return fault_reading(config, str(exc), now)
        return Reading(self.value(), config.text("unit"), Status.OK, now)

    def state(self) -> Mapping[str, JsonValue]:
        main = "level" if self.oid == DIMMER else "state"
        return MappingProxyType({main: self.value()})

    def reset(self, config: DeviceConfig, now: float) -> Reading | None:
        """Off (the safe state); never raises: a failing pin shows in the reading."""
        reading = self.switch(config, False, now)
        if reading.status is Status.OK:
            self._remember_on(self.full)
        return reading


GpioDriver = GpioOutput | GpioInput


class GpioFactory:
    """Drivers for the `gpio` service: switch, dimmer and sensor.binary on pins."""

    @property
    def rescan_supported(self) -> bool:
        return False

    def fields(self, oid: str) -> tuple[FieldSpec, ...] | None:
        return FIELDS.get(oid)

    def problems(self, config: DeviceConfig) -> list[str]:
        """A gesture option on an input that is no button (a change over MDP; the
        config file's tables are checked by gpio_options.check_entries)."""
        if config.oid != BINARY:
            return []
        return gesture_problems(config.settings)

    def create(self, config: DeviceConfig) -> GpioDriver:
        if config.oid in OUTPUTS:
            return GpioOutput(config.oid)
        if config.oid == BINARY:
            return GpioInput()
        raise DeviceError(f"device {quote(config.name)}: no gpio {config.oid}")
