"""Templates in scenario strings: `{host}`, `{now}`, `{trigger.value}`, `{variable}`.

A tiny parser of our own: user text never reaches str.format (whose `{0.__class__}`
walks objects). `{{` and `}}` stand for literal braces; a field is a dotted name,
optionally with `:.Nf` (a number with N decimals: a DS18B20's 21.0625 as 21.1).
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Mapping
from datetime import datetime
from decimal import ROUND_HALF_UP, Context, Decimal
from typing import Final, NamedTuple

from raspy.devices.template import JsonValue
from raspy.errors import ScenarioError, quote
from raspy.rules.model import EvalContext

TRIGGER_FIELDS: Final = ("key", "value", "from", "id", "kind", "by")
BUILTIN_NAMES: Final = frozenset(
    {"host", "now", *(f"trigger.{f}" for f in TRIGGER_FIELDS)}
)
_NAME: Final = re.compile(
    r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*", re.ASCII
)
_DECIMALS: Final = re.compile(r"\.([0-9])f", re.ASCII)  # the one format: `:.Nf`


class Field(NamedTuple):
    """A `{name}` or `{name:.Nf}` of a template; `offset` of its `{`, 0-based."""

    name: str
    offset: int
    decimals: int | None = None  # a number is written with this many decimals

    def shown(self, value: JsonValue) -> str:
        """The value as text in a template: a string as itself, a number with the
        field's decimals, anything else as its JSON text."""
        number = _number(value)
        if self.decimals is not None and number is not None:
            return f"{rounded(number, self.decimals):f}"
        return as_text(value)

    def kept(self, value: JsonValue) -> JsonValue:
        """The value of a field that is a whole string alone: its JSON type kept, a
        number rounded to the field's decimals."""
        number = _number(value)
        if self.decimals is None or number is None:
            return value
        result = rounded(number, self.decimals)
        return int(result) if self.decimals == 0 else float(result)


def rounded(number: float, decimals: int) -> Decimal:
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


def _number(value: JsonValue) -> float | None:
    """A finite JSON number as a float; None for anything else (true is not a
    number, and Infinity or NaN, which Python's JSON reads, has no decimals)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:  # an int too large for a float: written as it is
        return None
    return number if math.isfinite(number) else None


class TemplateError(ScenarioError):
    """A template that cannot be parsed or names something unknown; `offset` is 0-based."""

    def __init__(self, reason: str, offset: int, text: str) -> None:
        self.reason = reason
        self.offset = offset
        self.text = text
        super().__init__(f"{reason} (at offset {offset} of {quote(text)})")


def parse(text: str) -> list[str | Field]:
    """Literal parts (str) and fields; raises TemplateError."""
    return list(_parsed(text))


@functools.lru_cache(maxsize=4096)  # the same few texts of loaded scenarios, again
def _parsed(text: str) -> tuple[str | Field, ...]:
    parts: list[str | Field] = []
    literal: list[str] = []
    position = 0
    while position < len(text):
        char = text[position]
        if char == "{" and text.startswith("{{", position):
            literal.append("{")
            position += 2
        elif char == "}" and text.startswith("}}", position):
            literal.append("}")
            position += 2
        elif char == "}":
            raise TemplateError("a lone '}' (write '}}' for a brace)", position, text)
        elif char == "{":
            end = text.find("}", position + 1)
            name, colon, spec = (
                text[position + 1 : end] if end >= 0 else ""
            ).partition(":")
            if end < 0 or not _NAME.fullmatch(name):
                inside = text[position + 1 : end].strip() if end >= 0 else ""
                raise TemplateError(
                    # a computation in braces (`{trigger.value * 10}`) is the
                    # likely slip: say where computing is done
                    f"{{{inside}}} is no field: a template names a value"
                    " ({trigger.value}) and computes none (the expr: of a set,"
                    " device, event or http action does)"
                    if _NAME.match(inside) and any(c in inside for c in "+-*/%()<>=")
                    else "'{' starts no {name} field (write '{{' for a brace)",
                    position,
                    text,
                )
            decimals = _DECIMALS.fullmatch(spec)
            if colon and decimals is None:
                raise TemplateError(
                    f"the format of {{{name}}} can only be :.Nf (N decimals, 0 to 9)",
                    position,
                    text,
                )
            if literal:
                parts.append("".join(literal))
                literal = []
            places = int(decimals.group(1)) if decimals is not None else None
            parts.append(Field(name, position, places))
            position = end + 1
        else:
            literal.append(char)
            position += 1
    if literal:
        parts.append("".join(literal))
    return tuple(parts)


def template_names(text: str) -> set[str]:
    """The names a template uses; raises TemplateError when it does not parse."""
    return {part.name for part in parse(text) if isinstance(part, Field)}


def check(text: str, known: set[str] | frozenset[str]) -> None:
    """Raise TemplateError at the first field naming something not in `known`."""
    for part in parse(text):
        if isinstance(part, Field) and part.name not in known:
            raise TemplateError(f"unknown name {quote(part.name)}", part.offset, text)


def render(text: str, names: Mapping[str, JsonValue]) -> str:
    """Fill in fields from `names` (flat, dotted keys); non-strings as their JSON text."""
    out: list[str] = []
    for part in _parsed(text):
        if isinstance(part, str):
            out.append(part)
            continue
        if part.name not in names:
            raise TemplateError(f"unknown name {quote(part.name)}", part.offset, text)
        out.append(part.shown(names[part.name]))
    return "".join(out)


def render_value(value: JsonValue, names: Mapping[str, JsonValue]) -> JsonValue:
    """A JSON value with every string in it rendered (keys of objects stay as written)."""
    if isinstance(value, str):
        return render(value, names)
    if isinstance(value, list):
        return [render_value(item, names) for item in value]
    if isinstance(value, dict):
        return {key: render_value(item, names) for key, item in value.items()}
    return value


def value_strings(value: JsonValue) -> list[str]:
    """Every string inside a JSON value (what render_value renders)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [text for item in value for text in value_strings(item)]
    if isinstance(value, dict):
        return [text for item in value.values() for text in value_strings(item)]
    return []


def as_text(value: JsonValue) -> str:
    """A string as itself, anything else as its JSON text (true, 19.5, null, [1])."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def render_in(text: str, context: EvalContext) -> str:
    """render(text, context_names(context)), computing only the names it uses."""
    if "{" not in text and "}" not in text:
        return text
    out: list[str] = []
    for part in _parsed(text):
        if isinstance(part, str):
            out.append(part)
            continue
        name = part.name
        if name == "host":
            value: JsonValue = context.host
        elif name == "now":
            value = _now_text(context)
        elif name.startswith("trigger.") and name[8:] in TRIGGER_FIELDS:
            value = context.trigger.get(name[8:])
        elif name in context.variables:
            value = context.variables[name]
        else:
            raise TemplateError(f"unknown name {quote(name)}", part.offset, text)
        out.append(part.shown(value))
    return "".join(out)


def _now_text(context: EvalContext) -> str:
    return datetime.fromtimestamp(context.wall_ts, context.tz).isoformat(
        timespec="seconds"
    )


def context_names(context: EvalContext) -> dict[str, JsonValue]:
    """The names a template sees at run time: host, now (local ISO time), trigger.*,
    variables (a variable never hides a built-in name)."""
    names: dict[str, JsonValue] = dict(context.variables)
    names["host"] = context.host
    names["now"] = _now_text(context)
    for field in TRIGGER_FIELDS:
        names[f"trigger.{field}"] = context.trigger.get(field)
    return names
