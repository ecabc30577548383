"""Replace a file all or nothing: a reader (or a power cut) sees the old content or the
new, never part of it. The new content goes to a temp file in the same directory (so
the rename cannot cross file systems), which is fsynced, renamed over the target, and
then the directory is fsynced so the rename itself survives a power cut."""

from __future__ import annotations

import errno
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

DEFAULT_MODE = 0o666  # as open() makes a file: the umask takes its share


@contextmanager
def atomic_writer(path: str | Path, *, mode: int = DEFAULT_MODE) -> Iterator[BinaryIO]:
    """A binary file to write the new content to; it replaces `path` when the block
    ends cleanly. On any error (in the block or while saving) the temp file is
    removed, `path` is left as it was, and the error goes on. `mode` is the new
    file's creation mode (the umask applies, as with os.open)."""
    target = Path(path)
    temp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    try:
        with os.fdopen(fd, "wb") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    fsync_directory(target.parent)


def write_atomic(path: str | Path, data: bytes, *, mode: int = DEFAULT_MODE) -> None:
    """Replace `path` with `data`, all or nothing (see atomic_writer)."""
    with atomic_writer(path, mode=mode) as out:
        out.write(data)


def fsync_directory(directory: Path) -> None:
    """Make a rename or a new name in `directory` durable."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno != errno.EINVAL:  # EINVAL: a file system without directory sync
            raise
    finally:
        os.close(fd)
