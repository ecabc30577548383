"""The command-line tools. Their shared contract: one line naming what is wrong, exit 2
for bad usage or input, 1 for a runtime failure, 130 on Ctrl-C; never a traceback."""

from __future__ import annotations

import errno
import os
import platform
import sys
from typing import Final

from raspy import __version__

EXIT_OK: Final = 0
EXIT_FAILURE: Final = 1  # a runtime failure: no reply, a refusal, bad data
EXIT_USAGE: Final = 2  # bad usage or input: an option, a file, a config
EXIT_INTERRUPTED: Final = 130  # 128 + SIGINT, as shells report a Ctrl-C
# an output FILE named wrong (bad input), not a write that failed on the way
_NAMED_WRONG: Final = frozenset(
    {errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.EACCES, errno.EPERM}
)


def output_status(exc: OSError) -> int:
    """The status of a FILE a tool could not write: 2 when it is named wrong (a
    folder, a missing folder, no permission), 1 when the write failed on the way
    (a full disk)."""
    return EXIT_USAGE if exc.errno in _NAMED_WRONG else EXIT_FAILURE


def version_line(prog: str) -> str:
    """What `--version` prints: the tool, raspy's version and the Python it runs on."""
    return f"{prog} {__version__} (Python {platform.python_version()})"


def reader_left() -> int:
    """After a BrokenPipeError on stdout (`raspy … | head`): point stdout at /dev/null
    so Python's flush at exit raises nothing more, and give the runtime failure status."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return EXIT_FAILURE
