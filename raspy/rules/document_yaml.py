"""YAML for scenario documents: safe composing into located nodes, and the checks
every part of the loader shares (types, keys, templates, expressions), each problem
with its line and column. Only PyYAML's SafeLoader composes; nothing is constructed
by PyYAML, so no tag can build a Python object.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Final, TypeVar

import yaml
from yaml.constructor import SafeConstructor

from raspy.devices.template import JsonValue
from raspy.errors import quote
from raspy.rules import template
from raspy.rules.expr import CompiledExpression, ExpressionError, compile_expression

MAX_DEPTH: Final = 32
_TAG: Final = "tag:yaml.org,2002:"
_TEXT_TAGS: Final = frozenset(
    f"{_TAG}{name}" for name in ("str", "timestamp", "merge", "value")
)
_SCALAR_TAGS: Final = _TEXT_TAGS | {
    f"{_TAG}{name}" for name in ("int", "float", "bool", "null")
}
_ALLOWED_TAGS: Final = _SCALAR_TAGS | {f"{_TAG}seq", f"{_TAG}map"}
_SHORT_TAGS: Final = {f"{_TAG}seq": "a list", f"{_TAG}map": "a mapping"}
T = TypeVar("T")
_CONSTRUCTOR: Final = SafeConstructor()  # only its scalar readers are used: no state


@dataclass(frozen=True, slots=True, order=True)
class Problem:
    """One thing wrong with a document; line and col are 1-based."""

    line: int
    col: int
    message: str


class Invalid:
    """The result of a check that failed (its problem is already recorded)."""


INVALID: Final = Invalid()


class SafeComposer(yaml.SafeLoader):
    """SafeLoader's composer, refusing aliases (no billion laughs) and deep nesting."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]  # untyped in stubs
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed", event.start_mark
            )
        self._depth += 1
        if self._depth > MAX_DEPTH:
            event = self.peek_event()  # type: ignore[no-untyped-call]  # untyped in stubs
            raise yaml.composer.ComposerError(
                None, None, f"nesting deeper than {MAX_DEPTH} levels", event.start_mark
            )
        node = super().compose_node(parent, index)
        self._depth -= 1
        if node is not None and node.tag not in _ALLOWED_TAGS:
            raise yaml.composer.ComposerError(
                None,
                None,
                f"the tag {_short(node.tag)} is not allowed",
                node.start_mark,
            )
        return node


def compose(text: str) -> yaml.Node | None:
    """The node tree of a single-document YAML text; raises yaml.YAMLError."""
    loader = SafeComposer(text)
    try:
        return loader.get_single_node()
    finally:
        loader.dispose()


@dataclass(slots=True)
class Checks:
    """The problems found so far, and what templates and expressions may name."""

    problems: list[Problem] = field(default_factory=list)
    variables: frozenset[str] = frozenset()

    # --- recording --------------------------------------------------------------------
    def problem(
        self, node: yaml.Node, path: str, message: str, offset: int = 0
    ) -> None:
        line = node.start_mark.line + 1
        col = node.start_mark.column + 1 + offset
        self.problems.append(
            Problem(line, col, f"{path}: {message}" if path else message)
        )

    # --- shapes -----------------------------------------------------------------------
    def mapping(
        self, node: yaml.Node, path: str
    ) -> dict[str, tuple[yaml.Node, yaml.Node]] | None:
        """Entries by key (key node, value node); None (and a problem) if not a
        mapping. A key that is not text, or repeated, is a problem and left out, so
        the rest is still checked."""
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, path, f"expected a mapping, got {kind_of(node)}")
            return None
        entries: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key_node, value_node in node.value:
            if not is_text(key_node):
                self.problem(
                    key_node, path, f"a key must be text, got {kind_of(key_node)}"
                )
            elif key_node.value in entries:
                self.problem(key_node, join(path, key_node.value), "duplicate key")
            else:
                entries[key_node.value] = (key_node, value_node)
        return entries

    def known_keys(
        self,
        entries: dict[str, tuple[yaml.Node, yaml.Node]],
        path: str,
        allowed: Iterable[str],
    ) -> bool:
        allowed = tuple(allowed)
        ok = True
        for key, (key_node, _) in entries.items():
            if key not in allowed:
                self.problem(key_node, path, f"unknown key{did_you_mean(key, allowed)}")
                ok = False
        return ok

    def sequence(
        self, node: yaml.Node, path: str, limit: int
    ) -> list[yaml.Node] | None:
        if not isinstance(node, yaml.SequenceNode):
            self.problem(node, path, f"expected a list, got {kind_of(node)}")
            return None
        if len(node.value) > limit:
            self.problem(node, path, f"at most {limit} items, got {len(node.value)}")
            return None
        items: list[yaml.Node] = node.value
        return items

    # --- scalars ----------------------------------------------------------------------
    def text(self, node: yaml.Node, path: str, *, limit: int = 1024) -> str | None:
        if not is_text(node):
            self.problem(node, path, f"expected text, got {kind_of(node)}")
            return None
        value: str = node.value
        if len(value) > limit:
            self.problem(node, path, f"text longer than {limit} characters")
            return None
        return value

    def pattern_text(
        self, node: yaml.Node, path: str, pattern: str, what: str
    ) -> str | None:
        value = self.text(node, path)
        if value is not None and not re.fullmatch(pattern, value):
            self.problem(node, path, f"expected {what}, got {quote(value)}")
            return None
        return value

    def template(
        self, node: yaml.Node, path: str, known: frozenset[str] | None = None
    ) -> str | None:
        value = self.text(node, path)
        if value is not None and not self.check_template(node, path, value, known):
            return None
        return value

    def check_template(
        self,
        node: yaml.Node,
        path: str,
        value: str,
        known: frozenset[str] | None = None,
        *,
        base: int | None = 0,
    ) -> bool:
        """Whether `value` (at offset `base` of the node's text; None: unknown) is a
        template naming only `known` (default: built-ins and variables)."""
        names = (template.BUILTIN_NAMES | self.variables) if known is None else known
        try:
            template.check(value, names)
        except template.TemplateError as exc:
            offset = 0 if base is None else text_offset(node, base + exc.offset)
            self.problem(node, path, exc.reason, offset)
            return False
        return True

    def boolean(self, node: yaml.Node, path: str) -> bool | None:
        value = scalar(node)
        if not isinstance(value, bool):
            self.problem(node, path, f"expected true or false, got {kind_of(node)}")
            return None
        return value

    def number(self, node: yaml.Node, path: str) -> float | None:
        value = scalar(node)
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.problem(node, path, f"expected a number, got {kind_of(node)}")
            return None
        if not math.isfinite(value):
            self.problem(node, path, f"expected a finite number, got {node.value}")
            return None
        try:
            return float(value)
        except OverflowError:
            self.problem(node, path, "number out of range")
            return None

    def integer(self, node: yaml.Node, path: str, low: int, high: int) -> int | None:
        value = scalar(node)
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or not low <= value <= high
        ):
            self.problem(
                node,
                path,
                f"expected a whole number from {low} to {high}, got {kind_of(node)}",
            )
            return None
        return value

    def parsed(
        self,
        node: yaml.Node,
        path: str,
        parse: Callable[[object], T],
        *,
        raw: bool = False,
    ) -> T | None:
        """`parse` of the scalar (its raw text when `raw`); its ValueError is the problem."""
        if not isinstance(node, yaml.ScalarNode):
            self.problem(node, path, f"expected a value, got {kind_of(node)}")
            return None
        try:
            return parse(node.value if raw else scalar(node))
        except ValueError as exc:
            self.problem(node, path, str(exc))
            return None

    def expression(self, node: yaml.Node, path: str) -> CompiledExpression | None:
        source = self.text(node, path, limit=1 << 20)  # compile_expression bounds it
        if source is None:
            return None
        try:
            compiled = compile_expression(source)
        except ExpressionError as exc:
            self.problem(node, path, exc.reason, text_offset(node, exc.offset))
            return None
        for name, offset in compiled.variable_uses():
            if name not in self.variables:
                message = f"unknown variable{did_you_mean(name, self.variables)}"
                self.problem(node, path, message, text_offset(node, offset))
                return None
        for key, offset in compiled.kv_literals():
            # the key's template offsets hold inside the literal when it has no escapes
            base = (
                offset + 1
                if source[offset + 1 : offset + 1 + len(key)] == key
                else None
            )
            if not self.check_template(node, path, key, base=base):
                return None
        return compiled

    def json(
        self, node: yaml.Node, path: str, *, templates: bool = False
    ) -> JsonValue | Invalid:
        """Any YAML value as JSON (mappings with text keys, finite numbers); with
        `templates`, every string in it must be a good template."""
        if isinstance(node, yaml.SequenceNode):
            items = [
                self.json(item, f"{path}[{i}]", templates=templates)
                for i, item in enumerate(node.value)
            ]
            if any(isinstance(item, Invalid) for item in items):
                return INVALID
            return [item for item in items if not isinstance(item, Invalid)]
        if isinstance(node, yaml.MappingNode):
            entries = self.mapping(node, path)
            if entries is None:
                return INVALID
            values = {
                k: self.json(v, join(path, k), templates=templates)
                for k, (_, v) in entries.items()
            }
            if any(isinstance(value, Invalid) for value in values.values()):
                return INVALID
            return {k: v for k, v in values.items() if not isinstance(v, Invalid)}
        value = scalar(node)
        if isinstance(value, Invalid):
            self.problem(node, path, f"expected a JSON value, got {kind_of(node)}")
            return INVALID
        if isinstance(value, float) and not math.isfinite(value):
            self.problem(node, path, f"expected a finite number, got {kind_of(node)}")
            return INVALID
        if templates and isinstance(value, str):
            return value if self.check_template(node, path, value) else INVALID
        return value


def scalar(node: yaml.Node) -> JsonValue | Invalid:
    """The value of a scalar of a safe tag; INVALID for anything else."""
    if not isinstance(node, yaml.ScalarNode) or node.tag not in _SCALAR_TAGS:
        return INVALID
    constructor = _CONSTRUCTOR
    tag = node.tag.removeprefix(_TAG)
    try:
        if tag == "null":
            return None
        if tag == "bool":
            value: JsonValue = constructor.construct_yaml_bool(node)
        elif tag == "int":
            value = constructor.construct_yaml_int(node)
        elif tag == "float":
            value = constructor.construct_yaml_float(node)
        else:  # str, and timestamps stay the text as written
            value = str(node.value)
    except ValueError:  # an int past Python's digit limit
        return INVALID
    return value


def is_text(node: yaml.Node) -> bool:
    """A string scalar: quoted, or plain text that YAML resolves to str."""
    return isinstance(node, yaml.ScalarNode) and node.tag in _TEXT_TAGS


def kind_of(node: yaml.Node) -> str:
    """What a node is, for a message: a list, text 'x', true, null, 5, a number ..."""
    if node.tag in _SHORT_TAGS:
        return _SHORT_TAGS[node.tag]
    if node.tag not in _SCALAR_TAGS:
        return f"the tag {_short(node.tag)}"
    if is_text(node):
        return f"text {quote(node.value)}"
    value = scalar(node)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    raw = str(node.value)
    return raw if len(raw) <= 24 else f"a number of {len(raw)} characters"


def text_offset(node: yaml.Node, offset: int) -> int:
    """Columns from the node's start to `offset` in its text, where the text sits on
    one line as written (plain, or quoted without escapes); else 0 (the node start)."""
    start, end = node.start_mark, node.end_mark
    if (
        not isinstance(node, yaml.ScalarNode)
        or start.line != end.line
        or start.buffer is None
    ):
        return 0
    written = start.buffer[start.pointer : end.pointer]
    if node.style is None and written == node.value:
        return offset
    if node.style in ("'", '"') and written[1:-1] == node.value:
        return offset + 1
    return 0


def _short(tag: str) -> str:
    shown = f"!!{tag.removeprefix(_TAG)}" if tag.startswith(_TAG) else tag
    return quote(shown)


def join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return (
        f" {quote(word)} (did you mean {quote(close[0])}?)"
        if close
        else f" {quote(word)}"
    )
