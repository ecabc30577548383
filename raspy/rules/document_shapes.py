"""The checks of a scenario document's shapes and scalars that every part of the
loader shares (mappings and their keys, lists, text, numbers, durations), each
problem recorded with its line and column, never raised: the loader reports all of
them at once. Checks (document_checks.py) adds templates, expressions and JSON."""

from __future__ import annotations

import contextlib
import difflib
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TypeVar, cast

import yaml

from raspy.devices.template import JsonValue
from raspy.errors import quote
from raspy.rules import duration
from raspy.rules.document_words import raspy_word
from raspy.rules.document_yaml import (
    Invalid,
    duration_mapping_hint,
    is_text,
    kind_of,
    misread,
    number_slip,
    scalar,
)

T = TypeVar("T")


@dataclass(frozen=True, slots=True, order=True)
class Problem:
    """One thing wrong with a document; line and col are 1-based."""

    line: int
    col: int
    message: str


@dataclass(slots=True)
class ShapeChecks:
    """The problems found so far, and what templates and expressions may name; the
    base of Checks (document_checks.py), which checks those."""

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
        belongs: Mapping[str, str] | None = None,
    ) -> bool:
        """Whether every key is `allowed`; a problem for each other one, with a
        hint: where a key of another kind of entry `belongs` (a trigger's `for:`
        on an `at:` trigger), another system's word, or a near spelling."""
        allowed = tuple(allowed)
        ok = True
        for key, (key_node, _) in entries.items():
            if key not in allowed:
                hint = (
                    f" {quote(key)} ({key}: belongs to {belongs[key]})"
                    if belongs and key in belongs
                    else raspy_word(key, allowed) or did_you_mean(key, allowed)
                )
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
        signed = duration.DURATION_FIELDS.get(parse)
        if signed is not None and not (raw or clock):
            # `wait: 010` waited 8 s, `0x10` 16 s, `08` (YAML's text) 8 s: refused as
            # a number is elsewhere; but where no sign goes, `-010` is told that
            # (as written), not to write -10
            if not signed and node.value.startswith("-") and misread(node, value):
                value = node.value
            elif self.slipped(node, path, value, text=False):
                return None
        try:
            return parse(value)
        except ValueError as exc:
            self.problem(node, path, str(exc))
            return None


def join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


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
