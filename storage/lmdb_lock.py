"""LMDB's lock file, lock.mdb, given blocks on disk before LMDB writes to it.

LMDB maps lock.mdb shared and writable and writes to the mapping (its mutexes, then
a reader slot at each read txn). A page of it that has no block behind it (LMDB
makes and grows the file with ftruncate, which allocates nothing) gets one at that
write, and when the filesystem has none left the kernel ends the process with
SIGBUS: a full SD card killed raspyd at start without a word, and systemd started it
into the same death. So the pages LMDB maps are allocated first (posix_fallocate):
a full disk is then ENOSPC, said as a full disk (storage.write_errors).

Its size (LMDB's mdb_env_setup_locks): the file as it is, or, when it is shorter and
LMDB is its first opener, (maxreaders - 1) * sizeof(MDB_reader) +
sizeof(MDB_txninfo). A reader slot is one cache line (64 bytes); MDB_txninfo is
three of them or more (the header with the reader mutex, the writer mutex, the first
slot), as many as the platform's pthread_mutex_t takes (8 KB in all on x86_64, a
cache line more on aarch64). The least it can be is allocated before LMDB opens the
file (that covers the header LMDB writes at its open), and the rest once LMDB has
sized it, before any read txn takes a slot: nothing past LMDB's own size is
allocated, so the file stays as LMDB makes it. Once allocated, a lock.mdb needs
nothing more: the store opens on a full disk (a dump can save it). One that LMDB
made alone (an older raspy) has holes; the next open with room fills them, and one
without room opens as before: LMDB has laid that file out (its header page is on
disk), and a hole is written only by the 63rd reader at once. Only a file LMDB has
yet to lay out (new, or shorter than the least) must have its blocks first.

The data file needs none of this: LMDB maps it read-only (raspy never sets
writemap) and writes it with pwrite, whose ENOSPC is an error, not a signal.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

from raspy.errors import StoreFullError
from raspy.storage import write_errors
from raspy.storage.damage import LMDB_LOCK_FILE

# LMDB's default, passed to lmdb.open: the size below depends on it
MAX_READERS: Final = 126
_CACHE_LINE: Final = 64
# (maxreaders - 1) slots + MDB_txninfo of three cache lines at least
LEAST_BYTES: Final = (MAX_READERS - 1) * _CACHE_LINE + 3 * _CACHE_LINE
_BLOCK_UNIT: Final = 512  # st_blocks counts these


def reserve(data_dir: Path, *, keep_open: bool = False) -> int | None:
    """Give lock.mdb in `data_dir` blocks for all it has (and at least LEAST_BYTES,
    making it if missing, as LMDB would); raises StoreFullError for a full disk.
    Call it before lmdb.open and again after. Any other failure (a read-only
    mount, a file the user may not write, a filesystem without fallocate) is left
    to LMDB, which meets it at its open as it did before.

    After lmdb.open, `keep_open`: the file descriptor is returned, not closed, and
    the caller closes it only once LMDB has closed the store. Closing any descriptor
    of lock.mdb drops every fcntl lock the process holds on it, LMDB's too: the
    shared lock that tells a later opener that the lock file is in use. That opener
    then took itself for the first and laid the lock file out again under a running
    writer (its reader table emptied, its txn id reset), and the writer went on to
    reuse pages still in use: MDB_CORRUPTED, with a raspy-kv check or backup beside
    raspyd. None: the file could not be opened."""
    path = data_dir / LMDB_LOCK_FILE
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        if write_errors.no_room(exc):
            raise _full(data_dir, LEAST_BYTES) from exc
        return None
    kept = False
    try:
        found = os.fstat(fd)
        wanted = max(found.st_size, LEAST_BYTES)
        if found.st_blocks * _BLOCK_UNIT < wanted:  # new, short, or with holes
            # LMDB writes its header into a new or short file at once; a laid-out
            # one (an older raspy's, or the tail LMDB adds past LEAST_BYTES on some
            # platforms) opens as before when there is no room
            strict = found.st_size < LEAST_BYTES
            _allocate(fd, wanted, data_dir, strict=strict)
        kept = keep_open
    finally:
        if not kept:
            os.close(fd)
    return fd if kept else None


def _allocate(fd: int, wanted: int, data_dir: Path, *, strict: bool) -> None:
    try:
        os.posix_fallocate(fd, 0, wanted)
    except OSError as exc:
        if write_errors.no_room(exc) and strict:
            raise _full(data_dir, wanted) from exc


def _full(data_dir: Path, wanted: int) -> StoreFullError:
    kb = -(-wanted // 1024)
    return write_errors.full_at_open(
        data_dir,
        f"LMDB's {LMDB_LOCK_FILE} needs {kb} KB on disk before the store opens",
    )
