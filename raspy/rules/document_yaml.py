"""YAML for scenario documents: safe composing into located nodes, and reading
scalars. Only PyYAML's SafeLoader composes; nothing is constructed by PyYAML, so no
tag can build a Python object. Aliases, foreign tags and deep nesting are refused.
"""

from __future__ import annotations

import math
import re
from typing import Final

import yaml
from yaml.constructor import SafeConstructor

from raspy.devices.template import JsonValue
from raspy.errors import quote
from raspy.records import frozen
from raspy.rules.duration import mapping_hint

MAX_DEPTH: Final = 32
_TAG: Final = "tag:yaml.org,2002:"
_TEXT_TAGS: Final = frozenset(
    f"{_TAG}{name}" for name in ("str", "timestamp", "merge", "value")
)
_SCALAR_TAGS: Final = _TEXT_TAGS | {
    f"{_TAG}{name}" for name in ("int", "float", "bool", "null")
}
_NUMBER_TAGS: Final = frozenset({f"{_TAG}int", f"{_TAG}float"})
_ALLOWED_TAGS: Final = _SCALAR_TAGS | {f"{_TAG}seq", f"{_TAG}map"}
_SHORT_TAGS: Final = {f"{_TAG}seq": "a list", f"{_TAG}map": "a mapping"}
_CONSTRUCTOR: Final = SafeConstructor()  # only its scalar readers are used: no state


class Invalid:
    """The result of a check that failed (its problem is already recorded)."""


INVALID: Final = Invalid()


class SafeComposer(yaml.SafeLoader):
    """SafeLoader's composer, refusing aliases (no billion laughs), foreign tags and
    deep nesting.

    Pure Python on purpose: libyaml's parser is about 4x faster but accepts some
    texts PyYAML refuses (tabs, `?` keys), so a document would pass or fail
    depending on how PyYAML was built on each machine.
    """

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


# JSON's numbers with an exponent, as json.dumps and JavaScript write them (`1e-05`,
# `1e+16`, `2.5e5`): YAML 1.1 reads them as text (its floats need a dot and a signed
# exponent), so a JSON document, which the docs call YAML too, set a string
EXPONENT_FLOAT: Final = re.compile(r"^[-+]?[0-9]+(?:\.[0-9]*)?[eE][-+]?[0-9]+$")
NUMBER_STARTS: Final = list("-+0123456789")
SafeComposer.add_implicit_resolver(f"{_TAG}float", EXPONENT_FLOAT, NUMBER_STARTS)


def compose(text: str) -> yaml.Node | None:
    """The node tree of a single-document YAML text; raises yaml.YAMLError."""
    loader = SafeComposer(text)
    try:
        return loader.get_single_node()
    finally:
        loader.dispose()


def without_entry(text: str, key: str) -> str | None:
    """A valid document's text with the lines of its top-level `key` entry left out
    (line breaks as LF), to tell a text that differs from another only there; None
    when that entry shares a line with another (a flow mapping) or the text is no
    mapping: no line of its own to leave out."""
    root = compose(text)
    if not isinstance(root, yaml.MappingNode) or root.flow_style:
        return None
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    for index, (name, value) in enumerate(root.value):
        if not (isinstance(name, yaml.ScalarNode) and name.value == key):
            continue
        first, last = name.start_mark.line, _last_line(value)
        rest = root.value[:index] + root.value[index + 1 :]
        if any(k.start_mark.line <= last and _last_line(v) >= first for k, v in rest):
            return None  # another entry on those lines
        return "\n".join(lines[:first] + lines[last + 1 :])
    return "\n".join(lines)


def _last_line(node: yaml.Node) -> int:
    """The last line a node's text is on: its end mark is past its last character,
    at column 0 of the next line after a block scalar or a block collection."""
    end = node.end_mark
    return max(node.start_mark.line, end.line - 1 if end.column == 0 else end.line)


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
    if isinstance(value, int) and not _writable(value):
        # a hex or base-60 int escapes Python's digit limit above, to fail later
        # wherever it is written as text (a condition, a log line, a call's body)
        return INVALID
    return value


def _writable(value: int) -> bool:
    """Whether Python writes the int as text (within its digit limit)."""
    try:
        str(value)
    except ValueError:
        return False
    return True


_OCTAL: Final = re.compile(r"[-+]?0[0-7_]+")  # YAML 1.1's octal int: 010 is 8
_LEADING_ZERO: Final = re.compile(r"[-+]?0[0-9_]+")  # 08 and 09 are text
# YAML 1.1's hexadecimal and binary ints (0x1F is 31, 0b101 is 5): JSON has
# neither, and YAML 1.2 reads 0b101 as text
_RADIX: Final = re.compile(r"[-+]?0(x[0-9a-fA-F_]+|b[01_]+)")
_RADIX_NAMES: Final = {"x": "hexadecimal", "b": "binary"}


@frozen
class Misread:
    """A bare number YAML 1.1 reads otherwise than it looks: `raw` as written,
    `reading` what YAML makes of it, `meant` the number it looks like (None when
    that is not known: a base-60 `1:30` may be text, or 90 indeed)."""

    raw: str
    reading: str
    meant: int | float | None

    def said(self) -> str:
        return f"a bare {self.raw} is {self.reading}"


def misread(node: yaml.Node, value: JsonValue) -> Misread | None:
    """How YAML 1.1 misreads the bare number at `node` (`6:45` is 405 in base 60,
    `010` is 8 in octal, `08` is text: its octal has no 8) or reads one JSON has
    not (`0x1F`, `0b101`, which `raspy device` sends as text); None for any other
    value. `value`: the node's scalar."""
    if not isinstance(node, yaml.ScalarNode) or isinstance(value, bool):
        return None
    raw = str(node.value)
    if isinstance(value, str):  # a bare 08 or 09 (`-09`, `0_8`), where 07 is 7
        if node.style not in (None, "") or not _LEADING_ZERO.fullmatch(raw):
            return None
        reading = f"YAML's text {quote(raw)}, not a number"
        return Misread(raw, reading, int(raw.replace("_", ""), 10))
    if not isinstance(value, int | float) or node.tag not in _NUMBER_TAGS:
        return None
    if ":" in raw:
        return Misread(raw, f"YAML's base-60 number {value!r}", None)
    radix = _RADIX.fullmatch(raw)
    if radix is not None:
        name = _RADIX_NAMES[radix[1][0]]
        return Misread(raw, f"YAML's {name} number {value!r}", value)
    if _OCTAL.fullmatch(raw):
        decimal = int(raw.replace("_", ""), 10)
        if decimal != value:
            return Misread(raw, f"YAML's octal number {value!r}", decimal)
    return None


def number_slip(node: yaml.Node, value: JsonValue, *, text: bool = True) -> str | None:
    """What is wrong with a bare number YAML 1.1 reads otherwise than it looks
    (misread), said with its fix; None for any other value. `text`: the place
    takes text too (a JSON value), so quoting it is a fix; where only a number
    goes (`above:`, a `count:`, a duration) it is not. A time of day has its own
    words for it."""
    found = misread(node, value)
    if found is None:
        return None
    raw = found.raw
    if found.meant is None:  # base 60
        fix = f"quote it, {quote(raw)}" if text else f"write {value!r} if it is meant"
    else:
        write = f"write {found.meant!r}"
        fix = f"quote it, {quote(raw)}, or {write}" if text else write
    return f"{found.said()}: {fix}"


def is_text(node: yaml.Node) -> bool:
    """A string scalar: quoted, or plain text that YAML resolves to str."""
    return isinstance(node, yaml.ScalarNode) and node.tag in _TEXT_TAGS


def kind_of(node: yaml.Node, *, text_wanted: bool = False) -> str:
    """What a node is, for a message: a list, text 'x', true, null, 5, a number ...
    A bare on, off, yes or no is named as written; `text_wanted` (the place takes
    any text) adds the fix, quoting it: elsewhere (a number, a duration, one of a
    few words) the quoted word would be refused as well."""
    if node.tag in _SHORT_TAGS:
        return _SHORT_TAGS[node.tag]
    if node.tag not in _SCALAR_TAGS:
        return f"the tag {_short(node.tag)}"
    if is_text(node):
        return f"text {quote(node.value)}"
    value = scalar(node)
    if value is None:
        return "null"
    raw = str(node.value)
    if isinstance(value, bool):
        word = "true" if value else "false"
        if raw.lower() == word:
            return word
        # YAML 1.1 reads a bare on, off, yes, no as a boolean: `action: on` is true
        fix = f": quote it, {quote(raw)}" if text_wanted else ""
        return f"{word} (a bare {raw} is YAML's {word}{fix})"
    return raw if len(raw) <= 24 else f"a number of {len(raw)} characters"


def text_offset(node: yaml.Node, offset: int, text: str) -> int:
    """Columns from the node's start to `offset` in its value, where the value sits on
    one line of `text` as written (plain, or quoted without escapes); else 0."""
    start, end = node.start_mark, node.end_mark
    if not isinstance(node, yaml.ScalarNode) or start.line != end.line:
        return 0
    written = text[start.index : end.index]
    if node.style in (None, "") and written == node.value:
        return offset
    if node.style in ("'", '"') and written[1:-1] == node.value:
        return offset + 1
    return 0


def _short(tag: str) -> str:
    shown = f"!!{tag.removeprefix(_TAG)}" if tag.startswith(_TAG) else tag
    return quote(shown)


def duration_mapping_hint(node: yaml.Node, *, signed: bool = False) -> str | None:
    """Home Assistant's duration mapping at `node` (`{minutes: 5}`) refused with
    raspy's form for it (raspy.rules.duration; `signed`: an offset's); None for any
    other."""
    if not isinstance(node, yaml.MappingNode):
        return None
    found: dict[str, object] = {}
    slip: Misread | None = None
    for key, value in node.value:
        if not isinstance(key, yaml.ScalarNode) or not isinstance(
            value, yaml.ScalarNode
        ):
            return None
        amount = scalar(value)
        # a number past Python's digit limit (INVALID) is too long in any unit
        found[key.value] = math.inf if isinstance(amount, Invalid) else amount
        wrong = None if isinstance(amount, Invalid) else misread(value, amount)
        if wrong is not None and wrong.meant is not None:  # `{seconds: 010}`
            found[key.value] = wrong.meant  # written as it looks: 10s, not 8s
            slip = slip or wrong
    return mapping_hint(
        found, signed=signed, slip=None if slip is None else slip.said()
    )
