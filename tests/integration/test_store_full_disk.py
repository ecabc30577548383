"""A really full filesystem under a Store: a tmpfs of 2 MB (root only: it is mounted
for the test). LMDB reports a full disk as ENOSPC, or as EIO when the disk cut a write
short; both must read as a full disk, never as a failing device. The message logic
itself is covered without root in tests/unit/test_store_write_errors.py. A full disk
at the open: tests/e2e/test_full_card_e2e.py."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import lmdb
import pytest
from structlog.testing import capture_logs
from support.small_fs import fill, small_tmpfs

from raspy.config import StoreConfig
from raspy.errors import StoreError, StoreFullError
from raspy.storage import lmdb_lock
from raspy.storage.damage import LMDB_LOCK_FILE
from raspy.storage.lock import DataDirLock
from raspy.storage.store import Put, Store, Table

_ROOMY_MAP = StoreConfig(map_size_initial_mb=1, map_size_max_mb=64)  # disk fills first


@pytest.fixture(name="small_fs")
def small_fs_fixture(tmp_path: Path) -> Iterator[Path]:
    """A 2 MB tmpfs, mounted at tmp_path/fs for this test."""
    with small_tmpfs(tmp_path / "fs") as where:
        yield where


@pytest.mark.parametrize(
    "value_bytes",
    [
        pytest.param(100, id="small-values"),
        pytest.param(3000, id="page-sized-values"),  # LMDB 0.9.x here: EIO
        pytest.param(20_000, id="overflow-values"),
    ],
)
def test_a_full_filesystem_reads_as_full_not_as_a_failing_device(
    small_fs: Path, value_bytes: int
) -> None:
    """How LMDB words it (ENOSPC, or EIO for a write cut short) depends on where the
    disk fills; raspy names a full disk either way, with its directory."""
    data_dir = small_fs / "data"
    store = Store.open(data_dir, _ROOMY_MAP)
    try:
        failure: StoreError | None = None
        for batch in range(2000):  # 2 MB fill up long before this
            ops = [
                Put(Table.CRON, b"job%06d" % (batch * 10 + i), os.urandom(value_bytes))
                for i in range(10)
            ]
            try:
                store.commit(ops)
            except StoreError as exc:
                failure = exc
                break
        assert isinstance(failure, StoreFullError), failure
        message = str(failure)
        assert message.startswith(f"store in {data_dir}: the filesystem is full (")
        assert re.search(
            r"LMDB said 'mdb_txn_commit: (No space left on device|Input/output error)'",
            message,
        ), message
        assert "Free space on the filesystem of" in message
        assert store.get(Table.CRON, b"job000000") is not None  # earlier writes stay
    finally:
        store.close()


def test_lock_mdb_is_lmdbs_own_size_with_every_page_on_disk(tmp_path: Path) -> None:
    """LMDB writes to its mapping of lock.mdb: a page with no block behind it is a
    SIGBUS on a full disk. After an open every page of it has one, and the file is
    the size LMDB itself makes (its readers' count unchanged)."""
    bare = tmp_path / "bare"
    lmdb.open(str(bare), max_readers=lmdb_lock.MAX_READERS).close()
    with capture_logs():
        Store.open(tmp_path / "data").close()
    found = (tmp_path / "data" / LMDB_LOCK_FILE).stat()
    assert found.st_size == (bare / LMDB_LOCK_FILE).stat().st_size
    assert found.st_size >= lmdb_lock.LEAST_BYTES
    assert found.st_blocks * 512 >= found.st_size


def _open_fds() -> list[str]:
    return sorted(os.listdir("/proc/self/fd"))


def test_a_lock_file_with_no_room_for_its_pid_is_a_full_disk_and_holds_nothing(
    small_fs: Path,
) -> None:
    """Writing the pid into the data dir's lock file failed with ENOSPC as a bare
    OSError (raspy-kv: an internal error), and its descriptor stayed open, holding
    the lock: this very process was then refused as "in use by" itself."""
    data_dir = small_fs / "data"
    data_dir.mkdir()
    fill(small_fs, 0)
    before = _open_fds()
    with pytest.raises(StoreFullError) as refused:
        DataDirLock(data_dir)
    assert str(refused.value).startswith(
        f"store in {data_dir}: the filesystem is full (0 KB free; writing its lock"
        " file lock: No space left on device); the store was not opened."
    )
    assert _open_fds() == before
    (small_fs / "filler").unlink()
    DataDirLock(data_dir).release()
