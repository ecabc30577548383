"""The globs of the keys an expression reads with kv(): what routes a key's change to
the scenarios that re-check on it (a `wait_until`, a `when:` trigger). One rule for
both, so that what wakes a wait and what re-tests a trigger never differ."""

from __future__ import annotations

from collections.abc import Iterable

from raspy.devices.template import JsonValue
from raspy.rules.model import Expression
from raspy.rules.template import TemplateError, parse, render
from raspy.rules.trigger_match import literal_glob


def filled(text: str, names: dict[str, JsonValue]) -> str | None:
    """`text` with its templates filled; None for a key made of other names (such as
    `{trigger.key}`): matched by no route."""
    try:
        return render(text, names)
    except TemplateError:
        return None


def key_glob(key: str, names: dict[str, JsonValue]) -> str | None:
    """The glob of a kv() key: itself alone once filled; a field known only as the
    run goes (`{repeat.index}`, `{trigger.id}`) is any text there, so that a
    `wait_until` on `/room/{repeat.index}/window` is woken by each room's window.
    None for a key that would be all fields and slashes (it would match every
    key)."""
    text = filled(key, names)
    if text is not None:
        return literal_glob(text)
    try:
        parts = parse(key)
    except TemplateError:
        return None
    glob: list[str] = []
    for part in parts:
        if isinstance(part, str):
            glob.append(literal_glob(part))
            continue
        if part.clock is not None or part.name not in names:
            glob.append("*")  # a time is written in the zone of the run
            continue
        try:
            glob.append(literal_glob(part.shown(names[part.name])))
        except (TemplateError, ValueError):
            glob.append("*")
    text = "".join(glob)
    return None if text.replace("*", "").replace("/", "") == "" else text


def literal_globs(
    expressions: Iterable[Expression], names: dict[str, JsonValue]
) -> list[str]:
    """The literal kv() keys of `expressions` as globs matching each key only, their
    fields filled from `names` (one that cannot be filled left out), sorted."""
    keys = {key for expression in expressions for key in expression.kv_keys()}
    globs = (key_glob(k, names) for k in sorted(keys))
    return [g for g in globs if g is not None]
