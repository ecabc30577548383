"""The dump a restore reads, a line at a time and twice (checked, then written): a
FILE as it is; stdin (`-`), or a FILE that is a pipe or a device, copied into a
private temp file first, which is removed at the end."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from raspy.atomic_file import is_special
from raspy.cli import EXIT_USAGE
from raspy.cli.kv_lines import EXIT_DATA, STDIO, Failure
from raspy.cli.kv_store import Progress
from raspy.errors import DumpFormatError
from raspy.records import frozen


@frozen
class Source:
    """The dump to read (`path`) and what the messages call it (`name`): the FILE,
    or `stdin` for `-`, kept in a temp file."""

    path: str
    name: str


def _lines(
    handle: IO[bytes], max_line: int, step: Callable[[int], None] | None = None
) -> Iterator[bytes]:
    """The lines of `handle`, a buffer at a time; a line longer than `max_line`
    bytes raises DumpFormatError."""
    number = 0
    while line := handle.readline(max_line + 1):
        number += 1
        if len(line) > max_line:
            raise DumpFormatError(
                number, f"longer than {max_line} bytes: no dump has such a line"
            )
        if step is not None:
            step(len(line))
        yield line


@contextmanager
def dump_lines(
    source: Source, max_line: int, progress: Progress | None = None
) -> Iterator[Iterator[bytes]]:
    """The dump's lines, read a buffer at a time (a restore never holds the file);
    a line longer than `max_line` bytes raises DumpFormatError."""
    try:
        handle = Path(source.path).open("rb")  # noqa: SIM115  # closed below
    except OSError as exc:
        raise Failure(f"cannot read {source.name}: {exc.strerror}", EXIT_USAGE) from exc
    step = progress.step if progress is not None and progress.shown else None
    with handle:
        yield _lines(handle, max_line, step)


@contextmanager
def source(file: str, max_line: int) -> Iterator[Source]:
    """The dump FILE; for `-` (or a FILE that is a pipe), what it gives copied into a
    private temp file first (a restore reads its dump twice), which is removed at
    the end. A line too long for a dump ends the copy (a pipe of /dev/zero must
    not fill the disk)."""
    # a pipe or a device (`<(ssh hub raspy-kv dump …)` names /dev/fd/N, a pipe) is
    # read once: kept in a temp file as stdin is
    if file != STDIO and not is_special(file):
        yield Source(file, file)
        return
    temp, name = _read_once(file, max_line)
    try:
        yield Source(temp, name)
    finally:
        Path(temp).unlink(missing_ok=True)


def _read_once(file: str, max_line: int) -> tuple[str, str]:
    """stdin (`-`) or the pipe FILE kept in a temp file: its path, and the name the
    restore's lines give it."""
    if file != STDIO:
        try:
            handle = Path(file).open("rb")  # noqa: SIM115  # closed below
        except OSError as exc:
            raise Failure(f"cannot read {file}: {exc.strerror}", EXIT_USAGE) from exc
        with handle:
            return _keep_stdin(handle, max_line, file), file
    if sys.stdin is None:  # closed by the caller (`<&-`): Python leaves it None
        raise Failure(
            "stdin (FILE -) is closed: pipe a dump in, or name the dump FILE"
            " instead of -",
            EXIT_USAGE,
        )
    stdin = sys.stdin.buffer
    if stdin.isatty():
        raise Failure(
            "stdin (FILE -) is a terminal, not a dump: pipe one in, or name the"
            " dump FILE instead of -",
            EXIT_USAGE,
        )
    return _keep_stdin(stdin, max_line, "stdin"), "stdin"


def _keep_stdin(stdin: IO[bytes], max_line: int, name: str) -> str:
    """stdin (or the pipe `name`) copied into a new temp file (0600: a whole
    store); its path."""
    temp = ""
    try:
        fd, temp = tempfile.mkstemp(prefix="raspy-kv-restore-", suffix=".dump")
        with os.fdopen(fd, "wb") as out:
            _copy_lines(stdin, out, max_line, name)
    except BaseException as exc:
        if temp:
            Path(temp).unlink(missing_ok=True)
        if isinstance(exc, OSError):  # of the temp file: stdin's are Failures
            raise Failure(_no_room(exc, name), EXIT_DATA) from exc
        raise
    return temp


def _copy_lines(stdin: IO[bytes], out: IO[bytes], max_line: int, name: str) -> None:
    lines = _lines(stdin, max_line)
    while True:
        try:
            line = next(lines, None)
        except DumpFormatError as exc:
            raise Failure(f"{name} {exc}", EXIT_DATA) from exc
        except OSError as exc:
            raise Failure(f"cannot read {name}: {exc.strerror}", EXIT_DATA) from exc
        if line is None:
            return
        out.write(line)


def _no_room(exc: OSError, name: str) -> str:
    instead = (
        "name the dump FILE instead of -"
        if name == "stdin"
        else "write the dump into a file first"
    )
    return (
        f"cannot keep {name} in {tempfile.gettempdir()} for the restore (it reads its"
        f" dump twice: checked, then written): {exc.strerror}; set TMPDIR to a"
        f" directory with room, or {instead}"
    )
