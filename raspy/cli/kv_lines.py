"""What every raspy-kv command says and ends with: its exit statuses, the failure
that carries one, the head of its lines, and stdout's errors. The live commands
(raspy.cli.kv_live) need nothing else of the store commands' (raspy.cli.kv_store),
which open LMDB: kept apart, so that `raspy-kv get` does not import the store."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

from raspy.cli import EXIT_FAILURE, flush_stdout, reader_left
from raspy.errors import quote

EXIT_DATA: Final = EXIT_FAILURE  # a store or a dump that is not as it should be
STDIO: Final = "-"  # a FILE that stands for stdout (dump -o) or stdin (restore)


class Failure(Exception):
    """One stderr line and an exit status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def command_prog(command: str) -> str:
    """What a line of raspy-kv's COMMAND begins with (raspy.cli.kv)."""
    return f"raspy-kv {command}"


@contextmanager
def stdout_errors() -> Iterator[None]:
    """A full disk behind stdout (`dump > FILE`) is a data problem, not a bug; what
    was written has no end line, so restore refuses it."""
    try:
        yield
        flush_stdout()
    except BrokenPipeError:
        raise  # the reader left: run() says nothing
    except OSError as exc:
        reader_left()  # Python's flush at exit must not fail again
        raise Failure(f"cannot write to stdout: {exc.strerror}", EXIT_DATA) from exc


def refused_record(table: object, key: bytes, exc: Exception) -> str:
    """A record restore refuses, as restore names it and dump repeats it."""
    return f"{table} {quote(key)}: {exc}"
