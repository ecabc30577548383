"""The options of each GPIO kind and the check of `[[devices.gpio]]` tables.

Pure: no pin is touched. check_entries() turns the config file's tables into device
configs, naming every problem by its key path (`devices.gpio[2].pin: ...`); the
drivers that use the options are in raspy.devices.gpio.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Final

from raspy.devices.gpio_gesture import Timing
from raspy.devices.gpio_logic import BUTTON, MIN_HOLD_LIMIT_S, Initial, OnStop
from raspy.devices.kinds import BINARY_CLASSES, NAME_PATTERN, KindRegister
from raspy.devices.template import (
    DeviceConfig,
    FieldSpec,
    JsonValue,
    ValueSpec,
    ValueType,
    merge_fields,
    normalise,
    reason_against,
    shown,
)
from raspy.errors import DeviceError, did_you_mean

SWITCH: Final = "switch"
DIMMER: Final = "dimmer"
BINARY: Final = "sensor.binary"
OUTPUTS: Final = frozenset({SWITCH, DIMMER})
MAX_ON_LIMIT_S: Final = 7 * 86400.0
# a window longer than this makes every single press come seconds late; a hold
# longer than a minute is no gesture anyone makes on purpose
MAX_DOUBLE_PRESS_S: Final = 5.0
MAX_LONG_PRESS_S: Final = 60.0
# Fields that pick the pin and its wiring: fixed while the daemon runs (a config
# change over MDP may not touch them; the config file may).
FIXED_FIELDS: Final = frozenset(
    {"pin", "active_high", "pull_up", "device_class", "frequency_hz"}
)


def gesture_timing(config: DeviceConfig) -> Timing:
    """A button's gesture options (all off for any other input and for outputs)."""
    if config.oid != BINARY or config.text("device_class") != BUTTON:
        return Timing()
    return Timing(config.real("double_press_s"), config.real("long_press_s"))


def gesture_problems(settings: Mapping[str, JsonValue]) -> list[str]:
    """`<option>: <why>` of each gesture option set (> 0) on an input that is no
    button: such an input publishes no presses to tell apart."""
    device_class = settings.get("device_class", BUTTON)
    if device_class == BUTTON:
        return []
    return [
        f"{name}: only a button takes it (device_class = {shown(BUTTON)}), "
        f"this input is {shown(device_class)}"
        for name in sorted(GESTURE_FIELDS)
        if isinstance(value := settings.get(name), int | float) and value > 0
    ]


def fixed_change(config: DeviceConfig, settings: Mapping[str, JsonValue]) -> str | None:
    """Why a config change over MDP (`settings`) may not be applied to a running
    device: it changes a field of FIXED_FIELDS (the pin, its wiring); None if not."""
    for key in sorted(FIXED_FIELDS & set(settings)):
        if settings[key] != config.settings.get(key):
            return f"{key}: fixed while running; change the config file"
    return None


def as_resolved(
    settings: Mapping[str, JsonValue], resolve: Resolve
) -> Mapping[str, JsonValue]:
    """A config change over MDP with its `pin` by the canonical name gpiozero gives
    it (`17`, `"BOARD11"`: `"GPIO17"`), as the file's pin is stored: naming the pin a
    device already has changes nothing. A pin the board lacks is left as given."""
    pin = settings.get("pin")
    if isinstance(pin, bool) or not isinstance(pin, int | str):
        return settings
    canonical = resolve(pin)
    return settings if canonical is None else {**settings, "pin": canonical}


_PIN: Final = FieldSpec(
    "pin",
    ValueSpec(ValueType.STR, max_length=16),
    "BCM number or gpiozero pin name (17, GPIO17, BOARD11)",
    required=True,
)
_ACTIVE_HIGH: Final = FieldSpec(
    "active_high", ValueSpec(ValueType.BOOL), "on drives the pin high", True
)
_OUTPUT: Final = (
    _PIN,
    _ACTIVE_HIGH,
    FieldSpec(
        "initial",
        ValueSpec(ValueType.STR, choices=tuple(Initial)),
        "state at start: off, on, or restore (the last stored)",
        Initial.OFF.value,
    ),
    FieldSpec(
        "on_stop",
        ValueSpec(ValueType.STR, choices=tuple(OnStop)),
        "at a clean stop: off, or keep (leave the pin alone)",
        OnStop.OFF.value,
    ),
    FieldSpec(
        "max_on_s",
        ValueSpec(ValueType.REAL, 0.0, MAX_ON_LIMIT_S),
        "switch off after this long on (0: no limit)",
        0.0,
    ),
)
# A switch only: a relay's contacts and what it drives (a compressor, a pump) must
# not be switched fast; a dimmer's level moves smoothly (a slider, a fade) and PWM
# never drives a motor's start, so it has no such limits.
_HOLD: Final = (
    FieldSpec(
        "min_on_s",
        ValueSpec(ValueType.REAL, 0.0, MIN_HOLD_LIMIT_S),
        "an `off` sooner than this after it went on is refused (0: no limit)",
        0.0,
    ),
    FieldSpec(
        "min_off_s",
        ValueSpec(ValueType.REAL, 0.0, MIN_HOLD_LIMIT_S),
        "an `on` sooner than this after it went off is refused (0: no limit)",
        0.0,
    ),
)
# A button's gestures (raspy.devices.gpio_gesture): options of a button only
_GESTURES: Final = (
    FieldSpec(
        "double_press_s",
        ValueSpec(ValueType.REAL, 0.0, MAX_DOUBLE_PRESS_S),
        "a button: a press sooner than this after a short one's release makes the "
        "two a `double`; a press with none after it is a `single`, said this late "
        "(0: off)",
        0.0,
    ),
    FieldSpec(
        "long_press_s",
        ValueSpec(ValueType.REAL, 0.0, MAX_LONG_PRESS_S),
        "a button: a press held this long is a `long`, said while it is held (0: off)",
        0.0,
    ),
)
GESTURE_FIELDS: Final = frozenset(f.name for f in _GESTURES)
FIELDS: Final[Mapping[str, tuple[FieldSpec, ...]]] = MappingProxyType(
    {
        SWITCH: (*_OUTPUT, *_HOLD),
        DIMMER: (
            *_OUTPUT,
            FieldSpec(
                "frequency_hz",
                ValueSpec(ValueType.REAL, 1.0, 100_000.0),
                "PWM frequency",
                100.0,
            ),
        ),
        BINARY: (
            _PIN,
            FieldSpec(
                "pull_up",
                ValueSpec(ValueType.BOOL),
                "internal pull-up (active low); false: pull-down (active high)",
                True,
            ),
            FieldSpec(
                "bounce_time_s",
                ValueSpec(ValueType.REAL, 0.0, 1.0),
                "edges this soon after a change are held (debounce)",
                0.02,
            ),
            FieldSpec(
                "device_class",
                ValueSpec(ValueType.STR, choices=(BUTTON, *BINARY_CLASSES)),
                "button (also publishes `pressed`), or what the input is as Home "
                "Assistant names it (door, motion, window, ...)",
                BUTTON,
            ),
            *_GESTURES,
        ),
    }
)


Resolve = Callable[[int | str], str | None]


def check_entries(
    kinds: KindRegister,
    entries: Sequence[object],
    resolve: Resolve,
    board: str,
    path: str = "devices.gpio",
) -> list[dict[str, JsonValue]]:
    """`[[devices.gpio]]` tables -> device configs with canonical pin names.

    Checks each option's type against the kind's template, that the board has the
    pin, and that no pin and no name is used twice. Raises DeviceError listing every
    problem as `devices.gpio[<index>].<key>: <reason>` (index from 0, in file order).
    """
    problems: list[str] = []
    configs: list[dict[str, JsonValue]] = []
    used: dict[str, int] = {}
    named: dict[JsonValue, int] = {}
    for index, entry in enumerate(entries):
        where = f"{path}[{index}]"
        config = _check_entry(kinds, entry, where, problems)
        if config is None:
            continue
        name = config["name"]
        if name in named:
            problems.append(
                f"{where}.name: {shown(name)} is already used by {path}[{named[name]}]"
            )
            continue
        named[name] = index
        pin = config.pop("pin")
        assert isinstance(pin, int | str)
        canonical = resolve(pin)
        if canonical is None:
            problems.append(
                f"{where}.pin: the board ({board}) has no GPIO pin {shown(pin)}"
            )
            continue
        if canonical in used:
            problems.append(
                f"{where}.pin: {canonical} is already used by {path}[{used[canonical]}]"
            )
            continue
        used[canonical] = index
        configs.append({**config, "pin": canonical})
    if problems:
        raise DeviceError(*problems)
    return configs


def _check_entry(
    kinds: KindRegister, entry: object, where: str, problems: list[str]
) -> dict[str, JsonValue] | None:
    if not isinstance(entry, Mapping):
        problems.append(f"{where}: expected a table, got {shown(entry)}")
        return None
    oid = entry.get("oid")
    if oid not in FIELDS:
        problems.append(
            f"{where}.oid: expected one of {', '.join(sorted(FIELDS))}, got {shown(oid)}"
        )
        return None
    assert isinstance(oid, str)
    fields = merge_fields(kinds.get(oid).fields, FIELDS[oid])
    specs = {f.name: f.spec for f in fields if f.name != "pin"}
    before = len(problems)
    config: dict[str, JsonValue] = {}
    for key, value in entry.items():
        if key in ("oid", "pin"):
            continue
        if key == "name":
            if not isinstance(value, str) or not NAME_PATTERN.fullmatch(value):
                problems.append(
                    f"{where}.name: expected 1-64 ASCII letters, digits, '_' or '-', "
                    f"got {shown(value)}"
                )
            config["name"] = value if isinstance(value, str) else None
            continue
        spec = specs.get(key)
        if spec is None:
            hint = did_you_mean(key, specs) if isinstance(key, str) else ""
            if key in GESTURE_FIELDS:  # an output's: said whose option it is
                hint = f" (a button's: oid = {shown(BINARY)}, device_class = " + (
                    f"{shown(BUTTON)})"
                )
            problems.append(f"{where}.{key}: unknown option for {oid}{hint}")
            continue
        reason = reason_against(spec, value)
        if reason is not None:
            problems.append(f"{where}.{key}: {reason}")
            continue
        config[key] = normalise(spec, value)
    problems.extend(f"{where}.{p}" for p in gesture_problems(config))
    if "name" not in entry:
        problems.append(f"{where}.name: required")
    if "pin" not in entry:
        problems.append(f"{where}.pin: required")
        return None
    pin = entry["pin"]
    if isinstance(pin, bool) or not isinstance(pin, int | str):
        problems.append(
            f"{where}.pin: expected a BCM number or a pin name, got {shown(pin)}"
        )
        return None
    return {**config, "oid": oid, "pin": pin} if len(problems) == before else None
