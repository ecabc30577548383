"""A failed store write told apart: a full filesystem or a failing device
(storage.write_errors). LMDB says "Input/output error" for a write a full disk cut
short, so the free space decides; the real full disk is in
tests/integration/test_store_full_disk.py (root only: it mounts a small tmpfs)."""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path

import lmdb
import pytest

from raspy.errors import StoreError, StoreFullError
from raspy.storage import lmdb_errors
from raspy.storage.write_errors import (
    FULL_BELOW_BYTES,
    explain,
    free_bytes,
    full_at_open,
    no_room,
)

DIR = Path("var/raspy")
EIO = "mdb_txn_commit: Input/output error"
ENOSPC = "mdb_txn_commit: No space left on device"


@pytest.mark.parametrize(
    ("text", "free", "shown"),
    [
        pytest.param(EIO, 12 * 1024, "12 KB", id="io-error-nothing-left"),
        pytest.param(EIO, 0, "0 KB", id="io-error-zero"),
        pytest.param(ENOSPC, 0, "0 KB", id="no-space"),
        pytest.param(ENOSPC, 300 * 1024 * 1024, "300 MB", id="no-space-freed-since"),
        pytest.param(ENOSPC, None, "an unknown amount", id="no-space-unknown-free"),
    ],
)
def test_a_full_filesystem_is_named_with_its_directory_and_what_to_do(
    text: str, free: int | None, shown: str
) -> None:
    """A write the full disk cut short (EIO) or refused (ENOSPC) is a full disk, not a
    failing SD card: the data dir, the free space, LMDB's own words and the way out."""
    error = explain(DIR, text, free)
    assert isinstance(error, StoreFullError)
    assert str(error) == (
        f"store in var/raspy: the filesystem is full ({shown} free; LMDB said "
        f"{text!r}); nothing of this write was stored. Free space on the filesystem "
        "of var/raspy (`df var/raspy`), or move the data dir to a bigger one, then "
        "retry"
    )


@pytest.mark.parametrize(
    ("free", "shown"),
    [
        pytest.param(FULL_BELOW_BYTES, "1 MB", id="room-left"),
        pytest.param(3 * 1024**3, "3072 MB", id="plenty"),
        pytest.param(None, "an unknown amount", id="unknown"),
    ],
)
def test_an_io_error_with_room_left_points_at_the_device(
    free: int | None, shown: str
) -> None:
    """An I/O error while the filesystem has room is the device: say so, and how to
    keep the data (a dump) before it gets worse."""
    error = explain(DIR, EIO, free)
    assert error is not None
    assert not isinstance(error, StoreFullError)
    assert str(error) == (
        f"store in var/raspy: {EIO}, with {shown} free on its filesystem, so not a "
        "full disk: the storage device (an SD card?) may be failing. Look at "
        "`dmesg`, dump the store onto other storage (`raspy-kv dump --data-dir "
        "var/raspy -o FILE`) and move the data dir to sound storage"
    )


def test_other_errors_are_left_to_the_caller() -> None:
    assert (
        explain(DIR, "mdb_put: MDB_KEYEXIST: Key/data pair already exists", 0) is None
    )


def test_free_bytes_asks_the_filesystem_of_the_directory(tmp_path: Path) -> None:
    free = free_bytes(tmp_path)
    assert free is not None
    assert free >= 0
    assert free_bytes(tmp_path / "gone") is None


def test_an_lmdb_panic_makes_the_store_of_no_more_use_in_this_process(
    tmp_path: Path,
) -> None:
    """After MDB_PANIC (a write of the meta page failed) LMDB refuses every
    transaction of the environment: raspyd went on with every write failing. It is
    now seen as the store's end in this process (Store.damage(), which the
    supervisor reads: raspyd stops, systemd starts it again), and says so."""
    text = "mdb_txn_commit: MDB_PANIC: Update of meta page failed"
    error = lmdb_errors.store_error(lmdb.PanicError(text), tmp_path)
    assert type(error) is StoreError
    assert str(error).startswith(f"store in {tmp_path}: {text}; LMDB refuses")
    assert lmdb_errors.damage_seen(tmp_path) == str(error)
    assert lmdb_errors.damage_seen(tmp_path / "other") is None


@pytest.mark.parametrize(
    ("number", "full"),
    [
        (errno.ENOSPC, True),
        (errno.EDQUOT, True),
        (errno.EIO, False),
        (errno.EACCES, False),
    ],
)
def test_no_room_is_a_full_disk_or_a_spent_quota(number: int, full: bool) -> None:
    assert no_room(OSError(number, os.strerror(number))) is full


def test_an_opening_without_room_names_what_needed_it(tmp_path: Path) -> None:
    """At the open nothing of the store is written yet: the line names what found no
    room (a lock file, LMDB's lock.mdb) and says the store was not opened."""
    error = full_at_open(
        tmp_path, "writing its lock file lock: No space left on device"
    )
    assert isinstance(error, StoreFullError)
    assert re.fullmatch(
        rf"store in {re.escape(str(tmp_path))}: the filesystem is full \(\d+ [KM]B free;"
        r" writing its lock file lock: No space left on device\); the store was not"
        rf" opened. Free space on the filesystem of {re.escape(str(tmp_path))} \(`df"
        rf" {re.escape(str(tmp_path))}`\), or move the data dir to a bigger one, then"
        r" retry",
        str(error),
    ), str(error)
