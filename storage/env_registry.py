"""This process's one Environment a data dir: opened, shared by its Stores, closed.

LMDB forbids opening one environment twice in a process, so every Store on a data dir
shares one Environment here (by real path), counted in Environment.refs. One inherited
through fork() is never touched in the child: the child opens its own.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Final

import lmdb

from raspy.errors import StoreError
from raspy.storage import damage, lmdb_lock, write_errors
from raspy.storage.env import Environment

_MAX_DBS: Final = 16

_registry_lock = threading.Lock()
_registry: dict[str, Environment] = {}


def acquire(
    path: Path,
    *,
    readonly: bool,
    map_bytes: int,
    max_bytes: int,
    durable: bool,
    deep_check: bool = True,
    walked_txn: int | None = None,
    progress: damage.Progress = damage.no_progress,
) -> Environment:
    """This process's Environment for `path`, opened if needed; release() it after.
    `walked_txn`: the txn whose snapshot a reader's open walked (None: none, a writer
    is there); a read txn of another snapshot is walked by begin_walked. `progress`:
    called as the file's pages are walked."""
    key = os.path.realpath(path)
    with _registry_lock:
        shared = _registry.get(key)
        if shared is not None and shared.pid != os.getpid():
            shared = None  # inherited through fork(): never touch it in the child
        if shared is not None and not readonly and not shared.writable:
            raise StoreError(f"store in {path} is open read-only in this process")
        if shared is None:
            shared = _open(
                path,
                readonly,
                map_bytes,
                max_bytes,
                durable=durable,
                deep=deep_check,
                walked_txn=walked_txn,
                progress=progress,
            )
            _registry[key] = shared
        shared.refs += 1
        return shared


def release(shared: Environment) -> None:
    with _registry_lock:
        shared.refs -= 1
        if shared.refs > 0:
            return
        key = os.path.realpath(shared.path)
        if _registry.get(key) is shared:
            del _registry[key]
        shared.close()


def _open(
    path: Path,
    readonly: bool,
    map_bytes: int,
    max_bytes: int,
    *,
    durable: bool,
    deep: bool,
    walked_txn: int | None,
    progress: damage.Progress,
) -> Environment:
    """Check the file (never mapped before it passes), then open it with LMDB."""
    if readonly and damage.data_file_absent(path):
        raise StoreError(f"no store in {path}")
    damage.check_data_file(path, deep=deep, progress=progress)
    lmdb_lock.reserve(path)  # the least LMDB maps: a full disk, never a SIGBUS
    try:
        env = lmdb.open(
            str(path),
            map_size=map_bytes,
            max_dbs=_MAX_DBS,
            max_readers=lmdb_lock.MAX_READERS,
            subdir=True,
            readonly=readonly,
            create=not readonly,
            sync=durable,
            metasync=durable,
            lock=True,
            readahead=False,
            mode=0o600,
        )
    except lmdb.Error as exc:
        # no room for a new store's first pages (LMDB says ENOSPC for a short write
        # there): a full disk, not a damaged store. Anything else is as it was.
        if write_errors.NO_SPACE_TEXT in str(exc):
            raise write_errors.full_at_open(path, f"LMDB said {str(exc)!r}") from exc
        raise StoreError(f"store in {path} cannot be opened: {exc}") from exc
    shared = Environment(path, env, writable=not readonly, max_bytes=max_bytes)
    shared.walked_txn = walked_txn
    try:
        # the rest, now that LMDB has sized the file; its descriptor is closed after
        # LMDB's (closing it now dropped LMDB's locks on the file: lmdb_lock.reserve)
        shared.lock_fd = lmdb_lock.reserve(path, keep_open=True)
        if not readonly:  # a reader's read txns open their own (tables_in)
            shared.open_tables(create=False)
    except BaseException:
        shared.close()
        raise
    return shared
