"""Durations in scenario documents: `90s`, `5m`, `1h30m`, `2d`, `1.5s` or a number.

Pure parsing; raises ValueError with the text that was found. Units go from large to
small, each at most once (`1h 5m`, never `5m 1h`); spaces between parts are allowed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Final

from raspy.errors import quote

MAX_DURATION_S: Final = 366 * 86_400.0  # a year: nothing in a house waits longer
_UNITS: Final = {"d": 86_400.0, "h": 3_600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_ORDER: Final = ("d", "h", "m", "s", "ms")
_PART: Final = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(ms|d|h|m|s)\s*", re.ASCII)
_NUMBER: Final = re.compile(r"\s*\d+(?:\.\d+)?\s*", re.ASCII)


def parse_duration(value: object) -> float:
    """Seconds of a duration ≥ 0; raises ValueError naming what was found."""
    return _checked(_magnitude(value, signed=False), value)


# dashes that look like the minus of an offset, as a phone's keyboard, a word
# processor or a web page writes them (U+2212 15m was told "a bad duration")
_DASHES: Final = {
    "\u2212": "a minus sign (U+2212)",
    "\u2010": "a hyphen (U+2010)",
    "\u2011": "a non-breaking hyphen (U+2011)",
    "\u2012": "a figure dash (U+2012)",
    "\u2013": "an en dash (U+2013)",
    "\u2014": "an em dash (U+2014)",
    "\ufe63": "a small hyphen-minus (U+FE63)",
    "\uff0d": "a fullwidth hyphen-minus (U+FF0D)",
}


def parse_offset(value: object) -> float:
    """Seconds of a signed offset (`-15m`, `+1h`, `30s`, -900), e.g. for sun triggers.
    A refusal says offset, not duration, with raspy's form when the text is an
    offset in other words (`30m before`, `-1h -30m`)."""
    if isinstance(value, str):
        text = value.strip()
        if text[:1] in _DASHES:
            raise ValueError(_dash_refusal(value, text))
        sign = text[:1] if text[:1] in ("-", "+") else ""
        try:
            seconds = _checked(_magnitude(text[len(sign) :], signed=True), value)
        except ValueError as exc:
            raise ValueError(_offset_refusal(value, text, sign)) from exc
        return -seconds if sign == "-" else seconds
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{_OFFSET_LIKE}, got {_shown(value)}")
    if isinstance(value, float) and not math.isfinite(value):  # inf, nan
        raise ValueError(f"{_OFFSET_LIKE}, got {_shown(value)}")
    if abs(value) > MAX_DURATION_S:  # (float() of a huge int overflows)
        raise ValueError(f"offset too long (at most 366d), got {_shown(value)}")
    return float(value)


def _magnitude(value: object, *, signed: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(
            f"expected a duration like 90s, 5m or 1h30m, got {_shown(value)}"
        )
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"expected a finite duration, got {value}")
        if value < 0:
            raise ValueError(f"expected a duration ≥ 0, got {_shown(value)}")
        if value > MAX_DURATION_S:
            raise ValueError(_too_long(value))
        return float(value)
    return _parse_text(value, signed=signed)


def _parse_text(text: str, *, signed: bool) -> float:
    if not text.strip():
        raise ValueError("expected a duration like 90s, 5m or 1h30m, got ''")
    if _NUMBER.fullmatch(text):
        return float(text)
    if ":" in text:
        raise ValueError(_clock_hint(text.strip()))
    if text.strip().startswith("-") and not signed:
        raise ValueError(f"expected a duration ≥ 0, got {quote(text)}")
    total = 0.0
    position = 0
    last_rank = -1
    while position < len(text):
        match = _PART.match(text, position)
        if match is None:
            raise ValueError(
                f"expected a duration like 90s, 5m or 1h30m, got {quote(text)}"
                + _word_hint(text)
            )
        rank = _ORDER.index(match.group(2))
        if rank <= last_rank:
            raise ValueError(
                f"duration units go from large to small, each once (d h m s ms), "
                f"got {quote(text)}"
            )
        last_rank = rank
        total += float(match.group(1)) * _UNITS[match.group(2)]
        position = match.end()
    return total


def _clock_hint(text: str) -> str:
    """The refusal of a duration written as a clock (`00:03:00`, Home Assistant's
    form, or a bare `1:30`, which YAML 1.1 reads as the number 90): raspy's own
    form for it, or both when it is not known whether `1:30` is minutes or hours."""
    got = f"expected a duration like 90s, 5m or 1h30m, got {quote(text)}"
    forms = _clock_forms(text)
    return (
        got if forms is None else f"{got} (a clock's time: write {' or '.join(forms)})"
    )


_OFFSET_LIKE: Final = "expected an offset like -15m or 30s"


def _offset_refusal(value: str, text: str, sign: str) -> str:
    """The refusal of an offset (`sign`: its own, or none) with raspy's form for
    it: one written as a clock (`-00:30`) is told `write -30m`, one in words
    (`30m before`, `-30min`) or signed part by part (`-1h -30m`) likewise."""
    got = f"{_OFFSET_LIKE}, got {quote(value)}"
    body = text[len(sign) :]
    if _too_long_text(body):
        return f"offset too long (at most 366d), got {quote(value)}"
    minus = "-" if sign == "-" else ""
    forms = _clock_forms(body.strip())
    if forms is not None:
        return f"{got} (a clock's time: write {' or '.join(minus + f for f in forms)})"
    hint = _word_hint(body, minus) or _parts_hint(text)
    if not sign:
        hint = hint or _before_after_hint(text)
    return got + hint


def _too_long_text(text: str) -> bool:
    """Whether `text` is a duration, but longer than any raspy takes."""
    try:
        seconds = _magnitude(text, signed=True)
    except ValueError:
        return False
    return not seconds <= MAX_DURATION_S


# `30m before`, `1 hour after`: a sun offset in words; before the event is a minus
_BEFORE_AFTER: Final = re.compile(r"(.+?)\s+(before|after)", re.IGNORECASE)


def _before_after_hint(text: str) -> str:
    """` (write -30m)` for `30m before`, ` (write 30m)` for `30m after`, else
    nothing."""
    match = _BEFORE_AFTER.fullmatch(text)
    if match is None:
        return ""
    minus = "-" if match.group(2).lower() == "before" else ""
    amount = match.group(1)
    try:
        return f" (write {minus}{_written(parse_duration(amount))})"
    except ValueError:
        return _word_hint(amount, minus)


# one part of an offset signed on its own (`-1h -30m`): raspy signs the whole once
_SIGNED_PART: Final = re.compile(
    r"\s*([-+]?)\s*(\d+(?:\.\d+)?)\s*(ms|d|h|m|s)\s*", re.ASCII
)


def _parts_hint(text: str) -> str:
    """` (write -1h30m)` for an offset whose parts after the first are signed
    too (`-1h -30m`, `+1h +5m`): their sum, signed once; else nothing."""
    total, position, signs = 0.0, 0, 0
    while position < len(text):
        match = _SIGNED_PART.match(text, position)
        if match is None:
            return ""
        sign, amount, unit = match.groups()
        signs += bool(sign) and position > 0
        seconds = float(amount) * _UNITS[unit]
        total += -seconds if sign == "-" else seconds
        position = match.end()
    if not signs or not total or abs(total) > MAX_DURATION_S:
        return ""
    return f" (write {'-' if total < 0 else ''}{_written(abs(total))})"


def _dash_refusal(value: str, text: str) -> str:
    """The refusal of an offset whose sign is a dash that only looks like `-`
    (the two read alike in the error, so it says which it is), with the offset to
    write when the rest is one."""
    got = f"expected an offset like -15m or 30s, got {quote(value)}"
    dash = _DASHES[text[0]]
    try:
        parse_duration(text[1:])
    except ValueError:
        return f"{got} (its sign is {dash}, not '-')"
    return f"{got} (its sign is {dash}, not '-': write -{text[1:].strip()})"


# a unit spelled out, as crontab users and other hubs write it (`5 minutes`, `30min`)
_WORD_UNIT: Final = re.compile(
    r"\s*(\d+(?:\.\d+)?)\s*(days?|hours?|hrs?|minutes?|mins?|seconds?|secs?"
    r"|milliseconds?|msecs?)\s*",
    re.ASCII | re.IGNORECASE,
)


def _word_hint(text: str, sign: str = "") -> str:
    """` (write 5m)` for one number with a unit spelled out, else nothing."""
    match = _WORD_UNIT.fullmatch(text)
    if match is None:
        return ""
    word = match.group(2).lower()
    if word.startswith(("mil", "ms")):
        unit = "ms"
    elif word.startswith("mi"):
        unit = "m"
    else:
        unit = word[0]
    return f" (write {sign}{match.group(1)}{unit})"


def _clock_forms(text: str) -> tuple[str, ...] | None:
    """raspy's forms of a duration written as a clock, both when `1:30` may be
    hours or minutes; None for a text that is no clock."""
    parts = text.split(":")
    if not all(
        part.isdigit() and part.isascii() and len(part) <= _CLOCK_DIGITS
        for part in parts
    ) or not (2 <= len(parts) <= 3):
        return None
    numbers = [int(part) for part in parts]
    if len(parts) == 2:
        first, second = numbers
        return _spelled(first * 3600 + second * 60), _spelled(first * 60 + second)
    return (_spelled(numbers[0] * 3600 + numbers[1] * 60 + numbers[2]),)


_CLOCK_DIGITS: Final = 6  # a clock's part longer than this is no clock
# Home Assistant writes a duration as a mapping too (`for: {minutes: 5}`)
_HA_UNITS: Final = {
    "days": 86_400.0,
    "hours": 3600.0,
    "minutes": 60.0,
    "seconds": 1.0,
    "milliseconds": 0.001,
}
_HA_LIMIT: Final = MAX_DURATION_S * 1000  # the most of any unit that can be in range
_HA_FORM: Final = "a mapping of units is Home Assistant's form"


def mapping_hint(
    mapping: dict[str, object], *, signed: bool = False, slip: str | None = None
) -> str | None:
    """The refusal of Home Assistant's duration mapping (`{minutes: 5}`, `{hours: 1,
    minutes: 30}`) with raspy's form for it; None for any other mapping. `signed`:
    an offset's (`{minutes: -15}` is -15m; elsewhere a negative amount is
    refused as a negative duration is). `slip`: what YAML misread of an
    amount (`a bare 010 is YAML's octal number 8`), said first, the mapping's
    amounts being as they look (`{seconds: 010}` is told `write 10s`)."""
    if not mapping or not set(mapping) <= set(_HA_UNITS):
        return None
    amounts: dict[str, int | float] = {}
    for unit, amount in mapping.items():
        if isinstance(amount, bool) or not isinstance(amount, int | float):
            return None
        amounts[unit] = amount
    total = 0.0
    for unit, amount in amounts.items():
        if amount < 0 and not signed:  # was told `unknown key 'seconds'`
            return f"expected a duration ≥ 0, got {unit}: {_shown(amount)} ({_HA_FORM})"
        if not abs(amount) <= _HA_LIMIT:  # inf, nan; float() of a huge int overflows
            return f"duration too long (at most 366d), got a mapping with {unit}"
        total += amount * _HA_UNITS[unit]
    if abs(total) > MAX_DURATION_S:
        return f"duration too long (at most 366d), got a mapping of {abs(total):g}s"
    sign, total = ("-" if total < 0 else ""), abs(total)
    written = _written(total)
    if slip is not None:
        return f"{slip}: write {sign}{written} ({_HA_FORM})"
    expected = (
        "an offset like -15m or 30s" if signed else "a duration like 90s, 5m or 1h30m"
    )
    return (
        f"expected {expected}, got a mapping (Home Assistant's form: write "
        f"{sign}{written})"
    )


# the parsers of a document's fields that take a duration (True: a signed offset),
# whose refusal of a mapping tells Home Assistant's form: a field's own parser
# (an `every:`'s floor, a sun offset's ±12h) is marked with `duration_field`
DURATION_FIELDS: Final[dict[object, bool]] = {}


def duration_field(
    parse: Callable[[object], float], *, signed: bool = False
) -> Callable[[object], float]:
    """Mark `parse` as a duration field's parser (see DURATION_FIELDS)."""
    DURATION_FIELDS[parse] = signed
    return parse


def spelled_offset(seconds: float) -> str:
    """A signed offset as a document writes it: -900 is -15m, 5400 is +1h30m."""
    whole = round(seconds)
    return ("-" if whole < 0 else "+") + _spelled(abs(whole))


def _written(seconds: float) -> str:
    """Seconds ≥ 0 as a duration is written: 5400 is 1h30m, 1.75 is 1.75s."""
    whole = round(seconds)
    if abs(seconds - whole) < 1e-9:
        return _spelled(whole)
    return f"{round(seconds * 1000):d}ms" if seconds < 1 else f"{seconds:g}s"


def _spelled(seconds: int) -> str:
    """Whole seconds as a duration is written: 5400 is 1h30m."""
    parts = (
        (seconds // 86_400, "d"),
        (seconds % 86_400 // 3600, "h"),
        (seconds % 3600 // 60, "m"),
        (seconds % 60, "s"),
    )
    return "".join(f"{amount}{unit}" for amount, unit in parts if amount) or "0s"


def _checked(seconds: float, value: object) -> float:
    if not math.isfinite(seconds) or seconds > MAX_DURATION_S:
        raise ValueError(_too_long(value))
    return seconds


def _too_long(value: object) -> str:
    return f"duration too long (at most 366d), got {_shown(value)}"


def _shown(value: object) -> str:
    if isinstance(value, str):
        return quote(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        try:
            text = str(value)
        except ValueError:  # an int past Python's digit limit
            return "a number of over 4300 digits"
        return text if len(text) <= 24 else f"a number of {len(text)} characters"
    if isinstance(value, list | dict):
        return "a list" if isinstance(value, list) else "a mapping"
    return "a value"  # (a document's unreadable number, never a class's name)


duration_field(parse_duration)
duration_field(parse_offset, signed=True)
