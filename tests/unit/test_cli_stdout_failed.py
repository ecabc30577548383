"""stdout_failed: what a tool says of an OSError no handler of its command foresaw.
Run in a child process: it points the process's stdout at /dev/null."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.timeout(30)

CALL = """
import errno, sys
from raspy.cli import stdout_failed
exc = OSError(errno.{code}, "{text}"{filename})
sys.exit(stdout_failed("raspy status", exc))
"""


def _said(code: str, text: str, filename: str | None) -> tuple[int, str]:
    named = "" if filename is None else f", {filename!r}"
    done = subprocess.run(
        [sys.executable, "-c", CALL.format(code=code, text=text, filename=named)],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    return done.returncode, done.stderr


def test_an_error_of_no_file_is_stdouts() -> None:
    assert _said("ENOSPC", "No space left on device", None) == (
        1,
        "raspy status: cannot write to stdout: No space left on device\n",
    )


def test_an_error_naming_a_file_is_that_files_not_stdouts() -> None:
    assert _said("EACCES", "Permission denied", "/etc/raspy/keys") == (
        1,
        "raspy status: /etc/raspy/keys: Permission denied\n",
    )


def test_an_error_naming_a_file_with_stdout_closed_is_one_line() -> None:
    """Started with stdout closed (`>&-`), sys.stdout is None: the line, status 1,
    no "internal error" after it."""
    call = CALL.format(code="EACCES", text="Permission denied", filename=", '/x/key'")
    done = subprocess.run(
        [sys.executable, "-c", f"import sys; sys.stdout = None\n{call}"],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    assert (done.returncode, done.stderr) == (
        1,
        "raspy status: /x/key: Permission denied\n",
    )
