"""A template's field and how it writes a value (raspy.rules.template parses them).

`:.Nf` rounds a number to N decimals, a half away from zero; a time format (`:%H:%M`)
writes epoch seconds as a local time in the zone it is given (rules.time_format);
anything else is a string as itself or its JSON text; a number JSON has not
(Infinity, NaN: a tree value `1e400` reads as one) is no text (NotFinite).
"""

from __future__ import annotations

import json
import math
from datetime import tzinfo
from decimal import ROUND_HALF_UP, Context, Decimal
from typing import Final, NamedTuple

from raspy.devices.template import JsonValue
from raspy.rules.expr_values import INT_LIMIT
from raspy.rules.time_format import TimeFormat


class NotFinite(ValueError):
    """A value that is or holds a number JSON has not, which a text never writes:
    `Infinity` is no number a reader takes, and everywhere else such a number
    fails the action (raspy.rules.template says which field)."""


class Field(NamedTuple):
    """A `{name}`, `{name:.Nf}` or `{name:%H:%M}` of a template; `offset` of its
    `{`, 0-based."""

    name: str
    offset: int
    decimals: int | None = None  # a number is written with this many decimals
    clock: TimeFormat | None = None  # a number (epoch s) is written as a local time

    def shown(self, value: JsonValue, tz: tzinfo | None = None) -> str:
        """The value as text in a template: a string as itself, a number with the
        field's decimals or as a time in `tz` (a number past what a calendar shows:
        as itself), anything else as its JSON text."""
        number = finite_number(value)
        if number is not None and self.decimals is not None:
            return f"{rounded(number, self.decimals):f}"
        written = self._time(number, tz)
        return as_text(value) if written is None else written

    def kept(self, value: JsonValue, tz: tzinfo | None = None) -> JsonValue:
        """The value of a field that is a whole string alone: its JSON type kept, a
        number rounded to the field's decimals; a time format gives text."""
        number = finite_number(value)
        if number is None or (self.decimals is None and self.clock is None):
            return value
        if self.clock is not None:
            written = self._time(number, tz)
            return value if written is None else written
        assert self.decimals is not None  # one of the two formats
        result = rounded(number, self.decimals)
        if self.decimals == 0 and -INT_LIMIT <= result <= INT_LIMIT:
            return int(result)
        # a whole number past ±2**63 (1e300 with :.0f) stays the float it was:
        # as an int it wrote 301 digits no JSON reader but Python's takes whole
        return float(result)

    def _time(self, number: int | float | None, tz: tzinfo | None) -> str | None:
        """`number` as the field's time in `tz`; None without a time format, for no
        number, or past what a calendar shows."""
        if self.clock is None or number is None:
            return None
        if tz is None:  # callers take the zone from Names (render's _zone)
            raise ValueError(f"the time format of {{{self.name}}} needs a zone")
        return self.clock.text(number, tz)


def rounded(number: int | float, decimals: int) -> Decimal:
    """`number` to `decimals` places (negative: tens, hundreds, ...), a half away
    from zero as people round (20.5 is 21, where Python's round and format go to
    even: 20), on the float's exact value (2.675 is stored as 2.67499..., so 2.67);
    never a negative zero."""
    exact = Decimal(number)
    # every digit of the result: no context's default precision cuts a big number
    digits = max(exact.adjusted(), 0) + max(decimals, 0) + 2
    step = Decimal(1).scaleb(-decimals)
    result = exact.quantize(step, rounding=ROUND_HALF_UP, context=Context(prec=digits))
    return abs(result) if result.is_zero() else result


def finite_number(value: JsonValue) -> int | float | None:
    """A finite JSON number, an int kept whole (as a float 9007199254740993 was
    ...992); None for anything else (true is not a number, and Infinity or NaN,
    which Python's JSON reads, has no decimals)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:  # an int too large for a float: written as it is
        return None
    if not math.isfinite(number):
        return None
    return value


# a value's JSON text in a text (as_text; str() and len() in expressions, in pieces)
JSON_TEXT: Final = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, separators=(",", ":")
)


def as_text(value: JsonValue) -> str:
    """A string as itself, anything else as its JSON text (true, 19.5, null, [1]);
    NotFinite for a value that is or holds an infinity or NaN."""
    if isinstance(value, str):
        return value
    try:
        return JSON_TEXT.encode(value)
    except ValueError:
        raise NotFinite("a number that is not finite") from None
