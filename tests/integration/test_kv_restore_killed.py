"""A raspy-kv restore killed with SIGKILL at any point leaves no store (the dump is
still there) or the whole one, never an empty or half one: into a data dir without
a store, it writes the new store in its staging dir (restore.tmp) and moves the data
file into place once it is committed; into a store, its one txn. What a killed one
left is refused by raspyd's open and removed by the next restore."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from structlog.testing import capture_logs
from support.kv_cli import make_store, records, run, write_dump
from support.restore_writing import restore_writing

from raspy.errors import StoreDamagedError
from raspy.storage.damage import DATA_FILE, data_file_absent
from raspy.storage.dump import Header, Record
from raspy.storage.staging import STAGING_DIR
from raspy.storage.store import Store, Table
from raspy.storage.tables import DATA_TABLES, encode_kv

_CYCLES = 8


def _killed_mid_txn(tmp_path: Path, target: Path, *flags: str) -> None:
    """A restore into `target` held inside its txn (its terminal stopped), then
    SIGKILLed."""
    with restore_writing(tmp_path, target, *flags, held=True) as restore:
        restore.send_signal(signal.SIGKILL)
        assert restore.wait(timeout=10) == -signal.SIGKILL


def _raspyd_open_refused(data_dir: Path) -> str:
    """What raspyd's open of `data_dir` says (it must refuse it)."""
    with capture_logs(), pytest.raises(StoreDamagedError) as refused:
        Store.open(data_dir, check_records=True)
    return str(refused.value)


@pytest.mark.timeout(90)
@pytest.mark.parametrize("lost", [False, True], ids=["new", "lost"])
def test_a_restore_killed_in_its_txn_leaves_no_store_that_raspyd_starts_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], lost: bool
) -> None:
    """Into a new data dir, or one whose data.mdb was lost: before, the open had
    stamped the schema in a txn of its own, so the kill left a valid empty store,
    and raspyd started on it as if all were well. Now raspyd refuses the data dir,
    naming the stopped restore, and the next restore writes the whole dump."""
    target = tmp_path / "data"
    if lost:
        make_store(target)
        (target / DATA_FILE).unlink()  # raspy.store and lock.mdb are there
    _killed_mid_txn(tmp_path, target)
    assert data_file_absent(target)
    assert (target / STAGING_DIR).is_dir()
    assert _raspyd_open_refused(target) == (
        f"{target}: a restore into it was stopped before its store was in place"
        f" ({STAGING_DIR} is what it left; nothing of it counts): restore the dump"
        f" again with `raspy-kv restore --data-dir {target} FILE`, or start"
        " raspyd with --init for an empty store"
    )
    status, _, err = run(
        ["restore", "--data-dir", str(target), str(tmp_path / "big.dump")], capsys
    )
    assert status == 0, err
    assert not (target / STAGING_DIR).exists()
    assert len(records(target)) == 30_000 + 2  # kv.meta last_seq, the schema's


@pytest.mark.timeout(90)
def test_a_replacing_restore_killed_in_its_txn_leaves_the_old_store(
    tmp_path: Path,
) -> None:
    """Into an existing store (--replace): its one txn aborted by the kill, the old
    store is there as it was, and raspyd's open takes it."""
    target = tmp_path / "data"
    make_store(target)
    before = records(target)
    _killed_mid_txn(tmp_path, target, "--replace")
    assert records(target) == before
    assert not (target / STAGING_DIR).exists()
    with capture_logs():
        Store.open(target, check_records=True).close()


def _dump(path: Path, count: int) -> Path:
    kv = tuple(
        Record(Table.KV, b"/device/k%06d" % i, encode_kv(i, b"v" * 200, {}, None))
        for i in range(count)
    )
    return write_dump(path, Header(1, "now", DATA_TABLES), kv)


def _restore_killed_after(
    dump: Path, target: Path, *flags: str, after_s: float
) -> None:
    """A real raspy-kv restore, SIGKILLed `after_s` after its start unless it ended
    first."""
    command = ["restore", *flags, "--data-dir", str(target), str(dump)]
    with subprocess.Popen(
        [sys.executable, "-m", "raspy.cli.kv", *command],
        stdin=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    ) as restore:
        try:
            restore.wait(timeout=after_s)
        except subprocess.TimeoutExpired:
            restore.send_signal(signal.SIGKILL)
            restore.wait(timeout=10)


@pytest.mark.timeout(240)
@pytest.mark.parametrize("into", ["new", "store"])
def test_a_restore_killed_at_random_moments_leaves_no_store_or_the_whole_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], into: str
) -> None:
    """Killed at random moments over its whole run (its checking pass, the open,
    the txn, the move into place), ten times, each into a data dir of its own: no
    store and the staging dir refused by raspyd's open, or the whole dump (into a
    store: the old store, or the new one); then the next restore writes it all."""
    dump = _dump(tmp_path / "x.dump", 8_000)
    flags = ("--replace",) if into == "store" else ()
    reference = tmp_path / "reference"
    if into == "store":
        make_store(reference)
    started = time.monotonic()
    _restore_killed_after(dump, reference, *flags, after_s=60)
    took_s = time.monotonic() - started
    whole = records(reference)
    old: dict[tuple[Table, bytes], bytes] | None = None  # the store replaced
    rng = random.Random(23)
    for cycle in range(_CYCLES):
        target = tmp_path / f"data{cycle}"
        if into == "store":
            make_store(target)
            old = records(target)
        _restore_killed_after(dump, target, *flags, after_s=rng.uniform(0, took_s))
        if data_file_absent(target):
            assert into == "new"
            if (target / STAGING_DIR).exists():
                _raspyd_open_refused(target)
        else:
            assert records(target) in (whole, old), f"cycle {cycle}"
        status, _, err = run(
            ["restore", *flags, "--data-dir", str(target), str(dump)], capsys
        )
        assert status == 0, err
        assert records(target) == whole
        assert not (target / STAGING_DIR).exists()


@pytest.mark.timeout(30)
def test_the_leftover_of_a_restore_killed_after_its_move_is_removed_at_the_open(
    tmp_path: Path,
) -> None:
    """A restore killed once its data file was in place, before its staging dir was
    removed: the store is whole, and the next writer's open removes the leftover."""
    target = tmp_path / "data"
    make_store(target)
    before = records(target)
    (target / STAGING_DIR).mkdir()
    (target / STAGING_DIR / "lock.mdb").write_bytes(b"")
    with capture_logs() as logs:
        Store.open(target, check_records=True).close()
    assert not (target / STAGING_DIR).exists()
    assert {
        "event": "store_restore_leftover_removed",
        "path": str(target / STAGING_DIR),
        "component": "store",
        "log_level": "warning",
    } in logs
    assert records(target) == before


@pytest.mark.timeout(30)
def test_init_takes_a_data_dir_a_killed_restore_left_and_removes_its_leftover(
    tmp_path: Path,
) -> None:
    """`raspyd --init` asks for an empty store: the leftover of a restore stopped
    before its store was in place is removed, and the store made."""
    target = tmp_path / "data"
    (target / STAGING_DIR).mkdir(parents=True)
    (target / STAGING_DIR / DATA_FILE).write_bytes(b"\0" * 4096)
    with capture_logs(), Store.open(target, init=True) as store:
        assert store.scan(Table.KV) == []
    assert not (target / STAGING_DIR).exists()
