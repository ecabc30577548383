"""The last line of defence of the command-line tools: an error that no handler
foresaw (a bug, by definition) is one line naming it and exit status 70, never a
traceback. RASPY_TRACEBACK=1 lets it through whole, for a bug report."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Final

from raspy.cli import escaped_stdout

EXIT_BUG: Final = 70  # sysexits.h EX_SOFTWARE: an internal software error


def guarded(tool: str | Callable[[], str], run: Callable[[], int]) -> int:
    """run(), or one line on stderr and EXIT_BUG if it raises unexpectedly. `tool`
    heads the line: a callable gives it once the error came (`raspy-kv get` once a
    command was chosen, as each of its lines is headed).

    Ctrl-C, SystemExit (argparse's usage errors and --help) pass through as they are.
    Every tool's stdout escapes what its encoding cannot hold (escaped_stdout).
    """
    _standard_fds_held()
    escaped_stdout()
    _closed_stderr_dropped()
    try:
        return run()
    except Exception as exc:
        if os.environ.get("RASPY_TRACEBACK"):
            raise
        name = tool() if callable(tool) else tool
        print(
            f"{name}: internal error: {type(exc).__name__}: {exc} (a bug in raspy; "
            "run again with RASPY_TRACEBACK=1 for the details to report)",
            file=sys.stderr,
        )
        return EXIT_BUG


def _closed_stderr_dropped() -> None:
    """A tool started with stderr closed (`2>&-`, a cron line's) has sys.stderr None,
    and print(..., file=None) writes to stdout: `raspy-kv dump > FILE 2>&-` put its
    lines into the dump (and its progress bar failed on None, exit 70). Its lines
    are dropped instead, as the caller asked."""
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115  # for good


def _standard_fds_held() -> None:
    """A standard descriptor the caller closed (`>&- 2>&-`) is held on /dev/null:
    left free, the next file the tool opens (a dump, the store) took its number,
    and whatever wrote to stderr at the C level (libzmq, LMDB) wrote into it. The
    streams Python left None stay None: the tools still see them closed."""
    while True:
        fd = os.open(os.devnull, os.O_RDWR)
        if fd > 2:
            os.close(fd)
            return
