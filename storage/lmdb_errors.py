"""What an error LMDB raises means for a store: a full disk or a failing device told
as such (`write_errors`), new damage or MDB_PANIC remembered for the supervisor
(the store is then no longer trusted in this process, see `damage`), any other named
with the store's directory.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

import lmdb

from raspy.errors import StoreDamagedError, StoreError
from raspy.storage import damage, write_errors

# What LMDB says when it meets a damaged page at run time (the open-time checks
# passed, so the damage is new): the store is then no longer trusted (see `damage`).
_DAMAGE_ERRORS: Final = (lmdb.CorruptedError, lmdb.PageNotFoundError, lmdb.InvalidError)
_damaged: dict[str, str] = {}  # realpath -> the first damage seen, for the supervisor


def store_error(exc: BaseException, path: Path) -> StoreError:
    """The StoreError that `exc`, raised by LMDB for the store in `path`, stands for."""
    text = str(exc)
    written = write_errors.explain(path, text, write_errors.free_bytes(path))
    if written is not None:  # a full disk, or a device that fails
        return written
    if isinstance(exc, _DAMAGE_ERRORS):
        message = f"store in {path}: {type(exc).__name__}: {text}; " + damage.advice(
            path
        )
        _damaged.setdefault(os.path.realpath(path), message)
        return StoreDamagedError(message)
    if isinstance(exc, lmdb.PanicError):
        # LMDB refuses every transaction of this environment from now on (a write
        # of its meta page failed): only a new open can go on, so the supervisor
        # ends raspyd and systemd starts it again. The file need not be damaged.
        message = (
            f"store in {path}: {text}; LMDB refuses every write until the store is "
            "opened again (raspyd stops; systemd starts it again)"
        )
        _damaged.setdefault(os.path.realpath(path), message)
        return StoreError(message)
    return StoreError(f"store in {path}: {type(exc).__name__}: {text}")


def damage_seen(path: Path) -> str | None:
    """The first damage (or MDB_PANIC) LMDB reported in this process for the store
    in `path`: the store is of no more use in this process."""
    return _damaged.get(os.path.realpath(path))
