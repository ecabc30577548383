"""A really small filesystem for the full-disk tests: a tmpfs mounted for one test
(root only; the test is skipped elsewhere, and unit tests cover the messages)."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


@contextlib.contextmanager
def small_tmpfs(where: Path, size: str = "2m") -> Iterator[Path]:
    """A tmpfs of `size` mounted at `where` (made here) until the block ends."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root (unit tests cover the logic)")
    where.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(where)],
        capture_output=True,
        timeout=10,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {mounted.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], timeout=10, check=True)


def fill(where: Path, leave_bytes: int) -> None:
    """Fill the filesystem of `where` up to `leave_bytes` free (or less)."""
    free = os.statvfs(where).f_bavail * os.statvfs(where).f_frsize
    (where / "filler").write_bytes(bytes(max(0, free - leave_bytes)))
