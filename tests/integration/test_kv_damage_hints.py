"""What raspy-kv says helps, for a damaged store: a step the user can take, never the
command just run. Before, `raspy-kv check` on a truncated store said "inspect it with
`raspy-kv check --data-dir DIR`", and dump, backup and restore sent the user to check,
which says the same line again; the help is docs/recovery.md's "What to do": keep the
damaged data dir and restore the newest backup into a new one."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from structlog.testing import capture_logs
from support.damaged_store import garbage_in_a_leaf_value
from support.kv_cli import make_store, run
from support.small_fs import fill, small_tmpfs

from raspy import packing
from raspy.errors import StoreDamagedError
from raspy.storage import write_errors
from raspy.storage.damage import DATA_FILE
from raspy.storage.staging import STAGING_DIR
from raspy.storage.store import Put, Store, Table


def _hint(data_dir: Path) -> str:
    return (
        f"keep it and restore the newest backup of it: `mv {data_dir} {data_dir}.damaged`,"
        f" then `raspy-kv restore --data-dir {data_dir} FILE` (docs/recovery.md)"
    )


@pytest.mark.parametrize("command", ["check", "dump", "backup", "restore"])
def test_a_truncated_store_is_met_with_the_restore_of_a_backup(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    make_store(store := tmp_path / "store")
    (backups := tmp_path / "backups").mkdir()
    dump = tmp_path / "good.dump"
    assert run(["dump", "--data-dir", str(store), "-o", str(dump)], capsys)[0] == 0
    data = store / DATA_FILE
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])
    more = {
        "check": [],
        "dump": ["-o", str(tmp_path / "new.dump")],
        "backup": ["--to", str(backups)],
        "restore": [str(dump)],  # a merge into the damaged store
    }[command]
    status, out, err = run([command, "--data-dir", str(store), *more], capsys)
    assert (status, out) == (1, "")
    found = re.fullmatch(
        rf"raspy-kv {command}: {re.escape(str(data))}: truncated: \d+ bytes, but meta page \d"
        rf" \(txn \d+\) needs \d+ \(\d+ pages of \d+\); (.*)\n",
        err,
    )
    assert found is not None, err
    assert found.group(1) == _hint(store)
    assert "raspy-kv check" not in found.group(1)


def test_raspyd_names_the_first_unreadable_record_and_check_lists_them_all(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The store raspyd opens decodes every record and names the first it cannot:
    there `raspy-kv check` does add something (every such record, the pages being
    sound), and the line says so, with the restore."""
    make_store(store := tmp_path / "store")
    garbage_in_a_leaf_value(store)
    with pytest.raises(StoreDamagedError) as refused, capture_logs():
        Store.open(store, check_records=True)
    found = re.fullmatch(
        rf"{re.escape(str(store / DATA_FILE))}: kv record '.*' is unreadable: .*;"
        rf" `raspy-kv check --data-dir {re.escape(str(store))}` lists every such"
        r" record; (.*)",
        str(refused.value),
    )
    assert found is not None, refused.value
    assert found.group(1) == _hint(store)
    status, out, err = run(["check", "--data-dir", str(store)], capsys)
    assert (status, err) == (1, "")
    assert out.splitlines()[0].startswith("kv '")


@pytest.fixture(name="small_fs")
def small_fs_fixture(tmp_path: Path) -> Iterator[Path]:
    """A 2 MB tmpfs, mounted at tmp_path/fs for this test."""
    with small_tmpfs(tmp_path / "fs") as where:
        yield where


def test_a_restore_on_a_failing_device_is_not_sent_to_dump_what_it_never_wrote(
    small_fs: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """LMDB's I/O error with room left names a failing device, and said to dump the
    store: after a restore, which wrote nothing and removed the data.mdb it began,
    that dump said the store was lost and to restore a dump, onto the same device.
    The device is a real filesystem that fills (LMDB: Input/output error); only the
    room it reports is faked, as a failing card's that has room."""
    monkeypatch.setattr(write_errors, "free_bytes", lambda _path: 3 * 1024**3)
    ops = [
        Put(Table.CRON, b"job%04d" % n, packing.pack(bytes(3000))) for n in range(1000)
    ]
    make_store(source := tmp_path / "source", ops)
    dump = tmp_path / "big.dump"
    assert run(["dump", "--data-dir", str(source), "-o", str(dump)], capsys)[0] == 0
    data_dir = small_fs / "data"
    status, out, err = run(["restore", "--data-dir", str(data_dir), str(dump)], capsys)
    assert (status, out) == (1, "")
    assert re.fullmatch(
        rf"raspy-kv restore: store in {re.escape(str(data_dir / STAGING_DIR))}:"
        r" mdb_\w+: Input/output"
        r" error, with 3072 MB free on its filesystem, so not a full disk: the"
        r" storage device \(an SD card\?\) may be failing; nothing of the dump was"
        r" written. Look at `dmesg`, and restore into a data dir on sound storage\n",
        err,
    ), err
    assert not (data_dir / DATA_FILE).exists()
    assert not (data_dir / STAGING_DIR).exists()


def _free(where: Path) -> int:
    found = os.statvfs(where)
    return found.f_bavail * found.f_frsize


def test_a_restore_whose_open_meets_a_failing_device_is_not_sent_to_dump_either(
    small_fs: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A restore into a data dir whose data.mdb was lost writes at the open already
    (its tables, the schema stamp): the device failing there was met with "dump the
    store onto other storage", where there is no store to dump. The filesystem is
    left one page short of what the open of a new store takes, measured here, so
    the open's last write is cut short (LMDB: Input/output error); its room is
    faked as above."""
    make_store(source := tmp_path / "source")
    dump = tmp_path / "small.dump"
    assert run(["dump", "--data-dir", str(source), "-o", str(dump)], capsys)[0] == 0
    data_dir = small_fs / "data"
    with capture_logs():
        Store.open(data_dir).close()
    before = _free(small_fs)
    for name in (DATA_FILE, "lock.mdb"):  # the store is lost; its marker stays
        (data_dir / name).unlink()
    fill(small_fs, _free(small_fs) - before - 4096)
    monkeypatch.setattr(write_errors, "free_bytes", lambda _path: 3 * 1024**3)
    status, out, err = run(["restore", "--data-dir", str(data_dir), str(dump)], capsys)
    assert (status, out) == (1, "")
    assert re.fullmatch(
        rf"raspy-kv restore: store in {re.escape(str(data_dir / STAGING_DIR))}:"
        r" mdb_\w+: Input/output"
        r" error, with 3072 MB free on its filesystem, so not a full disk: the"
        r" storage device \(an SD card\?\) may be failing; nothing of the dump was"
        r" written. Look at `dmesg`, and restore into a data dir on sound storage\n",
        err,
    ), err
    assert not (data_dir / DATA_FILE).exists()
    assert not (data_dir / STAGING_DIR).exists()
