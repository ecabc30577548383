"""Templates in scenario strings: `{host}`, `{now}`, `{trigger.value}`, `{variable}`.

A tiny parser of our own: user text never reaches str.format (whose `{0.__class__}`
walks objects). `{{` and `}}` stand for literal braces; a field is a dotted name only.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Final

from raspy.devices.template import JsonValue
from raspy.errors import ScenarioError, quote
from raspy.rules.model import EvalContext

TRIGGER_FIELDS: Final = ("key", "value", "from", "id", "kind")
BUILTIN_NAMES: Final = frozenset(
    {"host", "now", *(f"trigger.{f}" for f in TRIGGER_FIELDS)}
)
_NAME: Final = re.compile(
    r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*", re.ASCII
)


class TemplateError(ScenarioError):
    """A template that cannot be parsed or names something unknown; `offset` is 0-based."""

    def __init__(self, reason: str, offset: int, text: str) -> None:
        self.reason = reason
        self.offset = offset
        self.text = text
        super().__init__(f"{reason} (at offset {offset} of {quote(text)})")


def parse(text: str) -> list[str | tuple[str, int]]:
    """Literal parts (str) and fields ((name, offset)); raises TemplateError."""
    return list(_parsed(text))


@functools.lru_cache(maxsize=4096)  # the same few texts of loaded scenarios, again
def _parsed(text: str) -> tuple[str | tuple[str, int], ...]:
    parts: list[str | tuple[str, int]] = []
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
            name = text[position + 1 : end] if end >= 0 else ""
            if end < 0 or not _NAME.fullmatch(name):
                raise TemplateError(
                    "'{' starts no {name} field (write '{{' for a brace)",
                    position,
                    text,
                )
            if literal:
                parts.append("".join(literal))
                literal = []
            parts.append((name, position))
            position = end + 1
        else:
            literal.append(char)
            position += 1
    if literal:
        parts.append("".join(literal))
    return tuple(parts)


def template_names(text: str) -> set[str]:
    """The names a template uses; raises TemplateError when it does not parse."""
    return {part[0] for part in parse(text) if isinstance(part, tuple)}


def check(text: str, known: set[str] | frozenset[str]) -> None:
    """Raise TemplateError at the first field naming something not in `known`."""
    for part in parse(text):
        if isinstance(part, tuple) and part[0] not in known:
            raise TemplateError(f"unknown name {quote(part[0])}", part[1], text)


def render(text: str, names: Mapping[str, JsonValue]) -> str:
    """Fill in fields from `names` (flat, dotted keys); non-strings as their JSON text."""
    out: list[str] = []
    for part in _parsed(text):
        if isinstance(part, str):
            out.append(part)
            continue
        name, offset = part
        if name not in names:
            raise TemplateError(f"unknown name {quote(name)}", offset, text)
        out.append(as_text(names[name]))
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
        name, offset = part
        if name == "host":
            value: JsonValue = context.host
        elif name == "now":
            value = _now_text(context)
        elif name.startswith("trigger.") and name[8:] in TRIGGER_FIELDS:
            value = context.trigger.get(name[8:])
        elif name in context.variables:
            value = context.variables[name]
        else:
            raise TemplateError(f"unknown name {quote(name)}", offset, text)
        out.append(as_text(value))
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
