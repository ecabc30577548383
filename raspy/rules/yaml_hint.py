"""A plain hint after PyYAML's words for the commonest slips in a scenario's YAML (a
tab, a missing ':', a quote never closed or closed too soon, an indentation that
is off, a second ': ' in a value), whose words name the parser's tokens rather
than the slip: `expected <block end>, but found '<block mapping start>'`.

Pure: the error and the text in, the hint out (empty when there is none). It never
replaces PyYAML's words nor its place, only follows them, and reads no more than
the error and the line it points at: no second parse.
"""

from __future__ import annotations

import re
from typing import Final

import yaml

# the line breaks of YAML 1.1 (PyYAML's reader counts lines by them)
_LINE_BREAK: Final = re.compile(r"\r\n|[\n\r\x85\u2028\u2029]")
_EARLIER_VALUE: Final = re.compile(r":[ \t]")  # a key's ':' before the mark
_TAB: Final = "(a tab: YAML takes spaces, never tabs)"
_INDENT: Final = (
    "(check the indentation: the keys of one mapping, and the '- ' items of one "
    "list, start in the same column)"
)
_SECOND_COLON: Final = "(a value that holds ': ' goes in quotes: text: \"Door: open\")"
_DEEPER: Final = (
    "(is this line indented deeper than the key before it, or the line above "
    "missing its ':'?)"
)
_AFTER_QUOTE: Final = (
    "(text after a closing quote: a quote inside a value goes in the other kind, "
    '"don\'t" or \'say "hi"\')'
)


def hint(exc: yaml.MarkedYAMLError, text: str) -> str:
    """` (what the slip likely is)` to append to PyYAML's words, or ""."""
    problem = exc.problem or ""
    context = exc.context or ""
    mark, opened = exc.problem_mark, exc.context_mark
    if "'\\t'" in problem or "tab character" in problem:
        return f" {_TAB}"
    if context == "while scanning a quoted scalar" and opened is not None:
        where = f"{_up(opened, mark)}, at column {opened.column + 1}"
        return f" (the quote opened {where}, is never closed)"
    if problem == "could not find expected ':'" and opened is not None:
        return f" (is the ':' after the key {_up(opened, mark)} missing?)"
    if problem == "mapping values are not allowed here" and mark is not None:
        line = _LINE_BREAK.split(text[: mark.index])[-1]
        return f" {_SECOND_COLON if _EARLIER_VALUE.search(line) else _DEEPER}"
    if (
        problem == "expected <block end>, but found '<scalar>'"
        and mark is not None
        and 0 < mark.index <= len(text)
        and text[mark.index - 1] in "'\""
    ):
        return f" {_AFTER_QUOTE}"
    if problem.startswith(
        ("expected <block end>, but found", "expected '<document start>', but found")
    ):
        return f" {_INDENT}"
    return ""


def _up(opened: yaml.Mark, mark: yaml.Mark | None) -> str:
    """Where `opened` is, from the place the message names (`mark`): `on this
    line`, `on the line above`, `3 lines above`. Never its own line number: a document of a
    stream is read alone, and its place is made a line of the file after this
    (raspy.rules.scenario_stream.shift_problem), which a number in the words would
    miss."""
    lines = 0 if mark is None else mark.line - opened.line
    if lines <= 0:
        return "on this line"
    return "on the line above" if lines == 1 else f"{lines} lines above"
