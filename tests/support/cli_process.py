"""A command-line tool run as its own process by a test, and its outcome."""

from __future__ import annotations

import subprocess


def finish(process: subprocess.Popen[bytes]) -> tuple[int, bytes, bytes]:
    """Exit status, stdout and stderr; a tool still running after 15 s is killed."""
    try:
        out, err = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    return process.returncode, out, err


def finish_text(process: subprocess.Popen[bytes]) -> tuple[int, str, str]:
    """finish() with stdout and stderr decoded as UTF-8."""
    status, out, err = finish(process)
    return status, out.decode(), err.decode()
