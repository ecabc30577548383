"""The data-dir write lock: one writing process per data dir (flock on DATA_DIR/lock).

The kernel drops a flock when its holder dies, so a crashed raspyd never leaves a
stale lock behind. The holder's pid is written into the file, and on the next line
what it is when it says (`raspyd`, `raspy-kv restore`), for the refusals: a restore
beside another restore must not be told to stop raspyd. Whether a writer holds it is
asked by taking a shared flock for a moment (lock_holder: Linux has no query for a
flock, F_GETLK sees only fcntl locks), so the writer's exclusive lock is retried for
a moment before it counts as taken. A lock still taken then is told apart: a
writer's (exclusive, StoreLockedError with its pid) or only readers' (shared,
ReadLock: StoreBeingReadError, no pid, as the file holds the last writer's).

Taken with sudo, it is opened by root in a folder the service user owns: it never
follows a symbolic link there (O_NOFOLLOW), and as root it is used only when it is a
regular file with one link (raspy.file_owner.plain_file_problem), so a name planted
by that user cannot make root write into, or give away, a file of root's.
"""

from __future__ import annotations

import errno
import fcntl
import os
import time
from pathlib import Path
from typing import Final

from raspy.errors import (
    DataDirLockError,
    StoreBeingReadError,
    StoreError,
    StoreLockedError,
)
from raspy.file_owner import give_to_folder_owner, plain_file_problem
from raspy.storage import write_errors

LOCK_NAME: Final = "lock"
# how long a shared flock of lock_holder() (raspy-kv asks it every 20 ms while it
# waits for a store being made) may stand in the way of the writer's lock
PROBE_WAIT_S: Final = 0.5
_PROBE_RETRY_S: Final = 0.005

# never through a symbolic link: the data dir's owner may plant one (`lock ->
# /etc/shadow`) for root to open
_OPEN_FLAGS: Final = os.O_NOFOLLOW | os.O_CLOEXEC


class DataDirLock:
    """An exclusive, non-blocking lock on a data dir; freed by release() or exit.
    `holder` (`raspyd`, `raspy-kv restore`) is written beside the pid: another's
    refusal names it (StoreLockedError.holder)."""

    def __init__(self, data_dir: Path, holder: str | None = None) -> None:
        self.path = data_dir / LOCK_NAME
        self._fd: int | None = None
        try:
            fd = os.open(self.path, _OPEN_FLAGS | os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise _not_plain(self.path, "a symbolic link") from None
            raise self._unusable("open", exc) from exc
        # only root's writes need it checked: anyone else's are kept to files of
        # their own by the kernel's permissions
        info = os.fstat(fd) if os.geteuid() == 0 else None
        problem = None if info is None else plain_file_problem(info)
        if problem is not None:
            os.close(fd)
            raise _not_plain(self.path, problem)
        try:  # taken with sudo (`raspy web-token --if-none`): the data dir's
            # owner, the service, must open it next
            give_to_folder_owner(fd, data_dir, info)
        except OSError as exc:
            os.close(fd)
            raise self._unusable("open", exc) from exc
        try:
            _lock_exclusive(fd)
        except BlockingIOError:
            readers_only = _shared_free(fd)
            pid, other = _read_holder(fd)
            os.close(fd)
            if readers_only:
                raise StoreBeingReadError(being_read(data_dir)) from None
            raise StoreLockedError(in_use(data_dir, pid), holder=other) from None
        except OSError as exc:  # e.g. a filesystem without flock
            os.close(fd)
            raise self._unusable("lock", exc) from exc
        except BaseException:
            os.close(fd)
            raise
        try:
            os.ftruncate(fd, 0)
            said = "" if holder is None else f"{holder}\n"
            os.pwrite(fd, f"{os.getpid()}\n{said}".encode(), 0)
        except OSError as exc:  # the kernel drops the flock with the last fd
            os.close(fd)
            raise self._unusable("write", exc) from exc
        self._fd = fd

    def _unusable(self, doing: str, exc: OSError) -> StoreError:
        """A full disk said as one (StoreFullError); any other failure of the lock
        file (a folder in its place, no permission, a read-only mount, EIO) named
        with the file and the OS's words, not left to be taken for a bug."""
        write_errors.raise_if_no_room(
            self.path.parent, f"writing its lock file {self.path.name}", exc
        )
        return _lock_file_error(self.path, doing, exc)

    def release(self) -> None:
        """Unlock and close; safe to call twice."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


def _not_plain(path: Path, what: str) -> DataDirLockError:
    """A lock file refused for what it is, with what to do."""
    return DataDirLockError(
        f"data dir {path.parent}: its lock file {path} is {what}; refusing to use"
        " it (remove it: raspy makes a new one)"
    )


def _lock_file_error(path: Path, doing: str, exc: OSError) -> DataDirLockError:
    """A failure of the lock file `path` named with its data dir, the file and the
    OS's words."""
    return DataDirLockError(
        f"data dir {path.parent}: cannot {doing} its lock file {path}: "
        f"{exc.strerror or exc}"
    )


def _lock_exclusive(fd: int) -> None:
    """LOCK_EX, or BlockingIOError if another process holds the lock for longer than
    a lock_holder() probe would (PROBE_WAIT_S)."""
    deadline = time.monotonic() + PROBE_WAIT_S
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise
        time.sleep(_PROBE_RETRY_S)


def _shared_free(fd: int) -> bool:
    """Can a shared lock be had now (so only readers hold the lock, no writer)? Let
    go at once: the caller closes `fd` anyway."""
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:  # BlockingIOError: a writer holds it
        return False
    fcntl.flock(fd, fcntl.LOCK_UN)
    return True


def in_use(data_dir: Path, holder: str) -> str:
    return f"data dir {data_dir} is in use by another process (pid {holder})"


def being_read(data_dir: Path) -> str:
    return (
        f"data dir {data_dir} is being read by a raspy-kv without a reader slot (its"
        " lock.mdb missing or read-only); no writer holds it"
    )


def _read_pid(fd: int) -> str:
    return _read_holder(fd)[0]


def _read_holder(fd: int) -> tuple[str, str | None]:
    """The holder's pid ("unknown" if the file has none) and what it said it is
    (None: an older raspy's file, or a holder that did not say)."""
    lines = os.pread(fd, 128, 0).decode("ascii", "replace").splitlines()
    pid = lines[0].strip() if lines else ""
    holder = lines[1].strip() if len(lines) > 1 else ""
    return (
        pid if pid.isdigit() else "unknown",
        holder if holder.isprintable() and holder else None,
    )


class ReadLock:
    """A shared flock on the data dir's lock file, for a reader that LMDB gives no
    reader slot (a read-only mount): while it is held, a writer's DataDirLock is
    refused (StoreBeingReadError; raspyd waits for it to end), so no raspyd starts
    and reuses the pages being read. flock
    works on a descriptor opened read-only, on a read-only mount too. No lock file
    (no writer ever ran here) or no flock on its filesystem: nothing is held. A
    writer holding the lock now: nothing is held, and `writer` is its pid (or
    "unknown")."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / LOCK_NAME
        self.writer: str | None = None
        self._fd: int | None = None
        try:
            fd = os.open(self.path, _OPEN_FLAGS | os.O_RDONLY)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise _lock_file_error(self.path, "open", exc) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            self.writer = _read_pid(fd)
            os.close(fd)
            return
        except OSError:  # no flock on its filesystem (ENOLCK): no writer takes one
            os.close(fd)  # either (DataDirLock fails there), so none can start
            return
        self._fd = fd

    def release(self) -> None:
        """Unlock (closing the descriptor drops the flock); safe to call twice."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)


def writer_present(data_dir: Path) -> bool:
    """Does a process hold the data dir's write lock now (a running raspyd)?"""
    return lock_holder(data_dir) is not None


def lock_holder(data_dir: Path) -> str | None:
    """The pid (or "unknown") of the process holding the write lock now; None if free."""
    try:
        fd = os.open(data_dir / LOCK_NAME, _OPEN_FLAGS | os.O_RDONLY)
    except OSError:  # no lock file: no writer ever ran here, or it is unreadable
        return None  # (or a symbolic link, which no writer can take)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return _read_pid(fd)
    except OSError:  # no flock on its filesystem (ENOLCK): no writer holds one
        return None
    finally:
        os.close(fd)  # closing drops the shared lock taken above
    return None
