"""The scenario's `variables:` whose text holds a template field (`room:
"{host}-hall"`): a warning of an import.

A variable is a value, taken as written: its `{host}` is never filled in, so a
`log: "{room}"` writes `{host}-hall`, where Home Assistant's habit (its variables
are templates) expects the hub's name. A warning, not a refusal: a text may hold
braces on purpose (a JSON snippet, a message with `{` in it).
"""

from __future__ import annotations

from collections.abc import Callable

from raspy.rules import model
from raspy.rules.document import Spots, lazy_spots
from raspy.rules.template import TemplateError, parse
from raspy.rules.template_field import Field


def variable_warnings(
    scenario: model.Scenario, text: str, spot: Callable[[], Spots] | None = None
) -> list[tuple[int, int, str]]:
    """(line, col, message) of each variable of `scenario` (its document `text`,
    its places in `spot`: lazy_spots) that is a text reading as a template with a
    field, at its place. (A text inside a list or a mapping is left: it is rare,
    and has no place of its own to be shown at.)"""
    found: list[tuple[int, int, str]] = []
    for name, value in scenario.variables.items():
        if not isinstance(value, str) or not (fields := _fields(value)):
            continue
        spot = spot or lazy_spots(text)
        field = "{" + fields[0] + "}"
        found.append(
            (
                *spot()(name, value),
                f"variables: {name}: {field} is never filled in (a variable is a"
                f" value, taken as written): write {field} in the text that uses"
                f" {{{name}}} instead",
            )
        )
    return sorted(found)


def _fields(string: str) -> list[str]:
    """The fields of `string` read as a template, in order; none for a text that
    is no template (`{` that starts no field)."""
    if "{" not in string:  # nearly every variable: no parse
        return []
    try:
        return [part.name for part in parse(string) if isinstance(part, Field)]
    except TemplateError:
        return []
