"""Device templates: value types and their checks, config fields, commands, kinds.

Pure data and checks: no I/O, no clock. Everything here is immutable, so every thread
may read it. The built-in kinds and their register live in raspy.devices.kinds.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Final, TypeAlias

from raspy.errors import shown as shown_value
from raspy.records import frozen

JsonValue: TypeAlias = (
    "bool | int | float | str | list[JsonValue] | dict[str, JsonValue] | None"
)

MAX_TEXT: Final = 256
MAX_ITEMS: Final = 64
MAX_DEPTH: Final = 8
_INT_LIMIT: Final = 2**63


class ValueType(StrEnum):
    """The value types of the original device templates."""

    LIST = "List"
    BOOL = "Bool"
    BYTE = "Byte"
    INT = "Int"
    REAL = "Real"
    STR = "Str"
    DICT = "Dict"


class DataSource(StrEnum):
    """How a logged value is to be read (round-robin database vocabulary)."""

    GAUGE = "GAUGE"
    COUNTER = "COUNTER"
    DERIVE = "DERIVE"
    ABSOLUTE = "ABSOLUTE"


class Access(StrEnum):
    READ_WRITE = "rw"
    READ_ONLY = "ro"
    WRITE_ONLY = "wo"


@frozen
class ValueSpec:
    """A value type with its limits: bounds for numbers, length and choices for Str;
    `nullable`: null is also taken (a field whose default is "not set")."""

    value_type: ValueType
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    max_length: int = MAX_TEXT
    nullable: bool = False


@frozen
class FieldSpec:
    """One config field of a template; `default` is used when the config omits it."""

    name: str
    spec: ValueSpec
    info: str
    default: JsonValue = None
    required: bool = False


@frozen
class CommandSpec:
    """One command of a template; `value` None means a trigger that takes no value."""

    name: str
    info: str
    access: Access
    value: ValueSpec | None = None
    datasource: DataSource | None = None

    @property
    def readable(self) -> bool:
        return self.access is not Access.WRITE_ONLY

    @property
    def writable(self) -> bool:
        return self.access is not Access.READ_ONLY


@frozen
class Subdevice:
    """A part of a composite device, addressed as `<device>.<name>`."""

    name: str
    oid: str


@frozen
class Kind:
    """A device kind: its oid and full template (base fields and commands included)."""

    oid: str
    info: str
    fields: tuple[FieldSpec, ...]
    commands: tuple[CommandSpec, ...]
    main: str
    subdevices: tuple[Subdevice, ...] = ()
    part_of: str | None = None

    def field(self, name: str) -> FieldSpec | None:
        return next((f for f in self.fields if f.name == name), None)

    def command(self, name: str) -> CommandSpec | None:
        return next((c for c in self.commands if c.name == name), None)

    @property
    def main_command(self) -> CommandSpec:
        command = self.command(self.main)
        assert command is not None, self.oid
        return command


@frozen
class DeviceConfig:
    """A validated device config: every field of its template, defaults filled in.

    `settings` holds the fields other than name and oid; never mutate its values.
    """

    name: str
    oid: str
    settings: Mapping[str, JsonValue]

    def as_dict(self) -> dict[str, JsonValue]:
        """The config as JSON-compatible data (a fresh copy)."""
        return {"name": self.name, "oid": self.oid, **_copy(dict(self.settings))}

    def real(self, field: str) -> float:
        value = self.settings[field]
        assert isinstance(value, float), field
        return value

    def integer(self, field: str) -> int:
        value = self.settings[field]
        assert isinstance(value, int), field
        return value

    def text(self, field: str) -> str:
        value = self.settings[field]
        assert isinstance(value, str), field
        return value

    def flag(self, field: str) -> bool:
        value = self.settings[field]
        assert isinstance(value, bool), field
        return value


def _copy(value: Mapping[str, object]) -> dict[str, JsonValue]:
    """A deep copy of validated JSON data (only dicts and lists are mutable)."""
    return {str(k): _copy_any(v) for k, v in value.items()}


def _copy_any(value: object) -> JsonValue:
    if isinstance(value, dict):
        return _copy(value)
    if isinstance(value, list):
        return [_copy_any(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"not JSON data: {type(value).__name__}")


def _number_reason(
    low: float | None, high: float | None, value: float, kind: str
) -> str | None:
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"{_bound(low)}..{_bound(high)}"
        return f"expected {kind} in {bounds}, got {shown_value(value)}"
    return None


def _bound(limit: float | None) -> str:
    """A limit as a user writes it: 100, not 100.0 (a Real's limits are floats)."""
    if limit is None:
        return ""
    return str(int(limit)) if float(limit).is_integer() else str(limit)


def _json_reason(value: object, depth: int = 0) -> str | None:
    """Why `value` is not bounded JSON-compatible data, or None if it is."""
    if depth > MAX_DEPTH:
        return f"nested deeper than {MAX_DEPTH}"
    if value is None or isinstance(value, bool | int | str):
        if isinstance(value, str) and len(value) > MAX_TEXT:
            return f"a string longer than {MAX_TEXT} characters"
        if isinstance(value, int) and not -_INT_LIMIT < value < _INT_LIMIT:
            return "an integer out of 64-bit range"
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else "a number that is not finite"
    if isinstance(value, list | dict) and len(value) > MAX_ITEMS:
        return f"more than {MAX_ITEMS} items"
    if isinstance(value, list):
        return next(filter(None, (_json_reason(v, depth + 1) for v in value)), None)
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            return "an object with a key that is not a string"
        return next(
            filter(None, (_json_reason(v, depth + 1) for v in value.values())), None
        )
    return f"not JSON data ({type(value).__name__})"


def shown(value: object) -> str:
    """An outside value for a message as JSON (text quoted once, true, null), cut
    short; containers by size."""
    if isinstance(value, list | dict):
        return f"{'a list' if isinstance(value, list) else 'an object'} of {len(value)}"
    return shown_value(value)


def reason_against(spec: ValueSpec, value: object) -> str | None:
    """Why `value` does not fit `spec`, or None if it does (then use normalise())."""
    if value is None and spec.nullable:
        return None
    got = shown(value)
    match spec.value_type:
        case ValueType.BOOL:
            return (
                None
                if isinstance(value, bool)
                else f"expected true or false, got {got}"
            )
        case ValueType.BYTE | ValueType.INT:
            value = _whole(value)
            if not isinstance(value, int) or isinstance(value, bool):
                return f"expected an integer, got {got}"
            if spec.value_type is ValueType.BYTE:
                # the spec's own bounds when it has them (a dimmer's 0..100), so the
                # message says the range actually enforced
                low = 0 if spec.minimum is None else max(0, spec.minimum)
                high = 255 if spec.maximum is None else min(255, spec.maximum)
                return _number_reason(low, high, value, "an integer")
            if not -_INT_LIMIT < value < _INT_LIMIT:
                return f"expected a 64-bit integer, got {got}"
            return _number_reason(spec.minimum, spec.maximum, value, "an integer")
        case ValueType.REAL:
            if not isinstance(value, int | float) or isinstance(value, bool):
                return f"expected a number, got {got}"
            # the size first: math.isfinite() of an int past a float raises
            if abs(value) >= _INT_LIMIT or not math.isfinite(value):
                return f"expected a finite number below 2**63, got {got}"
            return _number_reason(spec.minimum, spec.maximum, value, "a number")
        case ValueType.STR:
            if spec.choices and value not in spec.choices:  # `on_stop = true`, too
                return f"expected one of {', '.join(spec.choices)}, got {got}"
            if not isinstance(value, str):
                return f"expected a string, got {got}"
            if len(value) > spec.max_length:
                return (
                    f"expected at most {spec.max_length} characters, got {len(value)}"
                )
            if spec.choices and value not in spec.choices:
                return f"expected one of {', '.join(spec.choices)}, got {got}"
            return None
        case ValueType.LIST:
            if not isinstance(value, list):
                return f"expected a list, got {got}"
            reason = _json_reason(value)
            return None if reason is None else f"expected JSON data, got {reason}"
        case ValueType.DICT:
            if not isinstance(value, dict):
                return f"expected an object, got {got}"
            reason = _json_reason(value)
            return None if reason is None else f"expected JSON data, got {reason}"


def normalise(spec: ValueSpec, value: object) -> JsonValue:
    """A value that passed reason_against(), in its canonical form (Real -> float)."""
    if value is None:
        return None
    if spec.value_type is ValueType.REAL:
        assert isinstance(value, int | float)
        return float(value)
    if spec.value_type in (ValueType.BYTE, ValueType.INT):
        whole = _whole(value)
        assert isinstance(whole, int)
        return whole
    return _copy_any(value)


def _whole(value: object) -> object:
    """A float with no fraction as the integer it is (JSON has one number type, so
    `50.0` from a template, a script or an MQTT payload means the level 50); any
    other value as it is."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def merge_fields(
    base: Iterable[FieldSpec], own: Iterable[FieldSpec]
) -> tuple[FieldSpec, ...]:
    merged = {f.name: f for f in base}
    merged.update((f.name, f) for f in own)
    return tuple(merged.values())


def _merge_commands(
    base: Iterable[CommandSpec], own: Iterable[CommandSpec]
) -> tuple[CommandSpec, ...]:
    merged = {c.name: c for c in base}
    merged.update((c.name, c) for c in own)
    return tuple(merged.values())


def derive(
    parent: Kind,
    oid: str,
    info: str,
    *,
    fields: Iterable[FieldSpec] = (),
    commands: Iterable[CommandSpec] = (),
    main: str | None = None,
    subdevices: tuple[Subdevice, ...] = (),
    part_of: str | None = None,
) -> Kind:
    """A kind extending `parent`'s template (a field or command of that name wins)."""
    return Kind(
        oid=oid,
        info=info,
        fields=merge_fields(parent.fields, fields),
        commands=_merge_commands(parent.commands, commands),
        main=main or parent.main,
        subdevices=subdevices,
        part_of=part_of,
    )
