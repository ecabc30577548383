"""The files of `raspy scenario`: reading documents (a bounded read, UTF-8, YAML
streams) and checking them with the hub's loader; writing an export whole or not at
all. `Failure` carries the stderr lines and exit status of a command.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Final

from raspy.atomic_file import write_named_output
from raspy.cli import closed_stdout, flush_stdout, nowhere_to_go, output_status
from raspy.errors import quote
from raspy.file_head import read_head
from raspy.records import frozen
from raspy.rules import scenario_stream as stream

MAX_FILE_BYTES: Final = 1024 * 1024  # the service takes no larger request; whole MiB


class Failure(Exception):
    """Lines for stderr and an exit status; raised by a command, printed by `run`."""

    def __init__(self, status: int, *lines: str) -> None:
        super().__init__(lines[0] if lines else "")
        self.status = status
        self.lines = lines


@frozen
class Document:
    source: str  # the file name as given
    text: str
    first_line: int  # 0-based line of the file where this document starts


def _read_documents(path: str) -> tuple[list[Document], list[str]]:
    """Every document of a file, or the file's encoding problem; Failure(2) when it
    cannot be read at all."""
    try:
        data = read_head(path, MAX_FILE_BYTES + 1)  # a silent pipe: not for ever
    except OSError as exc:
        raise Failure(2, f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_FILE_BYTES:
        return [], [f"{path}:1:1: the file is larger than {MAX_FILE_BYTES >> 20} MiB"]
    decoded, problem = stream.decode_document(data, path)
    if decoded is None:
        return [], [problem or path]
    pieces = stream.split_stream(decoded)
    return [Document(path, piece.text, piece.first_line) for piece in pieces], []


def _check(documents: Sequence[Document]) -> tuple[list[str], dict[str, Document]]:
    """Every problem of every document (with file lines), and the good ones by name."""
    from raspy.rules.document import load_scenario, validate_scenario

    problems: list[str] = []
    named: dict[str, Document] = {}
    for document in documents:
        found = validate_scenario(document.text, document.source)
        if found:
            problems += [
                stream.shift_problem(p, document.source, document.first_line)
                for p in found
            ]
            continue
        name = load_scenario(document.text, document.source).name
        if name in named:
            problems.append(
                f"{name_place(document)}: {quote(name)} is also used in "
                f"{name_place(named[name])}"
            )
        else:
            named[name] = document
    return problems, named


def others_named(named: dict[str, Document], document: Document) -> list[str]:
    """The names of the other documents of these files that `document`'s `run:` or
    `stop:` name: the hub takes them as known (they are imported along with it) and
    warns only of the rest. Sent only when there are any: a hub from before
    "others" refuses the field, and the import then asks again without it."""
    from raspy.rules.document import load_scenario
    from raspy.rules.walk import scenarios_named

    scenario = load_scenario(document.text, document.source)
    names = {name for _, name in scenarios_named(scenario)}
    return sorted(n for n in names if n in named and n != scenario.name)


def name_place(document: Document) -> str:
    """`file:line:col: name` of a valid document's name, as a line of its file."""
    return stream.name_place(document.text, document.source, document.first_line)


def read_all(paths: Sequence[str]) -> tuple[list[str], dict[str, Document]]:
    documents: list[Document] = []
    problems: list[str] = []
    for path in paths:
        found, unreadable = _read_documents(path)
        documents += found
        problems += unreadable
    checked, named = _check(documents)
    return problems + checked, named


def write_output(output: str | None, data: bytes) -> None:
    """To stdout, or to a file through a temp file and a rename (never half written)."""
    if output is None:
        if sys.stdout is None:  # closed by the caller (`>&-`): Python leaves it None
            raise Failure(2, closed_stdout(nowhere_to_go("the export")))
        flush_stdout()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    try:
        write_named_output(output, data)
    except OSError as exc:
        # 2 for a FILE named wrong, 1 for a write that failed on the way (a full disk)
        raise Failure(
            output_status(exc), f"cannot write {output}: {exc.strerror or exc}"
        ) from None
