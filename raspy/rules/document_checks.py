"""The checks every part of the scenario loader shares (shapes, types, keys,
templates, expressions), each problem recorded with its line and column, never
raised: the loader reports all of them at once."""

from __future__ import annotations

import contextlib
import difflib
import math
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar, cast

import yaml

from raspy.devices.template import JsonValue
from raspy.errors import quote
from raspy.rules import duration, model, template
from raspy.rules.document_words import raspy_word
from raspy.rules.document_yaml import (
    INVALID,
    Invalid,
    duration_mapping_hint,
    is_text,
    kind_of,
    number_slip,
    scalar,
    text_offset,
)
from raspy.rules.expr import CompiledExpression, ExpressionError, compile_expression
from raspy.rules.expr_functions import FUNCTIONS

T = TypeVar("T")


@dataclass(frozen=True, slots=True, order=True)
class Problem:
    """One thing wrong with a document; line and col are 1-based."""

    line: int
    col: int
    message: str


@dataclass(slots=True)
class Checks:
    """The problems found so far, and what templates and expressions may name."""

    document: str = ""  # the text, for columns inside values
    problems: list[Problem] = field(default_factory=list)
    variables: frozenset[str] = frozenset()
    repeats: int = 0  # how many repeats the part being read is in (repeat.index)
    # `{secret.NAME}` may be used: only in an `http:` action's url, headers and body
    secrets: bool = False

    @contextlib.contextmanager
    def secrets_allowed(self, allowed: bool = True) -> Iterator[None]:
        """Templates read inside may (or, `allowed` False, may not) fill in a
        secret: what is sent by an `http:` action and never written anywhere."""
        before, self.secrets = self.secrets, allowed
        try:
            yield
        finally:
            self.secrets = before

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
                    key_node,
                    path,
                    f"a key must be text, got {kind_of(key_node, text_wanted=True)}",
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
                hint = raspy_word(key, allowed) or did_you_mean(key, allowed)
                self.problem(key_node, path, f"unknown key{hint}")
                ok = False
        return ok

    def kind(
        self,
        node: yaml.Node,
        entries: dict[str, tuple[yaml.Node, yaml.Node]],
        path: str,
        kinds: tuple[str, ...],
        other_keys: Iterable[str],
        what: str,
    ) -> str | None:
        """The one key of `kinds` that says what an entry is (a trigger's `cron`, an
        action's `set`); None and a problem when there is none or more than one.
        `what` names the entry with its article ("a trigger")."""
        found = [key for key in entries if key in kinds]
        if not found:
            if self.known_keys(entries, path, (*kinds, *other_keys)):
                self.problem(node, path, f"{what} needs one of {', '.join(kinds)}")
            return None
        if len(found) > 1:
            noun = what.split(" ", 1)[1]
            self.problem(
                entries[found[1]][0],
                path,
                f"one kind per {noun}, got {found[0]} and {found[1]}",
            )
            return None
        return found[0]

    def sequence(
        self, node: yaml.Node, path: str, limit: int
    ) -> list[yaml.Node] | None:
        if not isinstance(node, yaml.SequenceNode):
            self.problem(node, path, f"expected a list, got {kind_of(node)}")
            return None
        if len(node.value) > limit:
            self.problem(node, path, f"at most {limit} items, got {len(node.value)}")
            return None
        return cast(list[yaml.Node], node.value)

    # --- scalars ----------------------------------------------------------------------
    def text(self, node: yaml.Node, path: str, *, limit: int = 1024) -> str | None:
        if not is_text(node):
            self.problem(
                node, path, f"expected text, got {kind_of(node, text_wanted=True)}"
            )
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
        self,
        node: yaml.Node,
        path: str,
        known: frozenset[str] | None = None,
        *,
        limit: int = 1024,
    ) -> str | None:
        value = self.text(node, path, limit=limit)
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
        if known is None and self.repeats:
            names = names | {template.REPEAT_INDEX}
        try:
            template.check(value, names, secrets=self.secrets)
        except template.TemplateError as exc:
            offset = (
                0
                if base is None
                else text_offset(node, base + exc.offset, self.document)
            )
            self.problem(node, path, _narrowed(exc.reason, known), offset)
            return False
        return True

    def slipped(
        self, node: yaml.Node, path: str, value: JsonValue | Invalid, *, text: bool
    ) -> bool:
        """Whether `value` is a bare number YAML 1.1 read otherwise than it looks
        (`010` is 8, `6:45` is 405), its problem recorded: every place that takes
        a number or a JSON value asks (`text`: it takes text too, so quoting it is
        a fix; document_yaml.number_slip)."""
        slip = (
            None if isinstance(value, Invalid) else number_slip(node, value, text=text)
        )
        if slip is not None:
            self.problem(node, path, slip)
        return slip is not None

    def boolean(self, node: yaml.Node, path: str) -> bool | None:
        value = scalar(node)
        if not isinstance(value, bool):
            self.problem(node, path, f"expected true or false, got {kind_of(node)}")
            return None
        return value

    def number(self, node: yaml.Node, path: str) -> float | None:
        value = scalar(node)
        if isinstance(value, Invalid) and node.tag.endswith("int"):  # no float holds
            self.problem(node, path, "number out of range")
            return None
        if self.slipped(node, path, value, text=False):
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.problem(node, path, f"expected a number, got {kind_of(node)}")
            return None
        try:  # before isfinite(), which raises the same for an int no float holds
            number = float(value)
        except OverflowError:
            self.problem(node, path, "number out of range")
            return None
        if not math.isfinite(number):
            self.problem(node, path, f"expected a finite number, got {node.value}")
            return None
        return number

    def integer(self, node: yaml.Node, path: str, low: int, high: int) -> int | None:
        value = scalar(node)
        if self.slipped(node, path, value, text=False):
            return None
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
            signed = duration.DURATION_FIELDS.get(parse)
            hint = (
                None if signed is None else duration_mapping_hint(node, signed=signed)
            )
            self.problem(node, path, hint or f"expected a value, got {kind_of(node)}")
            return None
        # a bare 1:30 is YAML 1.1's base-60 number 90: a duration is given the text
        # as written, to be told it reads like a clock (raspy.rules.duration)
        clock = node.tag.endswith(("int", "float")) and ":" in node.value
        value = node.value if raw or clock else scalar(node)
        if isinstance(value, Invalid):  # an int past Python's digit limit
            too_long = duration.DURATION_FIELDS.get(parse) is not None
            reason = "duration too long (at most 366d)" if too_long else "out of range"
            self.problem(node, path, f"{reason}, got {kind_of(node)}")
            return None
        try:
            return parse(value)
        except ValueError as exc:
            self.problem(node, path, str(exc))
            return None

    def expression(
        self, node: yaml.Node, path: str, *, test: bool = True
    ) -> CompiledExpression | None:
        """An expression; `test`: one that holds or not (an `if:`, a `while:`), where
        a list is Home Assistant's list of conditions, said so."""
        if test and isinstance(node, yaml.SequenceNode):
            self.problem(
                node,
                path,
                "expected an expression, got a list (one expression here: join"
                " the tests with and, e.g. kv('/a') == 1 and hour() >= 18)",
            )
            return None
        source = self.text(node, path, limit=1 << 20)  # compile_expression bounds it
        if source is None:
            return None
        try:
            compiled = compile_expression(source)
        except ExpressionError as exc:
            self.problem(
                node, path, exc.reason, text_offset(node, exc.offset, self.document)
            )
            return None
        for name, offset in compiled.variable_uses():
            if name not in self.variables:
                message = f"unknown variable{_unknown_name(name, self.variables)}"
                self.problem(
                    node, path, message, text_offset(node, offset, self.document)
                )
                return None
        if compiled.repeat_uses() and not self.repeats:
            offset = text_offset(node, compiled.repeat_uses()[0], self.document)
            self.problem(node, path, model.OUTSIDE_REPEAT, offset)
            return None
        for key, offset in compiled.kv_literals():
            # the key's template offsets hold inside the literal when it has no escapes
            base = (
                offset + 1
                if source[offset + 1 : offset + 1 + len(key)] == key
                else None
            )
            # a key is read from the tree: a secret there would be in its traces
            with self.secrets_allowed(False):
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
        if self.slipped(node, path, value, text=True):
            return INVALID
        if templates and isinstance(value, str):
            return value if self.check_template(node, path, value) else INVALID
        return value


def join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _unknown_name(name: str, variables: Iterable[str]) -> str:
    """did_you_mean() of a name an expression uses; a function's name written
    without its call (`random`, `now`, `hour`) is told how to call it."""
    if name in FUNCTIONS:
        return f" {quote(name)} (did you mean {name}()?)"
    return did_you_mean(name, variables)


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return " " + meant(word, close[0] if close else None)


def meant(word: str, guess: str | None) -> str:
    """`'word'`, and the name it is likely a typo of when there is one."""
    return (
        quote(word)
        if guess is None
        else f"{quote(word)} (did you mean {quote(guess)}?)"
    )


def _narrowed(reason: str, known: frozenset[str] | None) -> str:
    """An unknown name where only a few names may be used (a trigger's key: {host})
    says which: a variable of the scenario was told `unknown name 'room'` there."""
    if known is None or not reason.startswith("unknown name "):
        return reason
    allowed = ", ".join("{" + name + "}" for name in sorted(known))
    return f"{reason} (only {allowed} may be used here)"
