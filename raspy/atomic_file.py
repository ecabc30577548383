"""Replace a file all or nothing: a reader (or a power cut) sees the old content or the
new, never part of it. The new content goes to a temp file in the same directory (so
the rename cannot cross file systems), which is fsynced, renamed over the target, and
then the directory is fsynced so the rename itself survives a power cut. A writer that
must never replace a file (a dated backup) gives the new name only if it is free; one
that must decide at the last moment whether its content still counts (another writer
may have taken the file over meanwhile) writes and syncs it first, and renames it
later (prepare_atomic)."""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Final

from raspy.records import frozen

DEFAULT_MODE = 0o666  # as open() makes a file: the umask takes its share
# the temp file of atomic_writer: .NAME.<12 hex digits>.tmp
_TEMP_NAME = re.compile(r"\.(.+)\.[0-9a-f]{12}\.tmp")
# link(2) on a file system without hard links (FAT or exFAT on a USB stick, some SMB
# shares)
_NO_HARD_LINKS = frozenset({errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOSYS})


@contextmanager
def atomic_writer(
    path: str | Path, *, mode: int = DEFAULT_MODE, replace: bool = True
) -> Iterator[BinaryIO]:
    """A binary file to write the new content to; it replaces `path` when the block
    ends cleanly. On any error (in the block or while saving) the temp file is
    removed, `path` is left as it was, and the error goes on. `mode` is the new
    file's creation mode (the umask applies, as with os.open). With `replace=False`
    a file that has the name already is kept and FileExistsError raised."""
    target = Path(path)
    temp = _temp_path(target)
    fd = _create(temp, mode)
    try:
        with os.fdopen(fd, "wb") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        if replace:
            os.replace(temp, target)
        else:
            _rename_new(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    fsync_directory(target.parent)


def _create(temp: Path, mode: int) -> int:
    """A new temp file, opened for writing. A signal's exception (a SIGTERM ended as
    a Ctrl-C) is raised as the open returns, before the caller holds the file:
    the file is removed then too."""
    try:
        return os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    except OSError:
        raise  # not made (O_EXCL: a name taken is never ours to remove)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def _temp_path(target: Path) -> Path:
    """A new temp file's name beside `target`: .NAME.<12 hex digits>.tmp (_TEMP_NAME).
    A target with no name ("" is the current folder, "/") is a folder, not a file."""
    if not target.name:
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(target))
    return target.with_name(f".{target.name}.{os.urandom(6).hex()}.tmp")


@frozen
class PreparedFile:
    """New content of `target`, whole and synced in `temp` (prepare_atomic): commit()
    replaces `target` with it, discard() drops it; one of them, once."""

    target: Path
    temp: Path

    def commit(self) -> None:
        """Rename it over the target, durably; on an error the temp file is gone and
        the target as it was."""
        try:
            os.replace(self.temp, self.target)
        except BaseException:
            self.discard()
            raise
        fsync_directory(self.target.parent)

    def discard(self) -> None:
        self.temp.unlink(missing_ok=True)


def prepare_atomic(
    path: str | Path, data: bytes, *, mode: int = DEFAULT_MODE
) -> PreparedFile:
    """The slow half of write_atomic: `data` written to a temp file beside `path`
    and synced, nothing replaced yet (the caller commits or discards it). On an
    error no temp file is left."""
    target = Path(path)
    temp = _temp_path(target)
    fd = _create(temp, mode)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return PreparedFile(target, temp)


def _rename_new(temp: Path, target: Path) -> None:
    """Rename temp to target unless target exists (FileExistsError): link(2) fails on
    a taken name, whoever took it and when."""
    try:
        os.link(temp, target)
    except FileExistsError:
        raise
    except OSError as exc:
        if exc.errno not in _NO_HARD_LINKS:
            raise
    else:
        temp.unlink()
        return
    # no hard links here: look, then rename. Only another writer taking the same
    # name in this very instant could still be replaced
    if os.path.lexists(target):
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(target))
    os.rename(temp, target)


def temp_target(name: str) -> str | None:
    """The file name whose new content a temp file of this name was to become (left
    behind by a crash or a power cut mid-write), or None for any other name."""
    match = _TEMP_NAME.fullmatch(name)
    return match.group(1) if match else None


def write_atomic(path: str | Path, data: bytes, *, mode: int = DEFAULT_MODE) -> None:
    """Replace `path` with `data`, all or nothing (see atomic_writer)."""
    with atomic_writer(path, mode=mode) as out:
        out.write(data)


_SPECIAL_FOLDERS: Final = ("/dev/", "/proc/")


def is_special(path: str | Path) -> bool:
    """A path that is there and is neither a regular file nor a directory: a pipe,
    `/dev/stdout`, a device; or any name under /dev or /proc (`/dev/stdout` leads
    to a regular file when the shell redirects stdout into one). Such a file is
    written into, never renamed over: a rename replaced it with a regular file (as
    root, the device node or `/dev/stdout` itself)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    if os.path.abspath(path).startswith(_SPECIAL_FOLDERS):
        return not stat.S_ISDIR(mode)
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


def write_named_output(
    path: str | Path, data: bytes, *, mode: int = DEFAULT_MODE
) -> None:
    """Write what a user asked for into the file they named (`-o FILE`, a chart):
    a regular file or a new name is replaced all or nothing (write_atomic, a new
    file made with `mode`); a pipe or a device (`-o /dev/stdout`) is written into
    as it is."""
    if is_special(path):
        with open(path, "wb") as out:
            out.write(data)
        return
    write_atomic(path, data, mode=mode)


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
