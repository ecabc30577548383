"""Scenario documents (YAML, JSON as its subset) -> rules.model.Scenario.

Safe loading only: PyYAML composes nodes (no tags constructed, aliases refused, depth
and size bounded); this module and its document_* helpers read them, collecting every
problem with its line and column. A document is accepted whole or refused whole.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Final

import yaml

from raspy.devices.template import JsonValue
from raspy.errors import ScenarioError, quote
from raspy.json_text import encode
from raspy.names import NAME_PATTERN
from raspy.rules import model
from raspy.rules.document_actions import read_actions
from raspy.rules.document_checks import Checks
from raspy.rules.document_shapes import Problem, join
from raspy.rules.document_triggers import read_triggers
from raspy.rules.document_yaml import Invalid, compose
from raspy.rules.expr import FUNCTION_NAMES, CompiledExpression
from raspy.rules.template import BUILTIN_NAMES
from raspy.rules.yaml_hint import hint

__all__ = [
    "DocumentError",
    "Problem",
    "load_scenario",
    "place",
    "problem_at",
    "states_key",
    "validate_scenario",
]

MAX_DOCUMENT_BYTES: Final = 256 * 1024
MAX_CONDITIONS: Final = 64
MAX_VARIABLES: Final = 64
# their JSON at most, as a value in the tree ([clone] max_value_bytes' default): an
# expression's work grows with the size of what it compares, and a 256 KiB document
# could hold a list of 100,000 items
MAX_VARIABLES_BYTES: Final = 64 * 1024
MAX_RUNS: Final = 1000
MAX_SHOWN: Final = 100  # problems listed in a message; DocumentError.problems has all
TOP_KEYS: Final = (
    "name",
    "description",
    "enabled",
    "mode",
    "max",
    "variables",
    "triggers",
    "conditions",
    "actions",
)
_NAME: Final = re.compile(NAME_PATTERN)
# functions added after variables of their names could be stored: such a variable
# stays valid (`random` is the variable, `random()` the function: the grammar tells
# them apart by the parenthesis)
LATER_FUNCTIONS: Final = frozenset({"random"})
_VARIABLE: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}", re.ASCII)
_RESERVED: Final = frozenset(
    {"trigger", "true", "false", "null", "True", "False", "None"}
    | {"and", "or", "not", "if", "else", "in"}
    | {name.partition(".")[0] for name in BUILTIN_NAMES}
    | (FUNCTION_NAMES - LATER_FUNCTIONS)
)
_LINE_BREAK: Final = re.compile("\r\n|[\n\r\x85\u2028\u2029]")  # as YAML counts lines
_MODES: Final = ", ".join(mode.value for mode in model.Mode)


class DocumentError(ScenarioError):
    """A document refused whole; `problems` holds each one (line and col 1-based), and
    str() is every problem on its own line as `source:line:col: what is wrong`."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = sorted(problems)
        super().__init__("\n".join(self.lines()))

    def lines(self) -> list[str]:
        """One line per problem; past MAX_SHOWN, one last line counts the rest."""
        shown = [
            f"{self.source}:{p.line}:{p.col}: {p.message}"
            for p in self.problems[:MAX_SHOWN]
        ]
        if len(self.problems) > MAX_SHOWN:
            first = self.problems[MAX_SHOWN]
            rest = len(self.problems) - MAX_SHOWN
            shown.append(
                f"{self.source}:{first.line}:{first.col}: and {rest} more problems"
            )
        return shown


def validate_scenario(text: str, source: str = "<scenario>") -> list[str]:
    """Every problem of the document as `source:line:col: message`; [] when it is good."""
    try:
        load_scenario(text, source)
    except DocumentError as exc:
        return exc.lines()
    return []


def place(text: str, key: str, inner: str = "") -> tuple[str, int, int]:
    """Where a valid document holds top-level `key`'s value (with `inner`: the value of
    `inner` in the first item of that list holding it), as (path, line, col), for a
    check made past the document (the hub's); ("", 1, 1) when it is not there."""
    root = compose(text)
    if not isinstance(root, yaml.MappingNode):
        return "", 1, 1
    node = next((v for k, v in root.value if k.value == key), None)
    if node is None:
        return "", 1, 1
    path = key
    if inner and isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            if isinstance(item, yaml.MappingNode):
                found = next((v for k, v in item.value if k.value == inner), None)
                if found is not None:
                    node, path = found, f"{key}[{index}].{inner}"
                    break
    return path, node.start_mark.line + 1, node.start_mark.column + 1


def states_key(text: str, key: str) -> bool:
    """Does the (valid) document say top-level `key` itself?"""
    return place(text, key)[0] == key


def problem_at(
    source: str, text: str, key: str, message: str, *, inner: str = ""
) -> str:
    """A hub-side problem as the document checks write theirs:
    `source:line:col: path: message`, at the value it is about."""
    path, line, col = place(text, key, inner)
    return (
        f"{source}:{line}:{col}: {path}: {message}" if path else f"{source}: {message}"
    )


def spot(text: str, key: str, value: str) -> tuple[int, int]:
    """(line, col) of the first `key: value` anywhere in a valid document (nested
    actions too), for a check made past the document; (1, 1) when it is not there."""
    return spots(text)(key, value)


class Spots:
    """Where the `key: value` pairs of one valid document first are (nested actions
    too), and where the value of each mapping's `action:` with a `value:` is: two
    `device:` actions may share a value (`value: 50`) and not a command."""

    __slots__ = ("_first", "_pairs")

    def __init__(self, text: str) -> None:
        # composed once, not once a place (a document with a hundred warnings took
        # seconds of the core's time)
        root = compose(text)
        self._first: dict[tuple[str, str], tuple[int, int]] = {}
        self._pairs: dict[tuple[str, str], tuple[int, int]] = {}
        todo: list[yaml.Node] = [] if root is None else [root]
        while todo:  # breadth first: the first one is the one least nested
            node = todo.pop(0)
            if isinstance(node, yaml.MappingNode):
                self._note(node)
                todo.extend(v for _, v in node.value)
            elif isinstance(node, yaml.SequenceNode):
                todo.extend(node.value)

    def _note(self, node: yaml.MappingNode) -> None:
        scalars: dict[str, yaml.ScalarNode] = {}
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and isinstance(v, yaml.ScalarNode):
                self._first.setdefault((k.value, v.value), _mark(v))
                scalars.setdefault(k.value, v)
        if "action" in scalars and "value" in scalars:
            pair = (scalars["action"].value, scalars["value"].value)
            self._pairs.setdefault(pair, _mark(scalars["value"]))

    def __call__(self, key: str, value: str) -> tuple[int, int]:
        """(line, col) of the first `key: value`; (1, 1) when it is not there."""
        return self._first.get((key, value), (1, 1))

    def value_of(self, action: str, value: str) -> tuple[int, int]:
        """(line, col) of the `value:` of the first mapping with this `action:` and
        this `value:` (as written); (1, 1) when none has both."""
        return self._pairs.get((action, value), (1, 1))


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def spots(text: str) -> Spots:
    """spot() for many places of one document (see Spots)."""
    return Spots(text)


def lazy_spots(text: str) -> Callable[[], Spots]:
    """The Spots of `text`, composed at the first call only: most documents have no
    warning to place, and the warnings of one import share the one composing."""
    return functools.cache(lambda: Spots(text))


def load_scenario(text: str, source: str = "<scenario>") -> model.Scenario:
    """The scenario of a document; raises DocumentError naming every problem."""
    if not isinstance(text, str):
        raise TypeError(f"a scenario document is text, got {type(text).__name__}")
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_DOCUMENT_BYTES:
        raise DocumentError(
            source,
            [Problem(1, 1, f"the document is larger than 256 KiB ({size} bytes)")],
        )
    try:
        root = compose(text)
    except yaml.YAMLError as exc:
        raise DocumentError(source, [_yaml_problem(exc, text)]) from None
    if root is None:
        raise DocumentError(source, [Problem(1, 1, "the document is empty")])
    checks = Checks(text)
    scenario = _read(checks, root, text)
    if checks.problems or scenario is None:
        raise DocumentError(
            source, checks.problems or [Problem(1, 1, "not a scenario")]
        )
    return scenario


def _read(checks: Checks, root: yaml.Node, text: str) -> model.Scenario | None:
    entries = checks.mapping(root, "")
    if entries is None:
        return None
    checks.known_keys(entries, "", TOP_KEYS)
    for key in ("name", "actions"):
        if key not in entries:
            checks.problem(root, "", f"missing key {quote(key)}")
    name = _name(checks, entries)
    description = ""
    if "description" in entries:
        description = (
            checks.text(entries["description"][1], "description", limit=4096) or ""
        )
    enabled: bool | None = True
    if "enabled" in entries:
        enabled = checks.boolean(entries["enabled"][1], "enabled")
    mode, max_runs = _mode(checks, entries)
    variables = _variables(checks, entries)
    checks.variables = frozenset(variables)
    triggers: list[model.Trigger] = []
    if "triggers" in entries:
        triggers = read_triggers(checks, entries["triggers"][1], "triggers")
    conditions = _conditions(checks, entries)
    actions: tuple[model.Action, ...] | None = None
    if "actions" in entries:
        actions = read_actions(checks, entries["actions"][1], "actions", empty_ok=False)
    if checks.problems or name is None or enabled is None or mode is None:
        return None
    if max_runs is None or actions is None:
        return None
    return model.Scenario(
        name=name,
        triggers=tuple(triggers),
        actions=actions,
        description=description,
        enabled=enabled,
        mode=mode,
        max_runs=max_runs,
        variables=variables,
        conditions=conditions,
        source_text=text,
    )


def _name(
    checks: Checks, entries: dict[str, tuple[yaml.Node, yaml.Node]]
) -> str | None:
    if "name" not in entries:
        return None
    return checks.pattern_text(
        entries["name"][1],
        "name",
        NAME_PATTERN,
        f"a name matching {NAME_PATTERN}",
    )


def _mode(
    checks: Checks, entries: dict[str, tuple[yaml.Node, yaml.Node]]
) -> tuple[model.Mode | None, int | None]:
    mode: model.Mode | None = model.Mode.SINGLE
    if "mode" in entries:
        node = entries["mode"][1]
        text = checks.text(node, "mode", limit=16)
        if text is not None and text not in {m.value for m in model.Mode}:
            checks.problem(node, "mode", f"expected one of {_MODES}, got {quote(text)}")
        mode = model.Mode(text) if text in {m.value for m in model.Mode} else None
    if "max" not in entries:
        return mode, 10
    key_node, node = entries["max"]
    if mode is not None and mode not in (model.Mode.QUEUED, model.Mode.PARALLEL):
        checks.problem(
            key_node, "max", f"only for mode queued or parallel (mode is {mode.value})"
        )
        return mode, None
    return mode, checks.integer(node, "max", 1, MAX_RUNS)


def _variables(
    checks: Checks, entries: dict[str, tuple[yaml.Node, yaml.Node]]
) -> dict[str, JsonValue]:
    if "variables" not in entries:
        return {}
    node = entries["variables"][1]
    found = checks.mapping(node, "variables")
    if found is None:
        return {}
    if len(found) > MAX_VARIABLES:
        checks.problem(
            node, "variables", f"at most {MAX_VARIABLES} variables, got {len(found)}"
        )
    variables: dict[str, JsonValue] = {}
    for key, (key_node, value_node) in found.items():
        if not _VARIABLE.fullmatch(key):
            checks.problem(
                key_node,
                "variables",
                f"a variable name is a word ([A-Za-z_][A-Za-z0-9_]*), got {quote(key)}",
            )
        elif key in _RESERVED:
            checks.problem(key_node, "variables", f"{quote(key)} is a built-in name")
        value = checks.json(value_node, join("variables", key))
        if not isinstance(value, Invalid):
            variables[key] = value
        else:
            variables[key] = None  # keeps the name known: no follow-up problems
    size = len(encode(variables))
    if size > MAX_VARIABLES_BYTES:
        checks.problem(
            node,
            "variables",
            f"their JSON is {size} bytes, at most {MAX_VARIABLES_BYTES}"
            " (as a value in the tree): keep a long list in the tree and read it"
            " with kv()",
        )
    return variables


def _conditions(
    checks: Checks, entries: dict[str, tuple[yaml.Node, yaml.Node]]
) -> tuple[CompiledExpression, ...]:
    if "conditions" not in entries:
        return ()
    node = entries["conditions"][1]
    items = (
        [node]
        if isinstance(node, yaml.ScalarNode)
        else checks.sequence(node, "conditions", MAX_CONDITIONS)
    )
    compiled = []
    for index, item in enumerate(items or ()):
        where = "conditions" if item is node else f"conditions[{index}]"
        expression = checks.expression(item, where)
        if expression is not None:
            compiled.append(expression)
    return tuple(compiled)


def _yaml_problem(exc: yaml.YAMLError, text: str) -> Problem:
    """A YAML syntax error as a problem at its mark (the first the parser gives)."""
    if isinstance(exc, yaml.reader.ReaderError):
        breaks = list(_LINE_BREAK.finditer(text, 0, exc.position))
        line = len(breaks) + 1
        col = exc.position - (breaks[-1].end() if breaks else 0) + 1
        return Problem(
            line, col, f"YAML: character U+{exc.character:04X} is not allowed"
        )
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        message = (exc.problem or exc.context or "not valid YAML") + hint(exc, text)
        if "single document" in (exc.context or ""):
            message = "one document per text (a second '---' document found)"
        if mark is not None:
            return Problem(mark.line + 1, mark.column + 1, f"YAML: {message}")
        return Problem(1, 1, f"YAML: {message}")
    return Problem(1, 1, f"YAML: {exc}")
