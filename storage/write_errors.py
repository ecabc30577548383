"""A failed write told apart: a full filesystem, or a device that fails (pure but
free_bytes, which asks the kernel).

LMDB writes a commit's pages with pwrite/pwritev. A write that finds no room at all
fails with ENOSPC ("No space left on device"), but a write that the full disk cuts
short is reported by LMDB as EIO ("Input/output error"), the same words a failing SD
card gives. So for an I/O error the free space of the store's filesystem decides:
next to nothing free means the disk filled up (the cut-short write used the rest).
Growing the map writes nothing (the file grows only as pages are written), so a full
disk shows in puts (LMDB spills pages of a big txn) and commits, never in a resize.
An opening that finds no room (the data dir's lock file, LMDB's lock.mdb, a new
store's first pages, its marker) is said the same way (`full_at_open`).
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Final

from raspy.errors import StoreDeviceError, StoreError, StoreFullError

# An I/O error with less than this free on the store's filesystem is a full disk:
# the write cut short took what was left, down to a block.
FULL_BELOW_BYTES: Final = 1024 * 1024
NO_SPACE_TEXT: Final = os.strerror(errno.ENOSPC)
IO_ERROR_TEXT: Final = os.strerror(errno.EIO)


def free_bytes(path: Path) -> int | None:
    """Bytes an unprivileged process may still write on `path`'s filesystem (the
    root-reserved share is not counted: raspyd does not run as root); None if the
    kernel cannot say."""
    try:
        found = os.statvfs(path)
    except OSError:
        return None
    return found.f_bavail * found.f_frsize


def _amount(count: int | None) -> str:
    if count is None:
        return "an unknown amount"
    if count < 1024 * 1024:
        return f"{count // 1024} KB"
    return f"{count // (1024 * 1024)} MB"


def _what_helps(path: Path) -> str:
    return (
        f"Free space on the filesystem of {path} (`df {path}`), or move the data dir "
        "to a bigger one, then retry"
    )


def _full(path: Path, said: str, free: int | None) -> StoreFullError:
    return StoreFullError(
        f"store in {path}: the filesystem is full ({_amount(free)} free; LMDB said "
        f"{said!r}); nothing of this write was stored. {_what_helps(path)}"
    )


def no_room(exc: OSError) -> bool:
    """Did the kernel refuse the write for want of room (the disk, or a quota)?"""
    return exc.errno in (errno.ENOSPC, errno.EDQUOT)


def raise_if_no_room(data_dir: Path, what: str, exc: OSError) -> None:
    """A write the opening of the store in `data_dir` makes (`what`), refused for
    want of room: a full disk (StoreFullError), said as one; any other failure is
    left to the caller."""
    if no_room(exc):
        raise full_at_open(data_dir, f"{what}: {exc.strerror}") from exc


def full_at_open(path: Path, what: str) -> StoreFullError:
    """The store in `path` cannot be opened: its filesystem has no room for `what`
    (a lock file, LMDB's lock.mdb, the store's marker), which its opening writes."""
    return StoreFullError(
        f"store in {path}: the filesystem is full ({_amount(free_bytes(path))} free; "
        f"{what}); the store was not opened. {_what_helps(path)}"
    )


def explain(path: Path, text: str, free: int | None) -> StoreError | None:
    """The error for LMDB's `text` about a write to the store in `path`, given the
    free bytes of its filesystem; None if the text is neither a full disk nor an
    I/O error (the caller names it as it is)."""
    if NO_SPACE_TEXT in text:
        return _full(path, text, free)
    if IO_ERROR_TEXT not in text:
        return None
    if free is not None and free < FULL_BELOW_BYTES:
        return _full(path, text, free)
    # the dump goes to a FILE: to stdout it filled the terminal, and saved nothing
    return StoreDeviceError(
        f"store in {path}: {text}, with {_amount(free)} free on its filesystem, so "
        f"not a full disk: the storage device (an SD card?) may be failing",
        f"Look at `dmesg`, dump the store onto other storage (`raspy-kv dump "
        f"--data-dir {path} -o FILE`) and move the data dir to sound storage",
    )
