"""The one wrapper around gpiozero: pin factories, pin names, outputs, PWM and inputs.

Nothing else in raspy imports gpiozero (it ships no types). Every gpiozero error
becomes a DeviceError naming the pin and what gpiozero said, so a failing pin is a
device status and never an exception that ends an actor.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable
from enum import StrEnum
from typing import Any, Final

from raspy.errors import DeviceError, quote
from raspy.records import frozen

# The 40-pin board used to check pin names when the real board is unknown (a config
# checked away from a Pi): every Pi since the B+ has this header.
_REFERENCE_REVISION: Final = "a02082"  # Raspberry Pi 3 Model B


# What to do when the Pi's GPIO cannot be opened (said with every device's status).
# raspy runs from a venv of its own (make's .venv, the service's /opt/raspy), which
# does not see apt's python3-lgpio: lgpio goes into that venv, named as it is
NO_GPIO_HINT: Final = (
    f"on a Raspberry Pi: {sys.prefix}/bin/pip install lgpio (raspy's venv, which "
    "does not see apt's python3-lgpio); to try raspy elsewhere: [devices] "
    'pin_factory = "mock"'
)


class PinFactoryKind(StrEnum):
    """`[devices] pin_factory`: mock pins (make run, tests) or the Pi's own GPIO."""

    MOCK = "mock"
    DEFAULT = "default"


# lgpio's word for a pin that another process or a kernel driver has claimed
_BUSY: Final = "GPIO busy"
_HELD_ELSEWHERE: Final = (
    "another program or a kernel driver holds the pin, such as the 1-Wire overlay "
    "on GPIO4: free it, then reset the device"
)


def _gpio_failure(what: str, exc: Exception) -> DeviceError:
    """`what` failed with `exc`, said with what to do when the pin is held elsewhere
    (lgpio says only `GPIO busy`)."""
    said = f"{what}: {type(exc).__name__}: {quote(str(exc) or '-')}"
    if _BUSY in str(exc):
        said += f" ({_HELD_ELSEWHERE})"
    return DeviceError(said)


@frozen
class Wiring:
    """How an output was opened: PWM or not, its polarity, its PWM frequency. A kept
    output is adopted only by a device wired the same way (a reload may change it)."""

    pwm: bool
    active_high: bool
    frequency_hz: float | None = None


class OutputPin:
    """An OutputDevice or PWMOutputDevice: value 0..1 (a switch uses 0 or 1)."""

    def __init__(self, device: Any, pin: str, wiring: Wiring) -> None:
        self._device = device
        self.pin = pin
        self.wiring = wiring
        # since when (monotonic) it is on, for max_on_s: kept with the pin over a
        # restart of its service, so that a reload does not start the time again
        self.on_since: float | None = None
        # on or off at its last change, and when (monotonic), for min_on_s and
        # min_off_s: kept with the pin as on_since is
        self.switched: tuple[bool, float] | None = None
        # the state a change held by min_on_s / min_off_s switches it to (None:
        # none), kept with the pin too: a reload does not drop an accepted `on`
        self.pending: bool | None = None
        # the value (0..1) it was last on at, for a dimmer's `on` after an `off`:
        # kept with the pin too, so that a reload does not forget the level
        self.last_on: float | None = None

    @property
    def value(self) -> float:
        try:
            return float(self._device.value)
        except Exception as exc:  # gpiozero raises many types; all are a fault
            raise _gpio_failure(self.pin, exc) from exc

    @value.setter
    def value(self, value: float) -> None:
        try:
            self._device.value = value
        except Exception as exc:  # gpiozero raises many types; all are a fault
            raise _gpio_failure(self.pin, exc) from exc

    def close(self) -> None:
        """Release the pin (gpiozero sets it back to an input); never raises."""
        try:
            self._device.close()
        except Exception:  # noqa: BLE001  # closing a broken pin: nothing left to do
            return


class InputPin:
    """A DigitalInputDevice or Button whose edges call `on_change(active)`."""

    def __init__(self, device: Any, pin: str) -> None:
        self._device = device
        self.pin = pin

    @property
    def active(self) -> bool:
        try:
            return bool(self._device.is_active)
        except Exception as exc:  # gpiozero raises many types; all are a fault
            raise _gpio_failure(self.pin, exc) from exc

    def close(self) -> None:
        try:
            self._device.when_activated = None
            self._device.when_deactivated = None
            self._device.close()
        except Exception:  # noqa: BLE001  # closing a broken pin: nothing left to do
            return


class Pins:
    """A gpiozero pin factory and the pins opened through it (thread-safe)."""

    def __init__(self, factory: Any, kind: PinFactoryKind) -> None:
        self._factory = factory
        self.kind = kind
        self._lock = threading.Lock()
        self._kept: dict[str, OutputPin] = {}
        self._keep_abandoned: set[str] = set()  # kept pins whose on_stop is keep
        # the gpio service was given up (release_kept(abandoned=True)) and none comes
        # until a reload starts one (successor_coming): an output kept from then on
        # (an old service that stopped late, beside it) is abandoned at once
        self._no_successor = False

    def keep(self, output: OutputPin, *, on_stop_keep: bool = False) -> bool:
        """Leave an output claimed at its level (on_stop = keep, or a service
        restarting) for the next open in this process to adopt; the kernel releases
        it when the process ends. `on_stop_keep`: left as it is even if abandoned.
        False: no service will adopt it, and it was switched off and released."""
        with self._lock:
            release = self._no_successor and not on_stop_keep
            if not release:
                self._kept[output.pin] = output
            if on_stop_keep:
                self._keep_abandoned.add(output.pin)
                if self._no_successor:  # left as it is: nothing held
                    output.pending = None
            else:
                self._keep_abandoned.discard(output.pin)
        if release:
            with contextlib.suppress(DeviceError):  # release it whatever happens
                output.value = 0
            output.close()
        return not release

    def successor_coming(self) -> None:
        """A gpio service will start (raspyd's start, a reload): outputs are kept
        for it again."""
        with self._lock:
            self._no_successor = False

    def adopt(self, pin: str) -> OutputPin | None:
        """The output kept on `pin` by an earlier stop, or None."""
        with self._lock:
            self._keep_abandoned.discard(pin)
            return self._kept.pop(pin, None)

    def release_kept(self, *, abandoned: bool = False) -> list[str]:
        """Switch off and release the outputs kept but not adopted (a device gone
        from the config after a reload); returns their pins. `abandoned` (the
        service failed for good): those whose on_stop is keep stay as they are, and
        until a successor is said to come, an output handed over later (keep) takes
        its on_stop at once: left as it is for keep, switched off and released
        otherwise."""
        with self._lock:
            self._no_successor = self._no_successor or abandoned
            spared = self._keep_abandoned if abandoned else set()
            kept = [o for pin, o in self._kept.items() if pin not in spared]
            self._kept = {pin: o for pin, o in self._kept.items() if pin in spared}
            self._keep_abandoned &= set(self._kept)
            for output in self._kept.values():  # left as they are: nothing held
                output.pending = None
        for output in kept:
            with contextlib.suppress(DeviceError):  # release it whatever happens
                output.value = 0
            output.close()
        return [output.pin for output in kept]

    @classmethod
    def mock(cls, *, pwm: bool = True) -> Pins:
        """gpiozero's MockFactory with PWM-capable pins (never a fake of our own);
        `pwm` False: plain mock pins, which refuse PWM as some boards' pins do."""
        from gpiozero.pins.mock import MockFactory, MockPin, MockPWMPin

        pin_class = MockPWMPin if pwm else MockPin
        return cls(MockFactory(pin_class=pin_class), PinFactoryKind.MOCK)

    @classmethod
    def default(cls) -> Pins:
        """The Pi's GPIO through lgpio (current Raspberry Pi OS), else RPi.GPIO.

        Raises DeviceError naming why neither could load (e.g. not a Pi), and what
        to do about it.
        """
        reasons = []
        for module_name, class_name in (
            ("gpiozero.pins.lgpio", "LGPIOFactory"),
            ("gpiozero.pins.rpigpio", "RPiGPIOFactory"),
        ):
            try:
                module = __import__(module_name, fromlist=[class_name])
                return cls(getattr(module, class_name)(), PinFactoryKind.DEFAULT)
            except Exception as exc:  # noqa: BLE001  # each failure is a reason given
                reasons.append(f"{class_name}: {type(exc).__name__}: {quote(str(exc))}")
        raise DeviceError(
            f"no GPIO on this machine ({'; '.join(reasons)}); {NO_GPIO_HINT}"
        )

    @classmethod
    def of_kind(cls, kind: PinFactoryKind) -> Pins:
        return cls.mock() if kind is PinFactoryKind.MOCK else cls.default()

    def board_name(self) -> str:
        try:
            return str(self._factory.board_info.model)
        except Exception as exc:  # gpiozero raises many types; all are a fault
            raise _gpio_failure("board", exc) from exc

    def resolve(self, pin: int | str) -> str | None:
        """The canonical name (`GPIO17`) of a BCM number or any gpiozero pin name
        (`GPIO17`, `BCM17`, `BOARD11`, `J8:11`); None if the board has no such pin."""
        return resolve_on(self._factory.board_info, pin)

    def output(self, pin: str, *, active_high: bool, initial: bool) -> OutputPin:
        """A plain output (a relay), on or off at first."""
        return self.open_output(
            pin, Wiring(False, active_high), 1.0 if initial else 0.0
        )

    def pwm(
        self, pin: str, *, active_high: bool, frequency_hz: float, initial: float
    ) -> OutputPin:
        """A PWM output (a dimmer) at `initial`, 0..1."""
        return self.open_output(pin, Wiring(True, active_high, frequency_hz), initial)

    def open_output(self, pin: str, wiring: Wiring, initial: float) -> OutputPin:
        """An output wired as `wiring` says (the one place a Wiring becomes a
        gpiozero device), at `initial` 0..1 (a plain output: on above 0)."""
        from gpiozero import OutputDevice, PWMOutputDevice

        with self._lock:
            try:
                if wiring.pwm:
                    device = PWMOutputDevice(
                        pin,
                        active_high=wiring.active_high,
                        initial_value=initial,
                        frequency=wiring.frequency_hz,
                        pin_factory=self._factory,
                    )
                else:
                    device = OutputDevice(
                        pin,
                        active_high=wiring.active_high,
                        initial_value=initial > 0,
                        pin_factory=self._factory,
                    )
            except Exception as exc:  # gpiozero raises many types; all are a fault
                raise _gpio_failure(pin, exc) from exc
        return OutputPin(device, pin, wiring)

    def input(
        self,
        pin: str,
        *,
        pull_up: bool,
        button: bool,
        on_change: Callable[[bool], None],
    ) -> InputPin:
        """An edge-driven input: `on_change(active)` runs on gpiozero's thread.

        No bounce time is given to gpiozero: raspy debounces itself, the same way
        for every pin factory (gpiozero's mock pins ignore a bounce time).
        """
        from gpiozero import Button, DigitalInputDevice

        make = Button if button else DigitalInputDevice
        with self._lock:
            try:
                device = make(pin, pull_up=pull_up, pin_factory=self._factory)
                device.when_activated = lambda: on_change(True)
                device.when_deactivated = lambda: on_change(False)
            except Exception as exc:  # gpiozero raises many types; all are a fault
                raise _gpio_failure(pin, exc) from exc
        return InputPin(device, pin)

    def drive(self, pin: str, high: bool) -> None:
        """Mock pins only: drive an input pin high or low, as a wire would."""
        if self.kind is not PinFactoryKind.MOCK:
            raise DeviceError(f"{pin}: only mock pins can be driven")
        with self._lock:
            try:
                mock_pin = self._factory.pin(pin)
                if high:
                    mock_pin.drive_high()
                else:
                    mock_pin.drive_low()
            except Exception as exc:  # gpiozero raises many types; all are a fault
                raise _gpio_failure(pin, exc) from exc

    def level(self, pin: str) -> bool:
        """Mock pins only: the level of a pin (tests read outputs through it)."""
        if self.kind is not PinFactoryKind.MOCK:
            raise DeviceError(f"{pin}: only mock pins can be read back")
        return bool(self._factory.pin(pin).state)

    def frequency(self, pin: str) -> float | None:
        """Mock pins only: the PWM frequency of a pin (None: not PWM)."""
        if self.kind is not PinFactoryKind.MOCK:
            raise DeviceError(f"{pin}: only mock pins can be read back")
        value = self._factory.pin(pin).frequency
        return None if value is None else float(value)

    def duty(self, pin: str) -> float:
        """Mock pins only: the PWM duty cycle (0..1) of a pin."""
        if self.kind is not PinFactoryKind.MOCK:
            raise DeviceError(f"{pin}: only mock pins can be read back")
        return float(self._factory.pin(pin).state)


_SHARED: dict[PinFactoryKind, Pins] = {}
_SHARED_LOCK = threading.Lock()


def shared(kind: PinFactoryKind) -> Pins:
    """The process's one pin factory of `kind` (a restarted service finds the pins it
    kept); DeviceError if it cannot be made."""
    with _SHARED_LOCK:
        pins = _SHARED.get(kind)
        if pins is None:
            pins = _SHARED[kind] = Pins.of_kind(kind)
        return pins


def release_kept_elsewhere(
    in_use: PinFactoryKind | None, *, abandoned: bool = False
) -> list[str]:
    """Switch off and release the outputs kept by every pin factory but `in_use`
    (None: all): after a reload that turned GPIO off or changed the pin factory, or
    a gpio service given up (`abandoned`, see Pins.release_kept), no gpio service
    will adopt them. Returns their pins."""
    with _SHARED_LOCK:
        others = [pins for kind, pins in _SHARED.items() if kind is not in_use]
    return [pin for pins in others for pin in pins.release_kept(abandoned=abandoned)]


def successor_coming(kind: PinFactoryKind) -> None:
    """A gpio service on pins of `kind` will start: see Pins.successor_coming."""
    with _SHARED_LOCK:
        pins = _SHARED.get(kind)
    if pins is not None:
        pins.successor_coming()


def reference_resolve(pin: int | str) -> str | None:
    """resolve() on the reference 40-pin board (for a config checked off a Pi)."""
    from gpiozero.pins.pi import PiBoardInfo

    return resolve_on(PiBoardInfo.from_revision(int(_REFERENCE_REVISION, 16)), pin)


def resolve_on(board_info: Any, pin: int | str) -> str | None:
    try:
        found = list(board_info.find_pin(pin))
    except Exception:  # noqa: BLE001  # gpiozero rejects odd names in several ways
        return None
    for _header, info in found:
        name = str(info.name)
        if name.startswith("GPIO"):
            return name
    return None
