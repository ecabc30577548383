"""`raspy-kv check` (and dump) while raspyd starts must not report damage that is not
there. Two windows were found by reading the start path against the check path:

- LMDB makes lock.mdb, then an empty data.mdb, then writes its meta pages: a reader
  that comes in between saw a store "lost" (missing or 0 bytes beside lock.mdb) or
  meta pages cut short. It now waits for a writer that is making the store.
- A reader walks every page only when no writer holds the data dir; a raspyd that
  starts during the walk writes pages the walk reads. Damage found then is not
  trusted: the file is checked again as beside a writer.
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest
from structlog.testing import capture_logs
from support.damaged_store import garbage_in_a_leaf_header
from support.kv_cli import make_store
from support.wait import wait_until

from raspy.cli import kv
from raspy.errors import StoreDamagedError
from raspy.storage import damage
from raspy.storage.lock import DataDirLock
from raspy.storage.store import Put, Table
from raspy.storage.tables import encode_kv

_JOIN_S = 15.0


@pytest.mark.parametrize("made_so_far", ["lock.mdb only", "empty data.mdb"])
def test_check_waits_for_a_store_that_raspyd_is_making(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], made_so_far: str
) -> None:
    """The data dir as LMDB leaves it for a moment at raspyd's first start: the lock
    held, lock.mdb there, data.mdb not yet (or empty). check used to say "data.mdb is
    missing, but ... held a store" (status 1); now it waits and checks the store."""
    source = tmp_path / "source"
    make_store(source)
    target = tmp_path / "data"
    target.mkdir(mode=0o700)
    lock = DataDirLock(target)  # raspyd's, while it opens the store
    try:
        shutil.copy(source / damage.LMDB_LOCK_FILE, target / damage.LMDB_LOCK_FILE)
        if made_so_far == "empty data.mdb":
            (target / damage.DATA_FILE).touch(mode=0o600)
        outcome: list[int] = []
        with capture_logs() as logs:
            check = threading.Thread(
                target=lambda: outcome.append(
                    kv.run(["check", "--data-dir", str(target)])
                )
            )
            check.start()
            wait_until(
                lambda: (
                    not check.is_alive()
                    or any(e["event"] == "store_being_made" for e in logs)
                ),
                what="check to wait, or to end",
            )
            # LMDB writes the meta pages (here: the whole file, put in place at once)
            temp = target / "made.tmp"
            shutil.copy(source / damage.DATA_FILE, temp)
            os.replace(temp, target / damage.DATA_FILE)
    finally:
        lock.release()
    check.join(_JOIN_S)
    assert outcome == [0], capsys.readouterr().err
    assert "ok" in capsys.readouterr().out


def test_a_writer_that_stays_without_a_store_is_waited_for_a_moment_only(
    tmp_path: Path,
) -> None:
    """After the wait the reader goes on, and its own checks say what is there."""
    calls: list[bool] = []

    def writer_present() -> bool:
        calls.append(True)
        return True

    damage.wait_while_made(tmp_path, writer_present, wait_s=0.05)
    assert len(calls) >= 2


def test_no_writer_no_wait(tmp_path: Path) -> None:
    damage.wait_while_made(tmp_path, lambda: False, wait_s=60)  # returns at once


@pytest.fixture(name="damaged_pages")
def damaged_pages_fixture(tmp_path: Path) -> Path:
    """A store whose meta pages are sound but one kv leaf page is garbage (only the
    page walk sees it)."""
    data_dir = tmp_path / "data"
    make_store(
        data_dir,
        [
            Put(Table.KV, b"/k/%04d" % i, encode_kv(i, b"x" * 100, {}, None))
            for i in range(300)
        ],
    )
    garbage_in_a_leaf_header(data_dir)
    return data_dir


def test_damage_found_by_a_walk_that_a_writer_overtook_is_not_trusted(
    damaged_pages: Path,
) -> None:
    """No writer when the walk began, one when it ended (raspyd started meanwhile):
    what the walk saw may be raspyd's writes, so the file is checked as beside a
    writer (meta pages and length), which it passes."""
    answers = iter([False, True])
    damage.check_for_reader(damaged_pages, lambda: next(answers))


def test_damage_found_with_no_writer_around_is_reported(damaged_pages: Path) -> None:
    with pytest.raises(StoreDamagedError, match="database 'kv' page"):
        damage.check_for_reader(damaged_pages, lambda: False)


def test_the_pinned_walk_names_the_damage_of_its_snapshot(damaged_pages: Path) -> None:
    """Beside a writer a reader walks the snapshot its read txn pinned: the meta page
    of that txn is found (the latest here) and the damaged page named."""
    meta = damage.check_data_file(damaged_pages, deep=False)
    assert meta is not None
    with pytest.raises(StoreDamagedError, match="database 'kv' page"):
        damage.walk_pinned(damaged_pages, meta.txnid)


def test_a_pinned_txn_no_meta_page_holds_any_more_asks_for_a_new_one(
    damaged_pages: Path,
) -> None:
    """A writer that committed twice since the txn was pinned wrote over its meta
    page: nothing is walked (the pages found are another snapshot's), False says so."""
    meta = damage.check_data_file(damaged_pages, deep=False)
    assert meta is not None
    assert damage.walk_pinned(damaged_pages, meta.txnid - 2) is False
