"""The register of device kinds by oid, the built-in kinds, and config validation.

Pure data and checks: no I/O, no clock. The register is immutable. A device config is
JSON-compatible data; an invalid one is refused with a DeviceError naming the device,
the field and the reason.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Final

from raspy.devices.template import (
    MAX_TEXT,
    Access,
    CommandSpec,
    DataSource,
    DeviceConfig,
    FieldSpec,
    JsonValue,
    Kind,
    Subdevice,
    ValueSpec,
    ValueType,
    derive,
    merge_fields,
    normalise,
    reason_against,
    shown,
)
from raspy.errors import DeviceError, did_you_mean, quote

NAME_PATTERN: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
FRIENDLY_NAME_MAX: Final = 64
# Actions of the device-service vocabulary that are not commands of a device
# (raspy.devices.service): those on one device, and all of them; a kind's own
# command may not take one of these names.
DEVICE_REQUESTS: Final = frozenset({"get", "set", "commands"})
SERVICE_ACTIONS: Final = DEVICE_REQUESTS | {"list_keys", "list", "rescan"}
# What a binary input is, in Home Assistant's words (its binary_sensor device
# classes): the MQTT bridge announces it so, and Home Assistant then shows
# Open/Closed, Detected/Clear, Wet/Dry... with the matching icon rather than On/Off.
BINARY_CLASSES: Final = (
    "battery",
    "battery_charging",
    "carbon_monoxide",
    "cold",
    "connectivity",
    "door",
    "garage_door",
    "gas",
    "heat",
    "light",
    "lock",
    "moisture",
    "motion",
    "moving",
    "occupancy",
    "opening",
    "plug",
    "power",
    "presence",
    "problem",
    "running",
    "safety",
    "smoke",
    "sound",
    "tamper",
    "update",
    "vibration",
    "window",
)
# How Home Assistant's statistics read a generic sensor: a value now (measurement),
# a total that may go down as well as up (a net meter), or a count that only grows
# (an energy meter, a rain gauge), a drop being a new cycle.
STATE_CLASSES: Final = ("measurement", "total", "total_increasing")
MAX_PRECISION: Final = 6


class KindRegister:
    """Kinds by oid; immutable (with_kinds() returns a new register)."""

    def __init__(self, kinds: Iterable[Kind]) -> None:
        self._kinds: Mapping[str, Kind] = MappingProxyType(self._checked(kinds))
        self._commands = frozenset(
            c.name for kind in self._kinds.values() for c in kind.commands
        )

    @staticmethod
    def _checked(kinds: Iterable[Kind]) -> dict[str, Kind]:
        table: dict[str, Kind] = {}
        for kind in kinds:
            if kind.oid in table:
                raise ValueError(f"kind {kind.oid} registered twice")
            clash = SERVICE_ACTIONS.intersection(c.name for c in kind.commands)
            if clash:
                raise ValueError(
                    f"kind {kind.oid}: commands {sorted(clash)} are actions"
                )
            if kind.command(kind.main) is None:
                raise ValueError(
                    f"kind {kind.oid}: main command {kind.main} undeclared"
                )
            table[kind.oid] = kind
        for kind in table.values():
            for sub in kind.subdevices:
                if sub.oid not in table or table[sub.oid].part_of != kind.oid:
                    raise ValueError(
                        f"kind {kind.oid}: sub-device kind {sub.oid} missing"
                    )
        return table

    def with_kinds(self, *kinds: Kind) -> KindRegister:
        return KindRegister([*self._kinds.values(), *kinds])

    def command_names(self) -> frozenset[str]:
        """Every command name of every kind (the actions a request may name)."""
        return self._commands

    def oids(self) -> list[str]:
        return sorted(self._kinds)

    def find(self, oid: str) -> Kind | None:
        return self._kinds.get(oid)

    def get(self, oid: str) -> Kind:
        """The kind of `oid`; raises DeviceError if none is registered."""
        kind = self._kinds.get(oid)
        if kind is None:
            raise DeviceError(f"unknown device kind {quote(oid)}")
        return kind


def _device_label(config: Mapping[object, object]) -> str:
    name = config.get("name")
    return f"device {quote(name)}" if isinstance(name, str) else "device (unnamed)"


def _identity_problems(
    kinds: KindRegister, config: Mapping[object, object], label: str
) -> list[str]:
    name, oid = config.get("name"), config.get("oid")
    problems = []
    if name is None:
        problems.append(f"{label}: name: required")
    elif not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        problems.append(
            f"{label}: name: expected 1-64 ASCII letters, digits, '_' or '-' "
            f"starting with a letter or digit, got {shown(name)}"
        )
    if oid is None:
        problems.append(f"{label}: oid: required")
    elif not isinstance(oid, str) or kinds.find(oid) is None:
        problems.append(
            f"{label}: oid: expected one of {', '.join(kinds.oids())}, got {shown(oid)}"
        )
    else:
        part_of = kinds.get(oid).part_of
        if part_of is not None:
            problems.append(
                f"{label}: oid: {oid} is a sub-device of {part_of}, not a device"
            )
    return problems


def validate(
    kinds: KindRegister,
    config: object,
    extra_fields: Callable[[str], tuple[FieldSpec, ...]] = lambda oid: (),
) -> DeviceConfig:
    """Check a JSON-compatible device config against its kind's template.

    `extra_fields(oid)` adds the fields of the service's driver (e.g. a sensor id).
    Unknown fields are refused. Raises DeviceError listing every problem, each naming
    the device, the field and the reason.
    """
    if not isinstance(config, Mapping):
        raise DeviceError(f"device config: expected an object, got {shown(config)}")
    label = _device_label(config)
    problems = _identity_problems(kinds, config, label)
    if problems:
        raise DeviceError("; ".join(problems))
    name, oid = config["name"], config["oid"]
    assert isinstance(name, str)
    assert isinstance(oid, str)
    fields = merge_fields(kinds.get(oid).fields, extra_fields(oid))
    known = {f.name for f in fields} | {"name", "oid"}
    for key in sorted(config, key=repr):
        if key not in known:
            what = quote(key) if isinstance(key, str) else shown(key)
            hint = did_you_mean(key, known) if isinstance(key, str) else ""
            problems.append(f"{label}: {what}: unknown field for {oid}{hint}")
    settings: dict[str, JsonValue] = {}
    for field in fields:
        if field.name not in config:
            if field.required:
                problems.append(f"{label}: {field.name}: required")
            settings[field.name] = field.default
            continue
        value = config[field.name]
        reason = reason_against(field.spec, value)
        if reason is not None:
            problems.append(f"{label}: {field.name}: {reason}")
            continue
        settings[field.name] = normalise(field.spec, value)
    if problems:
        raise DeviceError("; ".join(problems))
    return DeviceConfig(name=name, oid=oid, settings=MappingProxyType(settings))


# Fields a sub-device takes from its composite parent's config.
_INHERITED: Final = ("info", "log", "poll_interval_s")


def subdevice_config(
    kinds: KindRegister,
    parent: DeviceConfig,
    sub: Subdevice,
    extra_fields: Callable[[str], tuple[FieldSpec, ...]] = lambda oid: (),
) -> DeviceConfig:
    """The config of `<parent>.<sub>`: its template's defaults, with info, log and
    poll interval taken from the parent."""
    fields = merge_fields(kinds.get(sub.oid).fields, extra_fields(sub.oid))
    settings = {f.name: f.default for f in fields}
    settings.update((k, parent.settings[k]) for k in _INHERITED if k in settings)
    return DeviceConfig(
        name=f"{parent.name}.{sub.name}",
        oid=sub.oid,
        settings=MappingProxyType(settings),
    )


def _text(max_length: int = MAX_TEXT, choices: tuple[str, ...] = ()) -> ValueSpec:
    return ValueSpec(ValueType.STR, max_length=max_length, choices=choices)


def _real(minimum: float | None = None, maximum: float | None = None) -> ValueSpec:
    return ValueSpec(ValueType.REAL, minimum, maximum)


_BOOL: Final = ValueSpec(ValueType.BOOL)
_PERCENT: Final = ValueSpec(ValueType.BYTE, 0, 100)
_RO: Final = Access.READ_ONLY
_RW: Final = Access.READ_WRITE
_WO: Final = Access.WRITE_ONLY
_GAUGE: Final = DataSource.GAUGE


def _unit(default: str, choices: tuple[str, ...] = ()) -> FieldSpec:
    return FieldSpec("unit", _text(16, choices), "unit of the value", default)


def _precision(default: int | None) -> FieldSpec:
    """The decimals Home Assistant shows. A kind's default is what its sensors can
    tell apart: a temperature in 1/16 °C steps (a DS18B20) and good to ±0.5 °C, or a
    wind speed in 0.1 m/s, shows one; a relative humidity, good to ±2-3 %, none."""
    return FieldSpec(
        "precision",
        ValueSpec(ValueType.INT, 0, MAX_PRECISION, nullable=True),
        "decimals Home Assistant shows (display only: the value is not rounded); "
        "null: its own",
        default,
    )


def _poll(default_s: float) -> FieldSpec:
    return FieldSpec(
        "poll_interval_s", _real(0.1, 86400.0), "seconds between polls", default_s
    )


BASE: Final = Kind(
    oid="base",
    info="every device",
    fields=(
        FieldSpec("info", _text(), "a label for people", ""),
        FieldSpec(
            "friendly_name",
            _text(FRIENDLY_NAME_MAX),
            "another name a request may use for the device (unique in its service)",
            "",
        ),
        _unit(""),
        _poll(10.0),
        FieldSpec("log", _BOOL, "keep a history of the values", default=False),
    ),
    commands=(
        CommandSpec(
            "config",
            "the config; a value updates the fields given",
            _RW,
            ValueSpec(ValueType.DICT),
        ),
        CommandSpec("poll", "read the device now and publish the value", _WO),
        CommandSpec("log", "whether values are logged", _RW, _BOOL),
        CommandSpec("reset", "clear errors and return to the initial state", _WO),
    ),
    main="config",
)


def _builtin() -> list[Kind]:
    value = CommandSpec("value", "the last reading", _RO, _real(), _GAUGE)
    # what every sensor kind shares; the generic kind adds its own fields to it
    reading = derive(BASE, "sensor", "a sensor", commands=[value], main="value")
    sensor = derive(
        reading,
        "sensor",
        "a sensor",
        fields=[
            _precision(None),  # no unit to go by: Home Assistant shows the value
            FieldSpec(
                "state_class",
                _text(choices=STATE_CLASSES),
                "measurement, total, or total_increasing (a count that only grows)",
                STATE_CLASSES[0],
            ),
        ],
    )
    actuator = derive(BASE, "actuator", "", fields=[_poll(60.0)])
    tv = derive(
        actuator,
        "media.tv",
        "a TV: power, with channel and volume sub-devices",
        commands=[CommandSpec("power", "on or off", _RW, _BOOL, _GAUGE)],
        main="power",
        subdevices=(
            Subdevice("channel", "media.tv.channel"),
            Subdevice("volume", "media.tv.volume"),
        ),
    )
    step_up = CommandSpec("up", "one step up", _WO)
    step_down = CommandSpec("down", "one step down", _WO)
    turn_on = CommandSpec("on", "turn on", _WO)
    turn_off = CommandSpec("off", "turn off", _WO)
    return [
        sensor,
        derive(
            reading,
            "sensor.temperature",
            "a temperature sensor",
            fields=[_unit("°C", ("°C", "°F", "K")), _precision(1)],
        ),
        derive(
            reading,
            "sensor.wind",
            "a wind speed sensor",
            fields=[_unit("m/s"), _precision(1)],
        ),
        derive(
            reading,
            "sensor.binary",
            "an on/off input: a button, a door contact, a motion sensor",
            fields=[
                FieldSpec(
                    "device_class",
                    ValueSpec(ValueType.STR, choices=BINARY_CLASSES, nullable=True),
                    "what the input is, as Home Assistant names it (door, motion, "
                    "window, ...); null: a plain on/off",
                    None,
                )
            ],
            commands=[CommandSpec("value", "true while active", _RO, _BOOL, _GAUGE)],
        ),
        derive(
            reading,
            "sensor.humidity",
            "a relative humidity sensor",
            fields=[_unit("%"), _precision(0)],
            commands=[
                CommandSpec("value", "the last reading", _RO, _real(0.0, 100.0), _GAUGE)
            ],
        ),
        derive(
            actuator,
            "switch",
            "an on/off switch",
            commands=[
                CommandSpec("state", "on (true) or off (false)", _RW, _BOOL, _GAUGE),
                turn_on,
                turn_off,
                CommandSpec("toggle", "switch to the other state", _WO),
            ],
            main="state",
        ),
        derive(
            actuator,
            "dimmer",
            "a dimmer (0..100 %)",
            fields=[_unit("%")],
            commands=[
                CommandSpec("level", "brightness in %", _RW, _PERCENT, _GAUGE),
                CommandSpec("on", "back to the last level above 0", _WO),
                turn_off,
            ],
            main="level",
        ),
        derive(
            actuator,
            "media.camera",
            "a camera",
            fields=[FieldSpec("url", _text(), "stream address", "")],
            commands=[
                CommandSpec("snapshot", "take a picture", _WO),
                CommandSpec(
                    "snapshots",
                    "pictures taken",
                    _RO,
                    ValueSpec(ValueType.INT, 0),
                    DataSource.COUNTER,
                ),
            ],
            main="snapshots",
        ),
        tv,
        derive(
            actuator,
            "media.tv.channel",
            "the channel of a TV",
            commands=[
                CommandSpec(
                    "channel",
                    "the channel",
                    _RW,
                    ValueSpec(ValueType.INT, 1, 9999),
                    _GAUGE,
                ),
                step_up,
                step_down,
            ],
            main="channel",
            part_of="media.tv",
        ),
        derive(
            actuator,
            "media.tv.volume",
            "the volume of a TV",
            fields=[_unit("%")],
            commands=[
                CommandSpec("volume", "the volume in %", _RW, _PERCENT, _GAUGE),
                CommandSpec("mute", "muted or not", _RW, _BOOL),
                step_up,
                step_down,
            ],
            main="volume",
            part_of="media.tv",
        ),
        derive(
            BASE,
            "clock.rtc",
            "the real-time clock",
            fields=[_unit("s")],
            commands=[
                CommandSpec("time", "seconds since the epoch", _RO, _real(), _GAUGE),
                CommandSpec(
                    "drift", "the clock minus the system clock, s", _RO, _real()
                ),
            ],
            main="time",
        ),
    ]


BUILTIN: Final = KindRegister(_builtin())
