"""Simulated devices for the `fake` service: cyclic sensors, ramps, and actuators.

Pure and deterministic: a sensor's value is a function of its config and the time
passed in (epoch s), never of the clock or of earlier reads; actuators keep their state
in memory. No I/O, no threads.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from raspy.devices.driver import Driver, ReadOnlySensor
from raspy.devices.reading import Reading, Status
from raspy.devices.template import (
    DeviceConfig,
    FieldSpec,
    JsonValue,
    ValueSpec,
    ValueType,
)
from raspy.errors import DeviceError, quote
from raspy.records import frozen


class Wave(StrEnum):
    """The shape of one period of a simulated sensor."""

    TRIANGLE = "triangle"  # min -> max at half period -> min
    RAMP = "ramp"  # min -> max linearly over the period, then back to min


# Default (min, max) and the bounds of any configured value, per sensor kind.
_SENSORS: Final[dict[str, tuple[float, float, float | None, float | None]]] = {
    "sensor": (0.0, 100.0, None, None),
    "sensor.temperature": (15.0, 25.0, None, None),
    "sensor.humidity": (30.0, 70.0, 0.0, 100.0),
    "sensor.wind": (0.0, 12.0, 0.0, None),
}
MAX_PERIOD_S: Final = 366 * 86400.0
# a real sensor reads in steps (a DS18B20 in 1/16 °C); a configured 0.01 keeps the
# simulated values short in logs and MQTT (1.2 rather than 1.1963839213053369); by
# default the wave's exact value, as issue 7 describes the cyclic sensors
DEFAULT_RESOLUTION: Final = 0.0
MAX_RESOLUTION: Final = 1000.0


def _sensor_fields(oid: str) -> tuple[FieldSpec, ...]:
    low, high, floor, ceiling = _SENSORS[oid]
    bounded = ValueSpec(ValueType.REAL, floor, ceiling)
    return (
        FieldSpec(
            "wave",
            ValueSpec(ValueType.STR, choices=tuple(Wave)),
            "shape of a period",
            Wave.TRIANGLE.value,
        ),
        FieldSpec(
            "period_s",
            ValueSpec(ValueType.REAL, 1.0, MAX_PERIOD_S),
            "seconds per cycle",
            600.0,
        ),
        FieldSpec("min", bounded, "lowest value", low),
        FieldSpec("max", bounded, "highest value", high),
        FieldSpec(
            "phase_s",
            ValueSpec(ValueType.REAL, -MAX_PERIOD_S, MAX_PERIOD_S),
            "shift in time",
            0.0,
        ),
        FieldSpec(
            "resolution",
            ValueSpec(ValueType.REAL, 0.0, MAX_RESOLUTION),
            "step between readings, as a real sensor has one (0: none)",
            DEFAULT_RESOLUTION,
        ),
    )


@frozen
class Cycle:
    """One simulated signal: starts at `low` whenever (now + phase_s) is a multiple
    of period_s."""

    wave: Wave
    period_s: float
    low: float
    high: float
    phase_s: float = 0.0
    resolution: float = 0.0  # readings are multiples of it, within min..max; 0: any

    @classmethod
    def from_config(cls, config: DeviceConfig) -> Cycle:
        return cls(
            Wave(config.text("wave")),
            config.real("period_s"),
            config.real("min"),
            config.real("max"),
            config.real("phase_s"),
            config.real("resolution"),
        )

    def value_at(self, now: float) -> float:
        """The value at `now` (epoch s)."""
        fraction = ((now + self.phase_s) % self.period_s) / self.period_s
        if self.wave is Wave.TRIANGLE:
            rise = 2.0 * fraction if fraction <= 0.5 else 2.0 * (1.0 - fraction)
        else:
            rise = fraction
        value = self.low + (self.high - self.low) * rise
        if self.resolution <= 0.0:
            return value
        # round(…, 10) drops the float noise of the product (119 * 0.01)
        stepped = round(round(value / self.resolution) * self.resolution, 10)
        return min(max(stepped, self.low), self.high)


class CyclicSensor(ReadOnlySensor):
    """A sensor whose value follows its configured wave; read-only."""

    def read(self, config: DeviceConfig, now: float) -> Reading:
        value = Cycle.from_config(config).value_at(now)
        return Reading(value, config.text("unit"), Status.OK, now)


class SimulatedClock(CyclicSensor):
    """clock.rtc: the time passed in."""

    def read(self, config: DeviceConfig, now: float) -> Reading:
        return Reading(now, config.text("unit"), Status.OK, now)


def _integer(config: DeviceConfig, command: str, value: JsonValue) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise DeviceError(
            f"device {quote(config.name)}: {command}: expected an integer"
        )
    return value


class Actuator:
    """A simulated actuator: the values of its readable commands, in memory.

    Plain writes (`state`, `level`, `power`, ...) set the value of the command of the
    same name; subclasses give triggers (`on`, `toggle`, `up`, ...) their meaning.
    """

    def __init__(self, main: str, initial: Mapping[str, JsonValue]) -> None:
        self._main = main
        self._initial = dict(initial)
        self._values = dict(initial)

    def read(self, config: DeviceConfig, now: float) -> Reading:
        return Reading(self._values[self._main], config.text("unit"), Status.OK, now)

    def execute(
        self, config: DeviceConfig, command: str, value: JsonValue, now: float
    ) -> Reading:
        self._apply(config, command, value)
        return self.read(config, now)

    def _apply(self, config: DeviceConfig, command: str, value: JsonValue) -> None:
        if command not in self._values or value is None:
            raise DeviceError(f"device {quote(config.name)}: {command}: not supported")
        self._values[command] = value

    def state(self) -> Mapping[str, JsonValue]:
        return MappingProxyType(dict(self._values))

    def reset(self, config: DeviceConfig, now: float) -> Reading | None:
        self._values = dict(self._initial)
        return self.read(config, now)


class Switch(Actuator):
    """switch: `state`, `on`, `off`, `toggle`."""

    def __init__(self) -> None:
        super().__init__("state", {"state": False})

    def _apply(self, config: DeviceConfig, command: str, value: JsonValue) -> None:
        match command:
            case "on" | "off":
                self._values["state"] = command == "on"
            case "toggle":
                self._values["state"] = not self._values["state"]
            case _:
                super()._apply(config, command, value)


class Dimmer(Actuator):
    """dimmer: `level` (0..100), `off`, and `on` back to the last level above 0."""

    def __init__(self) -> None:
        super().__init__("level", {"level": 0})
        self._last_on = 100

    def _apply(self, config: DeviceConfig, command: str, value: JsonValue) -> None:
        level = _integer(config, "level", self._values["level"])
        match command:
            case "on":
                self._values["level"] = self._last_on
            case "off":
                self._last_on = level or self._last_on
                self._values["level"] = 0
            case "level":
                new = _integer(config, command, value)
                self._last_on = new or self._last_on
                self._values["level"] = new
            case _:
                super()._apply(config, command, value)

    def reset(self, config: DeviceConfig, now: float) -> Reading | None:
        self._last_on = 100
        return super().reset(config, now)


class Stepper(Actuator):
    """A value moved by `up` and `down` within bounds (TV channel, TV volume)."""

    def __init__(
        self, main: str, initial: Mapping[str, JsonValue], step: int, bounds: range
    ) -> None:
        super().__init__(main, initial)
        self._step = step
        self._bounds = bounds

    def _apply(self, config: DeviceConfig, command: str, value: JsonValue) -> None:
        current = _integer(config, self._main, self._values[self._main])
        if command in ("up", "down"):
            moved = current + (self._step if command == "up" else -self._step)
            low, high = self._bounds.start, self._bounds.stop - 1
            self._values[self._main] = min(high, max(low, moved))
        else:
            super()._apply(config, command, value)


class Camera(Actuator):
    """media.camera: `snapshot` counts the pictures taken."""

    def __init__(self) -> None:
        super().__init__("snapshots", {"snapshots": 0})

    def _apply(self, config: DeviceConfig, command: str, value: JsonValue) -> None:
        if command != "snapshot":
            super()._apply(config, command, value)
            return
        self._values["snapshots"] = (
            _integer(config, command, self._values["snapshots"]) + 1
        )


def _make_tv() -> Driver:
    return Actuator("power", {"power": False})


def _make_channel() -> Driver:
    return Stepper("channel", {"channel": 1}, 1, range(1, 10000))


def _make_volume() -> Driver:
    return Stepper("volume", {"volume": 20, "mute": False}, 5, range(101))


_ACTUATORS: Final = {
    "switch": Switch,
    "dimmer": Dimmer,
    "media.camera": Camera,
    "media.tv": _make_tv,
    "media.tv.channel": _make_channel,
    "media.tv.volume": _make_volume,
    "clock.rtc": SimulatedClock,
}


class SimulatedFactory:
    """Drivers for every built-in kind, for the `fake` service."""

    @property
    def rescan_supported(self) -> bool:
        return False

    def fields(self, oid: str) -> tuple[FieldSpec, ...] | None:
        if oid in _SENSORS:
            return _sensor_fields(oid)
        return () if oid in _ACTUATORS else None

    def problems(self, config: DeviceConfig) -> list[str]:
        if config.oid not in _SENSORS or config.real("min") <= config.real("max"):
            return []
        return [
            f"max: expected >= min ({config.real('min')}), got {config.real('max')}"
        ]

    def create(self, config: DeviceConfig) -> Driver:
        if config.oid in _SENSORS:
            return CyclicSensor()
        make = _ACTUATORS.get(config.oid)
        if make is None:
            raise DeviceError(f"device {quote(config.name)}: no simulated {config.oid}")
        return make()


def default_configs() -> list[dict[str, JsonValue]]:
    """The simulated devices `make run` starts with, so live values show at once."""
    return [
        {"name": "outdoor", "oid": "sensor.temperature", "period_s": 120.0,
         "min": -2.0, "max": 14.0, "poll_interval_s": 2.0},
        {"name": "living", "oid": "sensor.temperature", "period_s": 300.0,
         "min": 19.0, "max": 22.5, "poll_interval_s": 2.0},
        {"name": "bathroom", "oid": "sensor.humidity", "wave": "ramp",
         "period_s": 90.0, "poll_interval_s": 2.0},
        {"name": "roof", "oid": "sensor.wind", "period_s": 60.0,
         "poll_interval_s": 1.0},
        {"name": "lamp", "oid": "switch", "poll_interval_s": 10.0},
        {"name": "hall", "oid": "dimmer", "poll_interval_s": 10.0},
        {"name": "tv", "oid": "media.tv", "poll_interval_s": 10.0},
        {"name": "rtc", "oid": "clock.rtc", "poll_interval_s": 1.0},
    ]  # fmt: skip
