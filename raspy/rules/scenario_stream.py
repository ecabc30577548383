"""A file of scenarios as a YAML stream: cut into its documents, joined into one,
a document's problem placed as a line of the file, its bytes read as UTF-8.

Apart from raspy.cli.scenario_text (requests, replies, what the tools print)
because the hub's core cuts its preload files the same way (actors.core.service),
and that needs none of the rest. Pure: no files, no YAML parser.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

from raspy.records import frozen

STREAM_SEPARATOR: Final = "---\n"
# YAML: a `---` at column 0 always starts a new document (block scalars are indented).
_SEPARATOR_LINE: Final = re.compile(r"---[ \t]*(#.*)?\r?\n?")
PROBLEM: Final = re.compile(r"(?P<line>\d+):(?P<col>\d+): (?P<message>.*)", re.DOTALL)
"""A problem's place and words after its source: `line:col: message`."""


@frozen
class Piece:
    """One document of a file; `first_line` (0-based) is where it starts in the file."""

    text: str
    first_line: int


def join_stream(documents: Sequence[str]) -> str:
    """One document exactly as given; several as a YAML stream, `---` between them
    (a line break is added to a document that does not end with one)."""
    if len(documents) == 1:
        return documents[0]
    return STREAM_SEPARATOR.join(
        text if text.endswith("\n") else text + "\n" for text in documents
    )


def split_stream(text: str) -> list[Piece]:
    """The documents of a file: the whole text when it has no `---` line, else the
    text between those lines that is more than blanks and comments. A directive
    (`%YAML 1.1`) before a `---` line is the next document's (YAML's own way to
    start one), left out as that `---` line is."""
    lines = _lines(text)
    if not any(is_separator(line) for line in lines):
        return [Piece(text, 0)]
    pieces: list[Piece] = []
    start, chunk = 0, list[str]()
    for number, line in enumerate([*lines, None]):
        if line is None or is_separator(line):
            if line is not None:  # the end of the text starts no next document
                chunk = _before_directives(chunk)
            if _has_content(chunk):
                pieces.append(Piece("".join(chunk), start))
            start, chunk = number + 1, []
        else:
            chunk.append(line)
    return pieces


def _before_directives(chunk: list[str]) -> list[str]:
    """`chunk` without the directives at its end (and the blanks and comments
    among and after them): they start the document after the `---` line."""
    end = len(chunk)
    for index in range(len(chunk) - 1, -1, -1):
        if chunk[index].startswith("%"):
            end = index
        elif _has_content(chunk[index : index + 1]):
            break
    return chunk[:end]


def _lines(text: str) -> list[str]:
    """The lines of a text, each with its `\n` (other breaks stay inside a line)."""
    lines = [line + "\n" for line in text.split("\n")]
    lines[-1] = lines[-1][:-1]
    return lines if lines[-1] else lines[:-1]


def is_separator(line: str) -> bool:
    """A `---` line (a comment may follow): where a YAML document starts."""
    return _SEPARATOR_LINE.fullmatch(line) is not None


def _has_content(lines: Sequence[str]) -> bool:
    return any(line.strip() and not line.lstrip().startswith("#") for line in lines)


def problem_place(problem: str, source: str) -> re.Match[str] | None:
    """`source:line:col: message` as its line, col and message; None for a
    problem that names no place in `source`."""
    prefix = f"{source}:"
    if not problem.startswith(prefix):
        return None
    return PROBLEM.fullmatch(problem[len(prefix) :])


def shift_problem(problem: str, source: str, line_offset: int) -> str:
    """`source:line:col: message` of a document inside a stream, as a line of the file."""
    found = problem_place(problem, source)
    if line_offset == 0 or found is None:
        return problem
    line = int(found["line"]) + line_offset
    return f"{source}:{line}:{found['col']}: {found['message']}"


def decode_document(data: bytes, source: str) -> tuple[str | None, str | None]:
    """(text, None) for UTF-8, else (None, `source:line:col: not UTF-8 text`)."""
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        col = exc.start - (before.rfind(b"\n") + 1) + 1
        return None, f"{source}:{line}:{col}: not UTF-8 text"


def name_place(text: str, source: str, first_line: int) -> str:
    """`file:line:col: name` of a valid document's name, as a line of its file
    (`first_line`: where the document begins in it)."""
    from raspy.rules.document import place  # YAML: with the first document read

    path, line, col = place(text, "name")
    return f"{source}:{line + first_line}:{col}: {path or 'name'}"
