"""The only functions an expression may call (an allow-list), and their checks.

Clock-based functions read `context.wall_ts` in `context.tz`: nothing here reads a clock,
and `random()` takes its numbers from `context.rng`, never from a source of its own.
Functions raise expr_values.Fault; the calling node adds the offset.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Final

from raspy.devices.template import JsonValue
from raspy.records import frozen
from raspy.rules import template, template_field
from raspy.rules.expr_values import (
    MAX_STRING,
    Fault,
    checked_number,
    describe,
    is_number,
    number,
)
from raspy.rules.model import EvalContext, SunEvent, uniform
from raspy.rules.time_format import TimeFormat, TimeFormatError, parse_time_format

# what a unit of work (expr_values.Work) is worth, as measured: min() and max()
# check and pick each item in two units; str() writes CHARS_PER_UNIT characters
# a unit; kv() decodes BYTES_PER_UNIT bytes of the key's JSON a unit (a list of
# small numbers, `0, 0, 0`, about 0.9 µs; of readings such as 21.5, 0.2 µs;
# of objects, 0.7 µs: the worst of them is near the unit's half to one µs)
PICK_UNITS: Final = 2
CHARS_PER_UNIT: Final = 16
BYTES_PER_UNIT: Final = 16
_CLOCK: Final = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?", re.ASCII)
_SUN_EVENTS: Final = ", ".join(event.value for event in SunEvent)


@frozen
class Function:
    """`check` sees each literal argument at compile time (by its index);
    `check_all` all of them together, when every argument is a literal. `counts`,
    when given, are the only numbers of arguments allowed within min..max. `clock`:
    its value moves with the clock alone (a `when:` that calls it is re-tested each
    minute)."""

    name: str
    min_args: int
    max_args: int
    run: Callable[[EvalContext, Sequence[JsonValue]], JsonValue]
    check: Callable[[int, JsonValue], None] | None = None
    check_all: Callable[[Sequence[JsonValue]], None] | None = None
    counts: tuple[int, ...] = ()
    clock: bool = False


def seconds_of_day(text: JsonValue, what: str) -> int:
    """ "HH:MM" or "HH:MM:SS" as seconds since midnight, or a Fault."""
    match = _CLOCK.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise Fault(
            f"{what} needs a time like '06:30' or '23:15:00', got {describe(text)}"
        )
    hours, minutes, seconds = match.group(1, 2, 3)
    return int(hours) * 3600 + int(minutes) * 60 + int(seconds or 0)


def _local(context: EvalContext) -> datetime:
    return datetime.fromtimestamp(context.wall_ts, context.tz)


def _kv(context: EvalContext, args: Sequence[JsonValue]) -> JsonValue:
    key = args[0]
    if not isinstance(key, str):
        raise Fault(f"kv() needs a key string, got {describe(key)}")
    try:
        rendered = template.render_in(key, context)
    except template.TemplateError as exc:
        raise Fault(f"kv() key: {exc.reason}") from None
    # the work of reading it from the tree, charged before its JSON is decoded:
    # the body's length is known at once, at any depth (a list of one list of
    # 12,960 numbers was charged by its outside alone: nothing)
    context.work.charge(context.kv_size(rendered) // BYTES_PER_UNIT)
    return context.kv(rendered)


def _check_kv(_index: int, key: JsonValue) -> None:
    if not isinstance(key, str):
        raise Fault(f"kv() needs a key string, got {describe(key)}")
    try:
        template.parse(key)
    except template.TemplateError as exc:
        raise Fault(f"kv() key: {exc.reason}") from None


def _between(context: EvalContext, args: Sequence[JsonValue]) -> JsonValue:
    start = seconds_of_day(args[0], "between()")
    end = seconds_of_day(args[1], "between()")
    local = _local(context)
    now = local.hour * 3600 + local.minute * 60 + local.second
    if start <= end:
        return start <= now < end
    return now >= start or now < end  # the window wraps midnight


def _sun(context: EvalContext, args: Sequence[JsonValue]) -> JsonValue:
    return context.sun(_sun_event(args[0]), context.wall_ts)


def _sun_up(context: EvalContext, _args: Sequence[JsonValue]) -> JsonValue:
    return context.sun_up(context.wall_ts)


def _sun_event(value: JsonValue) -> SunEvent:
    if isinstance(value, str) and value in SunEvent.__members__.values():
        return SunEvent(value)
    raise Fault(f"sun() needs one of {_SUN_EVENTS}, got {describe(value)}")


def _check_sun(_index: int, value: JsonValue) -> None:
    _sun_event(value)


def _check_clock(_index: int, value: JsonValue) -> None:
    seconds_of_day(value, "between()")


def _round(_context: EvalContext, args: Sequence[JsonValue]) -> JsonValue:
    """A half away from zero, as `{x:.Nf}` in a template (raspy.rules.template_field)."""
    value = number(args[0], "round()")
    digits = args[1] if len(args) > 1 else 0
    if (
        not isinstance(digits, int)
        or isinstance(digits, bool)
        or not -15 <= digits <= 15
    ):
        raise Fault(f"round() needs digits from -15 to 15, got {describe(digits)}")
    # (an int is finite: isfinite() of one no float holds raises OverflowError)
    if isinstance(value, float) and not math.isfinite(value):
        raise Fault("the result is out of range")
    result = template_field.rounded(value, digits)
    if len(args) == 1 or isinstance(value, int):
        return checked_number(int(result))
    return checked_number(float(result))


def _plain_number_text(text: str) -> bool:
    """What an expression's own number literals allow: ASCII, no `_` (Python's
    int() and float() also read '1_000' and other scripts' digits, such as '١٢')."""
    return text.isascii() and "_" not in text


def _int(_context: EvalContext, args: Sequence[JsonValue]) -> JsonValue:
    value = args[0]
    if isinstance(value, str):
        try:
            if len(value) > 40 or not _plain_number_text(value):
                raise ValueError(value)
            return checked_number(int(value.strip()))
        except ValueError:
            raise Fault(f"int() cannot read {describe(value)}") from None
    whole = number(value, "int()")
    if isinstance(whole, float) and not math.isfinite(whole):
        raise Fault("int() needs a finite number")
    return checked_number(int(whole))


def _float(_context: EvalContext, args: Sequence[JsonValue]) -> JsonValue:
    value = args[0]
    if isinstance(value, str):
        try:
            if len(value) > 400 or not _plain_number_text(value):
                raise ValueError(value)
            return checked_number(float(value.strip()))
        except (ValueError, OverflowError):
            raise Fault(f"float() cannot read {describe(value)}") from None
        except Fault:
            raise Fault(f"float() cannot read {describe(value)}") from None
    try:
        return checked_number(float(number(value, "float()")))
    except OverflowError:
        raise Fault("the result is out of range") from None


def _len(_context: EvalContext, args: Sequence[JsonValue]) -> JsonValue:
    value = args[0]
    if isinstance(value, str | list | dict):
        return len(value)
    raise Fault(f"len() needs a string, list or object, got {describe(value)}")


def _extreme(name: str) -> Callable[[EvalContext, Sequence[JsonValue]], JsonValue]:
    pick = min if name == "min" else max

    def run(context: EvalContext, args: Sequence[JsonValue]) -> JsonValue:
        items = args[0] if len(args) == 1 and isinstance(args[0], list) else list(args)
        context.work.charge(len(items) * PICK_UNITS)
        if not items:
            raise Fault(f"{name}() of an empty list")
        if all(is_number(item) for item in items):
            return pick(number(item, name) for item in items)
        if all(isinstance(item, str) for item in items):
            return pick(str(item) for item in items)
        raise Fault(f"{name}() needs all numbers or all strings")

    return run


def _abs(_context: EvalContext, args: Sequence[JsonValue]) -> JsonValue:
    return checked_number(abs(number(args[0], "abs()")))


def _str(context: EvalContext, args: Sequence[JsonValue]) -> JsonValue:
    """At most MAX_STRING characters, as a joined string is: a list's or an
    object's JSON text is written piece by piece, given up once past that. A value
    that is or holds a number JSON has not (`kv()` of a key `1e400`) is a fault,
    as in a template: no `Infinity` in a text."""
    value = args[0]
    pieces = (
        [value]
        if isinstance(value, str)
        else template_field.JSON_TEXT.iterencode(value)
    )
    text: list[str] = []
    length = 0
    try:
        for piece in pieces:
            length += len(piece)
            if length > MAX_STRING:
                raise Fault(f"str() gives text longer than {MAX_STRING} characters")
            text.append(piece)
    except ValueError:
        raise Fault("str() of a number that is not finite") from None
    context.work.charge(length // CHARS_PER_UNIT)  # after: it is bounded
    return "".join(text)


def _random(context: EvalContext, args: Sequence[JsonValue]) -> JsonValue:
    """random(): a float in [0, 1); random(a, b): a float uniform in [a, b]."""
    if not args:
        return context.rng.random()
    # an integer bound past 2**53 is the float nearest to it
    try:
        low, high = (float(bound) for bound in _random_bounds(args))
    except OverflowError:  # a variable's integer no float holds
        raise Fault(
            "random() needs numbers a float holds, got a large number"
        ) from None
    return checked_number(uniform(context.rng, low, high))


def _random_bounds(args: Sequence[JsonValue]) -> tuple[int | float, int | float]:
    low, high = number(args[0], "random()"), number(args[1], "random()")
    if low > high:
        raise Fault(
            f"random(a, b) needs a <= b, got {describe(low)} > {describe(high)}"
        )
    return low, high


def _check_random_arg(_index: int, value: JsonValue) -> None:
    number(value, "random()")


def _check_random(args: Sequence[JsonValue]) -> None:
    if args:
        _random_bounds(args)


def _now(context: EvalContext, _args: Sequence[JsonValue]) -> JsonValue:
    return context.wall_ts


def _weekday(context: EvalContext, _args: Sequence[JsonValue]) -> JsonValue:
    return _local(context).isoweekday()


def _hour(context: EvalContext, _args: Sequence[JsonValue]) -> JsonValue:
    return _local(context).hour


def _minute(context: EvalContext, _args: Sequence[JsonValue]) -> JsonValue:
    return _local(context).minute


def _time_text(context: EvalContext, args: Sequence[JsonValue]) -> JsonValue:
    """time_text(t, '%H:%M'): epoch seconds as local time, as a template's
    `{t:%H:%M}` writes them; anything but a time a calendar shows is a fault."""
    clock = _time_format(args[1])
    when = args[0]
    if not is_number(when):
        raise Fault(f"time_text() needs a time (epoch seconds), got {describe(when)}")
    written = clock.text(number(when, "time_text()"), context.tz)
    if written is None:
        raise Fault(f"time_text() cannot show {describe(when)} as a time")
    return written


def _time_format(value: JsonValue) -> TimeFormat:
    if not isinstance(value, str):
        raise Fault(
            f"time_text() needs a format such as '%H:%M', got {describe(value)}"
        )
    try:
        return parse_time_format(value)
    except TimeFormatError as exc:
        raise Fault(f"time_text() format: {exc.reason}") from None


def _check_time_text(index: int, value: JsonValue) -> None:
    if index == 1:
        _time_format(value)


FUNCTIONS: Final[dict[str, Function]] = {
    f.name: f
    for f in (
        Function("kv", 1, 1, _kv, _check_kv),
        Function("now", 0, 0, _now, clock=True),
        Function("between", 2, 2, _between, _check_clock, clock=True),
        Function("weekday", 0, 0, _weekday, clock=True),
        Function("hour", 0, 0, _hour, clock=True),
        Function("minute", 0, 0, _minute, clock=True),
        Function("sun", 1, 1, _sun, _check_sun, clock=True),
        Function("sun_up", 0, 0, _sun_up, clock=True),
        Function("abs", 1, 1, _abs),
        Function("min", 1, 16, _extreme("min")),
        Function("max", 1, 16, _extreme("max")),
        Function("round", 1, 2, _round),
        Function("int", 1, 1, _int),
        Function("float", 1, 1, _float),
        Function("str", 1, 1, _str),
        Function("len", 1, 1, _len),
        Function("time_text", 2, 2, _time_text, _check_time_text),
        Function(
            "random", 0, 2, _random, _check_random_arg, _check_random, counts=(0, 2)
        ),
    )
}
# the functions whose value moves with the clock alone (time_text(t) does not)
TIME_FUNCTIONS: Final = frozenset(name for name, f in FUNCTIONS.items() if f.clock)
