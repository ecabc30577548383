"""The `triggers:` of a scenario document -> rules.model triggers (problems recorded
in Checks, never raised). Patterns may use `{host}` only: the engine fills no more."""

from __future__ import annotations

import re
from typing import Final

import yaml

from raspy.errors import quote
from raspy.rules import model
from raspy.rules.document_checks import Checks
from raspy.rules.document_shapes import join
from raspy.rules.document_when import read_when
from raspy.rules.document_yaml import Invalid, kind_of, scalar
from raspy.rules.duration import duration_field, parse_duration, parse_offset

KINDS: Final = ("kv", "when", "cron", "at", "every", "sun", "event", "startup")
_EXTRA: Final = {
    "kv": ("below", "above", "to", "from", "for", "id"),
    "sun": ("offset", "id"),
    "when": ("for", "id"),
}
MAX_TRIGGERS: Final = 64
MIN_EVERY_S: Final = 1.0
MAX_SUN_OFFSET_S: Final = 12 * 3600.0
_HOST_ONLY: Final = frozenset({"host"})
_CLOCK: Final = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?", re.ASCII)
_SUN_EVENTS: Final = ", ".join(event.value for event in model.SunEvent)

Entries = dict[str, tuple[yaml.Node, yaml.Node]]


def read_triggers(checks: Checks, node: yaml.Node, path: str) -> list[model.Trigger]:
    items = checks.sequence(node, path, MAX_TRIGGERS)
    triggers: list[model.Trigger] = []
    for index, item in enumerate(items or ()):
        trigger = read_trigger(checks, item, f"{path}[{index}]")
        if trigger is not None:
            triggers.append(trigger)
    return triggers


def _belongs(allowed: tuple[str, ...]) -> dict[str, str]:
    """Which kinds of trigger take each key another kind has and these have not:
    `for` is a kv or when trigger's ("unknown key 'for'" on an `at:` said no more)."""
    kinds: dict[str, list[str]] = {}
    for kind, extra in _EXTRA.items():
        for key in extra:
            if key not in allowed:
                kinds.setdefault(key, []).append(kind)
    return {key: _a_kind(names) for key, names in kinds.items()}


def _a_kind(names: list[str]) -> str:
    """`a kv trigger`, `a kv or when trigger`, `a kv, sun or when trigger`."""
    listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
    return f"a {listed} trigger"


def read_trigger(checks: Checks, node: yaml.Node, path: str) -> model.Trigger | None:
    entries = checks.mapping(node, path)
    if entries is None:
        return None
    extras = {k for extra in _EXTRA.values() for k in extra}
    kind = checks.kind(node, entries, path, KINDS, extras, "a trigger")
    if kind is None:
        return None
    allowed = (kind, *_EXTRA.get(kind, ("id",)))
    known = checks.known_keys(entries, path, allowed, _belongs(allowed))
    checked_id = _id(checks, entries, path)
    trigger_id = checked_id or ""
    value_node = entries[kind][1]
    where = join(path, kind)
    trigger: model.Trigger | None
    if kind == "kv":
        trigger = _kv(checks, entries, path, trigger_id)
    elif kind == "when":
        trigger = read_when(checks, entries, path, trigger_id)
    elif kind == "event":
        pattern = _pattern(checks, value_node, where, "/event/")
        trigger = None if pattern is None else model.EventTrigger(pattern, trigger_id)
    elif kind == "cron":
        trigger = _cron(checks, value_node, where, trigger_id)
    elif kind == "at":
        seconds = checks.parsed(value_node, where, time_of_day, raw=True)
        trigger = None if seconds is None else model.AtTrigger(seconds, trigger_id)
    elif kind == "every":
        interval = checks.parsed(value_node, where, _every)
        trigger = None if interval is None else model.EveryTrigger(interval, trigger_id)
    elif kind == "sun":
        trigger = _sun(checks, entries, path, trigger_id)
    else:
        trigger = _startup(checks, value_node, where, trigger_id)
    return trigger if known and checked_id is not None else None


def time_of_day(text: object) -> int:
    """Seconds since local midnight of "HH:MM" or "HH:MM:SS"; ValueError otherwise."""
    match = _CLOCK.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"expected a time like 23:00 or 06:30:15, got {_shown(text)}")
    hours, minutes, seconds = match.group(1, 2, 3)
    return int(hours) * 3600 + int(minutes) * 60 + int(seconds or 0)


def _id(checks: Checks, entries: Entries, path: str) -> str | None:
    if "id" not in entries:
        return ""
    return checks.text(entries["id"][1], join(path, "id"), limit=64)


def _pattern(checks: Checks, node: yaml.Node, path: str, prefix: str) -> str | None:
    pattern = checks.template(node, path, _HOST_ONLY)
    if pattern is not None and not pattern.startswith(prefix):
        checks.problem(
            node,
            path,
            f"expected a key pattern starting with {prefix}, got {quote(pattern)}",
        )
        return None
    return pattern


def _kv(
    checks: Checks, entries: Entries, path: str, trigger_id: str | None
) -> model.KvTrigger | None:
    pattern = _pattern(checks, entries["kv"][1], join(path, "kv"), "/")
    bounds: dict[str, float | None] = {}
    ok = pattern is not None
    for key in ("below", "above"):
        bounds[key] = None
        if key in entries:
            bounds[key] = checks.number(entries[key][1], join(path, key))
            ok = ok and bounds[key] is not None
    below, above = bounds["below"], bounds["above"]
    if below is not None and above is not None and below <= above:
        checks.problem(
            entries["below"][1],
            join(path, "below"),
            f"must be greater than above ({above:g}), or the trigger never fires",
        )
        ok = False
    values = {}
    for key in ("to", "from"):
        if key in entries:
            values[key] = checks.json(entries[key][1], join(path, key))
            ok = ok and not isinstance(values[key], Invalid)
    hold_s = 0.0
    if "for" in entries:
        parsed = checks.parsed(entries["for"][1], join(path, "for"), parse_duration)
        ok = ok and parsed is not None
        hold_s = parsed or 0.0
    if not ok or pattern is None or trigger_id is None:
        return None
    to, from_ = values.get("to"), values.get("from")
    assert not isinstance(to, Invalid)
    assert not isinstance(from_, Invalid)
    return model.KvTrigger(
        pattern=pattern,
        below=below,
        above=above,
        to=to,
        from_=from_,
        has_to="to" in values,
        has_from="from" in values,
        for_s=hold_s,
        id=trigger_id,
    )


def _cron(
    checks: Checks, node: yaml.Node, path: str, trigger_id: str | None
) -> model.CronTrigger | None:
    from raspy.rules.timing import parse_cron  # the timing module loads croniter

    expression = checks.text(node, path, limit=256)
    if expression is None or trigger_id is None:
        return None
    try:
        parse_cron(expression)
    except ValueError as exc:
        checks.problem(node, path, str(exc).removeprefix("cron: "))
        return None
    return model.CronTrigger(expression, trigger_id)


@duration_field
def _every(value: object) -> float:
    seconds = parse_duration(value)
    if seconds < MIN_EVERY_S:
        raise ValueError(f"expected an interval of at least 1s, got {_shown(value)}")
    return seconds


def _sun(
    checks: Checks, entries: Entries, path: str, trigger_id: str | None
) -> model.SunTrigger | None:
    node = entries["sun"][1]
    event = checks.text(node, join(path, "sun"), limit=16)
    if event is not None and event not in {e.value for e in model.SunEvent}:
        checks.problem(
            node,
            join(path, "sun"),
            f"expected one of {_SUN_EVENTS}, got {quote(event)}",
        )
        event = None
    offset_s: float | None = 0.0
    if "offset" in entries:
        offset_s = checks.parsed(
            entries["offset"][1], join(path, "offset"), _sun_offset
        )
    if event is None or offset_s is None or trigger_id is None:
        return None
    return model.SunTrigger(model.SunEvent(event), offset_s, trigger_id)


def _sun_offset(value: object) -> float:
    seconds = parse_offset(value)
    if abs(seconds) > MAX_SUN_OFFSET_S:
        raise ValueError(f"expected an offset within ±12h, got {_shown(value)}")
    return seconds


duration_field(_sun_offset, signed=True)


def _startup(
    checks: Checks, node: yaml.Node, path: str, trigger_id: str | None
) -> model.StartupTrigger | None:
    if scalar(node) is not True:
        checks.problem(
            node, path, f"expected true (startup: true), got {kind_of(node)}"
        )
        return None
    return None if trigger_id is None else model.StartupTrigger(trigger_id)


def _shown(value: object) -> str:
    return quote(value) if isinstance(value, str) else repr(value)
