"""Controls: tree values the household sets from the web face (pure).

A control is declared in raspyd's config (`[[controls]]`, read by
raspy.control_tables) and names one tree key with what it may hold: a number within
a range and on a step, a switch (true or false), a choice among texts, or a text.
`check()` turns what a person typed (a form field; an MQTT payload) into the
JSON value to write, or raises ControlError with a reason the person reads: nothing
sent asks for a value (`enter a number`, not `'' is not a number`), but for a text,
where empty is a value like any other. `breaks()` says why a value found in the
tree (written by a scenario or `raspy-kv set`, which are not checked) does not
fit. Nothing here writes anything.
"""

from __future__ import annotations

import datetime
import decimal
import json
import math
import re
from decimal import Decimal
from typing import Final

from raspy.devices.template import JsonValue
from raspy.errors import RaspyError, quote, shown
from raspy.records import frozen

KINDS: Final = ("number", "switch", "choice", "text")
MAX_INPUT_CHARS: Final = 4096  # what check() reads at most (a text's longest)
_NUMBER: Final = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d{1,4})?")
_INTEGER: Final = re.compile(r"[+-]?\d+")
_DECIMAL: Final = re.compile(r"[+-]?\d+(?:\.\d+)?")  # said as typed in a reason
# a comma as the decimal mark (a German phone's keypad): "21,5"; with three digits
# after it, "1,000" could as well be a thousand, and is refused
_COMMA: Final = re.compile(r"([+-]?\d*),(\d+)")
_NUMBER_CHARS: Final = 64
_TRUE: Final = frozenset({"true", "on", "1", "yes"})
_FALSE: Final = frozenset({"false", "off", "0", "no"})
# exact: a number of 64 characters over a step of 17 digits fits in it whole
_EXACT: Final = decimal.Context(prec=1000, Emax=10_000, Emin=-10_000)
_LARGEST: Final = Decimal("1.7976931348623157e308")  # the largest float
_TOML_KINDS: Final[dict[type, str]] = {
    datetime.datetime: "the date-time",
    datetime.date: "the date",
    datetime.time: "the time",
}


class ControlError(RaspyError):
    """A value a control does not take; str() is the reason, for a person."""


@frozen
class Control:
    """One declared control (raspy.control_tables builds them from the config)."""

    key: str
    label: str
    kind: str  # one of KINDS
    minimum: float | None = None  # number
    maximum: float | None = None  # number
    step: float | None = None  # number: the values are minimum (or 0) + n * step
    unit: str = ""  # number
    options: tuple[str, ...] = ()  # choice
    max_length: int = 255  # text, in characters
    initial: JsonValue = None  # written at raspyd's start when the key is absent


def _shown(text: str) -> str:
    """An input as a reason quotes it: 'holiday', cut at 64 bytes, escaped."""
    return quote(text)


def _plain(number: int | float | Decimal) -> str:
    """A number as a person writes it: 15, 0.5, 1e-07 (no 15.0)."""
    value = number if isinstance(number, Decimal) else Decimal(str(number))
    if value == value.to_integral_value() and abs(value) < 10**16:
        return str(int(value))
    return str(float(value))


def check(control: Control, raw: str) -> JsonValue:
    """The JSON value to write for `raw`, a person's text; ControlError says why not."""
    if len(raw) > MAX_INPUT_CHARS:
        raise ControlError(f"longer than {MAX_INPUT_CHARS} characters")
    match control.kind:
        case "number":
            value: JsonValue = _number(control, raw)
        case "switch":
            value = _switch(raw)
        case "choice":
            value = raw.strip()
            if not value:
                raise ControlError(f"choose one of {', '.join(control.options)}")
        case _:
            value = raw
    reason = breaks(control, value)
    if reason is not None:
        raise ControlError(reason)
    return value


def _number(control: Control, raw: str) -> int | float:
    text = raw.strip()
    if not text:  # a field cleared before Set: `'' is not a number` puzzled
        raise ControlError("enter a number")
    if len(text) > _NUMBER_CHARS:  # before the comma's reading, which says it
        raise ControlError(f"{_shown(raw)} is not a number")
    text = _comma_decimal(text)
    if not _NUMBER.fullmatch(text):
        raise ControlError(f"{_shown(raw)} is not a number")
    exact = Decimal(text)
    if abs(exact) > _LARGEST:
        raise ControlError(f"{text} is too large")
    # the number as it was read: "1e1 is below the minimum" left the 10 to work out
    _within(control, exact, text if _DECIMAL.fullmatch(text) else _plain(exact))
    # an int where the number is whole: 21, not 21.0; an integer as written up to
    # 64 bits, any other number as the float nearest (its repr gives it back)
    if _INTEGER.fullmatch(text) and abs(exact) < 2**63:
        return int(exact)
    value = float(exact)
    return int(value) if value.is_integer() and abs(value) <= 2**53 else value


def _comma_decimal(text: str) -> str:
    """`21,5` as `21.5`: a comma is the decimal mark in much of Europe, and a
    browser's number field sent `21,5` as 215. One that may be a thousands
    separator (`1,000`) is refused rather than read as another number."""
    found = _COMMA.fullmatch(text)
    if found is None:
        return text
    whole, decimals = found.groups()
    point = f"{whole}.{decimals}"
    # a whole part of zeros (`0,125`, `-0,250`) is no thousands group
    if len(decimals) == 3 and whole.lstrip("+-").lstrip("0"):
        read = (_plain(Decimal(point)), str(int(whole + decimals)))
        raise ControlError(
            f"{_shown(text)} could mean {read[0]} or {read[1]}: "
            "write the number without a thousands separator"
        )
    return point


def _within(control: Control, exact: Decimal, text: str) -> None:
    """ControlError if `exact` is out of the range or off the step."""
    low, high = control.minimum, control.maximum
    if low is not None and exact < Decimal(str(low)):
        raise ControlError(f"{text} is below the minimum, {_plain(low)}")
    if high is not None and exact > Decimal(str(high)):
        raise ControlError(f"{text} is above the maximum, {_plain(high)}")
    if control.step is not None:
        base = Decimal(str(low)) if low is not None else Decimal(0)
        steps = _EXACT.divide(_EXACT.subtract(exact, base), Decimal(str(control.step)))
        if steps != steps.to_integral_value():
            raise ControlError(
                f"{text} is not on the {_plain(control.step)} step from {_plain(base)}"
            )


def _switch(raw: str) -> bool:
    word = raw.strip().lower()
    if not word:
        raise ControlError("choose on or off (true or false)")
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ControlError(f"{_shown(raw)} is not on or off (true or false)")


def breaks(control: Control, value: JsonValue) -> str | None:
    """Why `value` (from the tree, or check()'s) does not fit the control; None if
    it does."""
    match control.kind:
        case "number":
            if isinstance(value, bool) or not isinstance(value, int | float):
                return f"{_value_text(value)} is not a number"
            try:
                float(value)
            except OverflowError:  # an int no float holds (a TOML hex `initial`)
                return f"{_value_text(value)} is too large for a number"
            try:
                exact = Decimal(str(value))
                if not exact.is_finite():
                    return f"{_value_text(value)} is not a finite number"
                _within(control, exact, _plain(exact))
            except ControlError as exc:
                return str(exc)
            return None
        case "switch":
            if isinstance(value, bool):
                return None
            return f"{_value_text(value)} is not on or off (true or false)"
        case "choice":
            if isinstance(value, str) and value in control.options:
                return None
            return f"{_value_text(value)} is not one of {', '.join(control.options)}"
        case _:
            return _text_breaks(control, value)


def set_elsewhere(control: Control, value: JsonValue) -> str | None:
    """Why a value found in the tree does not fit, as the web page says it under
    the control (breaks() speaks to the config's author): `Set elsewhere to
    "party", which is not one of the choices` (the buttons show them). None: it
    fits."""
    reason = breaks(control, value)
    if reason is None:
        return None
    said = shown(value)
    match control.kind:
        case "choice":
            why = "is not one of the choices"
        case "switch":
            why = "is neither on nor off"
        case "number" if _finite(value):
            # "40 is above the maximum, 25": the number as the check read it
            said, why = reason.split(" ", 1)
        case "number":
            if isinstance(value, float) and math.isinf(value):  # as the page shows it
                said = "Infinity" if value > 0 else "-Infinity"
            why = "is not a number"
        case _ if not isinstance(value, str):
            why = "is not a text"
        case _ if len(value) > control.max_length:
            return (
                f"Set elsewhere to a text of {len(value)} characters, more than "
                f"the {control.max_length} it takes"
            )
        case _:
            # "the text holds '\\n', a control character"
            return "Set elsewhere to a text that " + reason.removeprefix("the text ")
    return f"Set elsewhere to {said}, which {why}"


def _finite(value: JsonValue) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and Decimal(str(value)).is_finite()
    )


def _text_breaks(control: Control, value: JsonValue) -> str | None:
    if not isinstance(value, str):
        return f"{_value_text(value)} is not a text"
    if len(value) > control.max_length:
        return f"a text of {len(value)} characters, more than {control.max_length}"
    bad = next((c for c in value if _unwritable(c)), None)
    if bad is not None:
        return f"the text holds {bad!a}, a control character"
    return None


def _unwritable(char: str) -> bool:
    """A control character or a lone surrogate (no UTF-8 holds it)."""
    code = ord(char)
    return code < 0x20 or 0x7F <= code < 0xA0 or 0xD800 <= code < 0xE000


def _value_text(value: object) -> str:
    """A value as a reason quotes it: its JSON, cut. A config's `initial` may be a
    TOML date or time, which no JSON holds: named by its kind."""
    if isinstance(value, str):
        return _shown(value)
    if isinstance(value, datetime.date | datetime.time):
        kind = _TOML_KINDS.get(type(value), "a date or time")
        return f"{kind} {value.isoformat()}"
    try:
        text = json.dumps(value, ensure_ascii=True, allow_nan=True)
    except (TypeError, ValueError):  # a list that holds a date, say
        return shown(value)
    return text if len(text) <= 64 else text[:64] + "…"


def body_of(value: JsonValue) -> bytes:
    """The tree body that holds `value` (JSON, as raspy-kv set writes it)."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False).encode("utf-8")


def as_input(control: Control, value: JsonValue) -> str:
    """A value as a form field shows it, and check() takes back: the round trip."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float) and control.kind == "number":
        return str(value) if isinstance(value, int) else repr(value)
    if isinstance(value, str):
        return value
    return "" if value is None else json.dumps(value)


def default_label(key: str) -> str:
    """What the page shows for a control without a label: the key's last part,
    `_` and `-` as spaces, first letter capital (`/house/living/setpoint`: Setpoint)."""
    last = key.rstrip("/").rsplit("/", 1)[-1].replace("_", " ").replace("-", " ")
    return last[:1].upper() + last[1:] if last else key
