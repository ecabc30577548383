"""Templates in scenario strings: `{host}`, `{now}`, `{trigger.value}`, `{variable}`.

A tiny parser of our own: user text never reaches str.format (whose `{0.__class__}`
walks objects). `{{` and `}}` stand for literal braces; a field is a dotted name,
optionally with `:.Nf` (a number with N decimals: a DS18B20's 21.0625 as 21.1) or a
time format `:%H:%M` (epoch seconds as the hub's local time, rules.time_format); how a
field writes its value is rules.template_field.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from datetime import datetime, tzinfo
from typing import Final

from raspy.devices.template import JsonValue
from raspy.errors import ScenarioError, quote
from raspy.rules.model import OUTSIDE_REPEAT, EvalContext
from raspy.rules.template_field import Field, NotFinite, finite_number
from raspy.rules.time_format import TimeFormat, TimeFormatError, parse_time_format

TRIGGER_FIELDS: Final = ("key", "value", "from", "id", "kind", "by", "since", "tried")
BUILTIN_NAMES: Final = frozenset(
    {"host", "now", *(f"trigger.{f}" for f in TRIGGER_FIELDS)}
)
# the pass of the innermost repeat, from 1: a name only inside a repeat's actions
REPEAT_INDEX: Final = "repeat.index"
# `{secret.NAME}`: a value of the secrets file ([http_client] secrets_file), filled
# in only where an `http:` action sends it (its url, headers and body)
SECRET_PREFIX: Final = "secret."  # noqa: S105  # a field's name, no secret
ONLY_IN_HTTP: Final = (
    "a secret ({secret.NAME}) may be used only in an http action's url, headers"
    " and body: anywhere else its value would be written where others read it"
)
_NAME: Final = re.compile(
    r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*", re.ASCII
)
_DECIMALS: Final = re.compile(r"\.([0-9])f", re.ASCII)  # the one format: `:.Nf`
_WORDS: Final = re.compile(r"\w+(?:\.\w+)*")  # a name in any script: `Küche`


class Names(dict[str, JsonValue]):
    """The names a run's templates see (context_names), with what a time format
    needs besides them: the hub's zone, and the run's time for `{now:%H:%M}` (the
    name `now` itself is the ISO text)."""

    __slots__ = ("tz", "wall_ts")

    def __init__(
        self, values: Mapping[str, JsonValue], tz: tzinfo, wall_ts: float
    ) -> None:
        super().__init__(values)
        self.tz = tz
        self.wall_ts = wall_ts


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
                inside = text[position + 1 : end] if end >= 0 else None
                raise TemplateError(_no_field(inside), position, text)
            if spec != spec.strip() and not spec.startswith("%"):  # `{t: .1f}`
                inside = text[position + 1 : end]
                written = f"{{{name}:{spec.strip()}}}"
                raise TemplateError(_spaced(inside, written), position, text)
            clock = _clock(spec, text, position + len(name) + 2, name)
            decimals = _DECIMALS.fullmatch(spec)
            if colon and decimals is None and clock is None:
                raise TemplateError(
                    f"the format of {{{name}}} can only be :.Nf (N decimals, 0 to 9)"
                    " or a time such as :%H:%M",
                    position,
                    text,
                )
            if literal:
                parts.append("".join(literal))
                literal = []
            places = int(decimals.group(1)) if decimals is not None else None
            parts.append(Field(name, position, places, clock))
            position = end + 1
        else:
            literal.append(char)
            position += 1
    if literal:
        parts.append("".join(literal))
    return tuple(parts)


def _no_field(inside: str | None) -> str:
    """Why braces around `inside` (None: a `{` that no `}` closes) make no field,
    said for the likely slip."""
    if inside is None:
        return "'{' starts no {name} field (write '{{' for a brace)"
    name, colon, spec = inside.partition(":")
    bare = name.strip()
    # only the name is looked at: a time format's `%` (`{room :%H:%M}`) is no sum
    if _NAME.match(bare) and any(c in bare for c in "+-*/%()<>="):
        # a computation in braces (`{trigger.value * 10}`): say where computing is
        return (
            f"{{{inside.strip()}}} is no field: a template names a value"
            " ({trigger.value}) and computes none (the expr: of a set, device, event"
            " or http action does)"
        )
    if name != bare and _NAME.fullmatch(bare):  # `{ room }`, `{ room:.1f }`
        return _spaced(inside, f"{{{bare}{colon}{spec.strip()}}}")
    if not bare.isascii() and _WORDS.fullmatch(bare):  # `{Küche}`, `{ Küche }`
        return (
            f"{{{inside}}} is no field: a name is ASCII letters, digits and _ (a"
            " variable's too)"
        )
    # `{"on": true}`: its `}` would be a lone one after `{{`, so both are said
    return "'{' starts no {name} field (write '{{' and '}}' for braces)"


def _spaced(inside: str, written: str) -> str:
    """The hint for a field with spaces in its braces: `written` without them, or,
    when that is no field either (`{ room:.12f }`), what is wrong with it too."""
    try:
        _parsed(written)
    except TemplateError as exc:
        return f"{{{inside}}} is no field: no spaces in the braces, and {exc.reason}"
    # a time format keeps its own spaces (`{ x:%H %M }`): only those around go
    where = " around the name and the format" if " " in written else ""
    return f"{{{inside}}} is no field: write {written}, without spaces{where}"


def _clock(spec: str, text: str, at: int, name: str) -> TimeFormat | None:
    """The time format of a field whose format starts with `%` (at offset `at` of
    `text`), else None; TemplateError at the directive it cannot take."""
    if not spec.startswith("%"):
        return None
    try:
        return parse_time_format(spec)
    except TimeFormatError as exc:
        raise TemplateError(
            f"the time format of {{{name}}}: {exc.reason}", at + exc.offset, text
        ) from None


def check(
    text: str, known: set[str] | frozenset[str], *, secrets: bool = False
) -> None:
    """Raise TemplateError at the first field naming something not in `known`;
    `{secret.NAME}` only with `secrets` (an `http:` action's url, headers, body)."""
    for part in parse(text):
        if isinstance(part, Field) and part.name.startswith(SECRET_PREFIX):
            _check_secret(part, text, secrets=secrets)
        elif isinstance(part, Field) and part.name not in known:
            if part.name == REPEAT_INDEX:
                raise TemplateError(OUTSIDE_REPEAT, part.offset, text)
            raise TemplateError(f"unknown name {quote(part.name)}", part.offset, text)


def _check_secret(part: Field, text: str, *, secrets: bool) -> None:
    if not secrets:
        raise TemplateError(ONLY_IN_HTTP, part.offset, text)
    if "." in part.name.removeprefix(SECRET_PREFIX):
        raise TemplateError(
            "a secret's name is one word: {secret.NAME}", part.offset, text
        )
    if part.decimals is not None or part.clock is not None:
        raise TemplateError(
            f"{{{part.name}}} is text as the secrets file has it: no format",
            part.offset,
            text,
        )


def secret_names(text: str) -> list[str]:
    """The secrets a template fills in (`{secret.NAME}`: NAME), in order, once
    each; [] for one that does not parse (the loader said why)."""
    try:
        parts = _parsed(text)
    except TemplateError:
        return []
    names = (
        part.name.removeprefix(SECRET_PREFIX)
        for part in parts
        if isinstance(part, Field) and part.name.startswith(SECRET_PREFIX)
    )
    return list(dict.fromkeys(names))


def render(text: str, names: Mapping[str, JsonValue]) -> str:
    """Fill in fields from `names` (flat, dotted keys); non-strings as their JSON text.
    A time format needs the zone of `Names`: a number it would write from other
    names (a key filled at import) is a TemplateError, known only when it runs."""
    out: list[str] = []
    for part in _parsed(text):
        if isinstance(part, str):
            out.append(part)
            continue
        value = _named(part, names, text)
        out.append(_shown(part, value, _zone(part, names, text), text))
    return "".join(out)


def _shown(part: Field, value: JsonValue, tz: tzinfo | None, text: str) -> str:
    """`value` written for `part`; a number JSON has not (a tree value `1e400`) is
    a TemplateError, as it fails a `set` or a `call:` frame: no `Infinity` in a
    text."""
    try:
        return part.shown(value, tz)
    except NotFinite:
        raise TemplateError(
            f"{{{part.name}}} is or holds a number that is not finite",
            part.offset,
            text,
        ) from None


def fill(value: JsonValue, names: Mapping[str, JsonValue]) -> JsonValue:
    """An action's value with every string inside it a template; a string that is
    one field alone (`"{trigger.value}"`) keeps the JSON type of what it names (a
    time format gives text)."""
    if isinstance(value, str):
        parts = _parsed(value)
        field = parts[0] if len(parts) == 1 else None
        if isinstance(field, Field) and field.name in names:
            named = _named(field, names, value)
            return field.kept(named, _zone(field, names, value))
        return render(value, names)
    if isinstance(value, list):
        return [fill(item, names) for item in value]
    if isinstance(value, dict):
        return {key: fill(item, names) for key, item in value.items()}
    return value


def _named(part: Field, names: Mapping[str, JsonValue], text: str) -> JsonValue:
    """What `part` names; `{now:%H:%M}` a run's time in epoch seconds."""
    if part.name not in names:
        raise TemplateError(f"unknown name {quote(part.name)}", part.offset, text)
    if part.clock is not None and part.name == "now" and isinstance(names, Names):
        return names.wall_ts
    return names[part.name]


def _zone(part: Field, names: Mapping[str, JsonValue], text: str) -> tzinfo | None:
    """The zone a time format of `part` is written in; TemplateError when it would
    write a number without one (not a run's names)."""
    if isinstance(names, Names):
        return names.tz
    if part.clock is not None and finite_number(names.get(part.name)) is not None:
        raise TemplateError(
            f"the time of {{{part.name}}} is written only when the scenario runs",
            part.offset,
            text,
        )
    return None


def render_value(value: JsonValue, names: Mapping[str, JsonValue]) -> JsonValue:
    """A JSON value with every string in it rendered (keys of objects stay as written)."""
    if isinstance(value, str):
        return render(value, names)
    if isinstance(value, list):
        return [render_value(item, names) for item in value]
    if isinstance(value, dict):
        return {key: render_value(item, names) for key, item in value.items()}
    return value


def keyed_strings(key: str, value: JsonValue) -> list[tuple[str, str]]:
    """Every string inside a JSON value, with the key holding it (`key` for the
    value itself and a list's items), for a warning placed at `key: text`."""
    if isinstance(value, str):
        return [(key, value)]
    if isinstance(value, list):
        return [found for item in value for found in keyed_strings(key, item)]
    if isinstance(value, dict):
        return [found for k, item in value.items() for found in keyed_strings(k, item)]
    return []


def value_strings(value: JsonValue) -> list[str]:
    """Every string inside a JSON value (what render_value renders)."""
    return [text for _, text in keyed_strings("", value)]


def render_in(
    text: str, context: EvalContext, secrets: Mapping[str, str] | None = None
) -> str:
    """render(text, context_names(context)), computing only the names it uses;
    `{secret.NAME}` from `secrets` (an `http:` action's, rules.run_http)."""
    if "{" not in text and "}" not in text:
        return text
    out: list[str] = []
    for part in _parsed(text):
        if isinstance(part, str):
            out.append(part)
            continue
        value = _value_in(part, context, secrets, text)
        out.append(_shown(part, value, context.tz, text))
    return "".join(out)


def _value_in(
    part: Field, context: EvalContext, secrets: Mapping[str, str] | None, text: str
) -> JsonValue:
    name = part.name
    if name == "host":
        return context.host
    if name == "now":
        return context.wall_ts if part.clock is not None else _now_text(context)
    if name.startswith("trigger.") and name[8:] in TRIGGER_FIELDS:
        return context.trigger_field(name[8:])
    if name == REPEAT_INDEX and context.repeat_index is not None:
        return context.repeat_index
    if name in context.variables:
        return context.variables[name]
    if (
        secrets is not None
        and name.startswith(SECRET_PREFIX)
        and name[len(SECRET_PREFIX) :] in secrets
    ):
        return secrets[name[len(SECRET_PREFIX) :]]
    raise TemplateError(f"unknown name {quote(name)}", part.offset, text)


def _now_text(context: EvalContext) -> str:
    return datetime.fromtimestamp(context.wall_ts, context.tz).isoformat(
        timespec="seconds"
    )


def context_names(context: EvalContext) -> Names:
    """The names a template sees at run time: host, now (local ISO time), trigger.*,
    repeat.index inside a repeat, variables (a variable never hides a built-in
    name); the zone and the time too."""
    names = Names(context.variables, context.tz, context.wall_ts)
    names["host"] = context.host
    names["now"] = _now_text(context)
    for field in TRIGGER_FIELDS:
        names[f"trigger.{field}"] = context.trigger_field(field)
    if context.repeat_index is not None:
        names[REPEAT_INDEX] = context.repeat_index
    return names
