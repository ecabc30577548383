"""The device kinds raspy ships (BUILTIN): every device's base, the sensors, switch,
dimmer, camera, TV and its parts, the real-time clock.

Pure data: the templates of raspy.devices.template in the register of
raspy.devices.kinds, built once at import.
"""

from __future__ import annotations

from typing import Final

from raspy.devices.kinds import (
    BINARY_CLASSES,
    FRIENDLY_NAME_MAX,
    STATE_CLASSES,
    KindRegister,
)
from raspy.devices.template import (
    MAX_TEXT,
    Access,
    CommandSpec,
    DataSource,
    FieldSpec,
    Kind,
    Subdevice,
    ValueSpec,
    ValueType,
    derive,
)

MAX_PRECISION: Final = 6


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
