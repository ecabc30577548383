"""Jinja's `{{ trigger.value }}` (Home Assistant's habit) in an action's template:
a warning of an import.

In raspy `{{` and `}}` are literal braces, so `log: "door {{ trigger.value }}"`
writes `door { trigger.value }` at every run, said nowhere. A warning, not a
refusal: a scenario may mean to send literal Jinja (`{{{{ now }}}}` to Home
Assistant's template API), and a scenario stored before must load as it did.
Only the source as written is scanned (never literal parts joined across fields),
and only double braces around a name the template knows, a filter after it too.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Final

from raspy.rules import model, walk
from raspy.rules.document import Spots, lazy_spots
from raspy.rules.template import BUILTIN_NAMES, REPEAT_INDEX, keyed_strings

# at a `{{` escape: a dotted name in double braces, a Jinja filter after it or not
_JINJA: Final = re.compile(
    r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*(\|[^{}]*)?\}\}",
    re.ASCII,
)
_TRIGGER: Final = "trigger."
NO_FILTERS: Final = " (raspy has no filters: expr: computes a value)"

Text = tuple[str, str]  # (the YAML key holding it, the template as written)


def jinja_warnings(
    scenario: model.Scenario, text: str, spot: Callable[[], Spots] | None = None
) -> list[tuple[int, int, str]]:
    """(line, col, message) of each Jinja field of a name the template knows in a
    text of `scenario`'s actions (its document `text`, its places in `spot`:
    lazy_spots), at the field when the text is one line written plainly, else at
    the text; once a place."""
    found: set[tuple[int, int, str]] = set()
    names = BUILTIN_NAMES | frozenset(scenario.variables)
    for key, template, known in _texts(scenario.actions, names):
        if "{{" not in template:  # nearly every text: no scan
            continue
        for offset, written, name, filtered in jinja_fields(template, known):
            spot = spot or lazy_spots(text)
            line, col = spot()(key, template)
            if (line, col) != (1, 1):
                col += _shift(text, line, col, template, offset)
            found.add((line, col, f"{key}: {_message(written, name, filtered)}"))
    return sorted(found)


def jinja_fields(
    template: str, known: frozenset[str]
) -> list[tuple[int, str, str, bool]]:
    """(offset, as written, name, has a filter) of each Jinja field in `template`'s
    source, walked as rules.template reads it: a match starts at a `{{` escape (not
    in a field); `{{{{ x }}}}` (a literal `{{ x }}`) and `{{{host}}}` (a brace
    around a field) are none."""
    found: list[tuple[int, str, str, bool]] = []
    position = 0
    escape_end = -1  # where the last `{{` escape ended
    while position < len(template):
        if template.startswith("{{", position):
            match = _JINJA.match(template, position)
            if match is None:
                escape_end = position + 2
                position += 2
                continue
            doubled = escape_end == position and template.startswith("}}", match.end())
            if not doubled and _knows(match[1], known):
                found.append((position, match[0], match[1], match[2] is not None))
            position = match.end()
        elif template.startswith("}}", position):
            position += 2
        elif template[position] == "{":  # a field: to its `}`
            end = template.find("}", position + 1)
            position = len(template) if end < 0 else end + 1
        else:
            position += 1
    return found


def _knows(name: str, known: frozenset[str]) -> bool:
    return name in known or name.startswith(_TRIGGER)


def _message(written: str, name: str, filtered: bool) -> str:
    said = (
        f"{written} writes the name in braces ('{{{{' is a literal brace):"
        f" raspy's field is {{{name}}}"
    )
    return said + NO_FILTERS if filtered else said


def _shift(text: str, line: int, col: int, template: str, offset: int) -> int:
    """The columns from the value's start to `offset` of `template`, when the
    value is on one line as written (plain, or quoted with no escape); else 0."""
    lines = text.splitlines()
    if "\n" in template or line > len(lines):
        return 0
    source = lines[line - 1][col - 1 :]
    quoted = source[:1] in ("'", '"')
    start = 1 if quoted else 0
    if source[start : start + len(template)] != template:
        return 0
    return start + offset


def _texts(
    actions: tuple[model.Action, ...], known: frozenset[str]
) -> Iterator[tuple[str, str, frozenset[str]]]:
    """(YAML key, template, the names it knows) of each template text of
    `actions`, nested ones too (`repeat.index` inside a repeat's)."""
    in_repeat = known | {REPEAT_INDEX}
    for action, repeated in walk.every_placed_action(actions):
        for key, template in _action_texts(action):
            yield key, template, in_repeat if repeated else known


def _action_texts(action: model.Action) -> list[Text]:
    """(YAML key, template) of each text of one action that is no list of others."""
    match action:
        case model.DeviceAction():
            texts = [("device", action.device), ("action", action.action)]
            return texts + keyed_strings("value", action.value)
        case model.SetAction():
            return [("set", action.key), *keyed_strings("value", action.value)]
        case model.EventAction():
            return [("event", action.key), *keyed_strings("value", action.value)]
        case model.DeleteAction():
            return [("delete", action.key)]
        case model.CallAction():
            return [("call", action.service), *(("body", f) for f in action.body)]
        case model.HttpAction():
            texts = [("http", action.url), *action.headers]
            return texts + keyed_strings("body", action.body)
        case model.RunAction():
            return [("run", action.scenario)]
        case model.StopAction():
            return [("stop", action.scenario)]
        case model.LogAction():
            return [("log", action.message)]
    return []
