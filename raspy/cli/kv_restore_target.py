"""Where raspy-kv restore writes, chosen under the data dir's lock: the store there
(its one restore txn leaves the old store or the new one), or, for a data dir with
none, a new store made in its staging dir and moved into place once it is committed
(storage.staging): a kill never leaves an empty store for raspyd to start on."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from raspy.config import StoreConfig
from raspy.errors import StoreError
from raspy.storage import damage, staging
from raspy.storage.lock import DataDirLock
from raspy.storage.opening import check_path_text, make_data_dir
from raspy.storage.store import Store


@dataclass
class Target:
    """The store a restore writes into, and, for a staged one, the data dir's lock
    held beside the staging dir's own until its data file is in place."""

    store: Store
    data_dir: Path
    staged_lock: DataDirLock | None = None  # None: the store holds the lock

    def finish(self) -> None:
        """Close the store; a staged one's data file moved into the data dir."""
        self.store.close()
        if self.staged_lock is None:
            return
        try:
            staging.move_into_place(self.data_dir)
        except OSError as exc:  # the staging dir stays: raspyd refuses, as it says
            raise StoreError(
                f"cannot move the restored store into {self.data_dir}:"
                f" {exc.strerror or exc}; nothing of it counts: restore again"
            ) from exc
        finally:
            self.staged_lock.release()

    def abandon(self) -> None:
        """Close the store; a staged one removed, nothing of it left behind."""
        self.store.close()
        if self.staged_lock is None:
            return
        try:
            staging.remove_leftover(self.data_dir)
        finally:
            self.staged_lock.release()


def open_target(data_dir: str, config: StoreConfig, holder: str) -> Target:
    """The data dir locked, a killed restore's leftover removed, and the store to
    restore into opened: the data dir's, or a new one in its staging dir. A data
    dir about to get a store is marked as holding one first (damage.write_marker):
    until the restore is done, raspyd refuses it instead of starting empty."""
    path = Path(data_dir)
    check_path_text(path)
    make_data_dir(path)
    lock = DataDirLock(path, holder)
    try:
        staging.remove_leftover(path)
        if not damage.data_file_absent(path):
            store = Store.open(path, config, init=True, holder=holder, lock=lock)
            return Target(store, path)
        damage.write_marker(path)
        return _staged(path, config, holder, lock)
    except BaseException:
        lock.release()  # twice is safe: Store.open released it if it failed
        raise


def _staged(path: Path, config: StoreConfig, holder: str, lock: DataDirLock) -> Target:
    try:
        store = Store.open(staging.staging_dir(path), config, init=True, holder=holder)
    except BaseException:
        staging.remove_leftover(path)
        raise
    return Target(store, path, lock)
