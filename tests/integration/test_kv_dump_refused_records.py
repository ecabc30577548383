"""A store can hold a record that raspy-kv restore refuses (a kv key that is a Clone
command, which an older restore let in and raspyd starts on): its dump and its
backup are written whole, but they say that the file does not restore as it stands
(status 1), and such a backup removes no older one, which may restore."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from support.kv_cli import CONTENT, make_store, run

from raspy.storage.dump import parse
from raspy.storage.store import Put, Table
from raspy.storage.tables import encode_kv

pytestmark = pytest.mark.timeout(30)

COMMAND_KEY = Put(Table.KV, b"KTHXBAI", encode_kv(3, b"x", {}, None))


def test_a_dump_names_a_record_that_restore_refuses_and_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_store(tmp_path / "data", [*CONTENT, COMMAND_KEY])
    dump = tmp_path / "x.dump"
    status, out, err = run(
        ["dump", "--data-dir", str(tmp_path / "data"), "-o", str(dump)], capsys
    )
    assert (status, out) == (1, "")
    lines = err.splitlines()
    assert lines[0].startswith("raspy-kv dump: dumped 8 records from 9 dbs in ")
    assert lines[1] == (
        f"raspy-kv dump: {dump} line 4: kv 'KTHXBAI': a Clone command, not a key: a"
        " snapshot would end there"
    )
    assert re.match(
        rf"raspy-kv dump: {dump} holds 1 record that raspy-kv restore refuses, .*"
        rf"`raspy-kv check --data-dir {tmp_path / 'data'}` lists it\): .*"
        "take its line out.*"
        "--ignore-checksum$",
        lines[2],
    )
    assert len(lines) == 3
    # written whole all the same: what the store holds, as it holds it
    assert len(parse(dump.read_bytes()).records) == 8
    status, _, err = run(
        ["restore", "--data-dir", str(tmp_path / "again"), str(dump)], capsys
    )
    assert status == 1
    assert "line 4: kv 'KTHXBAI'" in err


def test_a_backup_that_restore_refuses_removes_no_older_backup(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    backups = tmp_path / "backups"
    backups.mkdir()
    older = backups / "raspy-20260101T000000Z.dump"
    make_store(tmp_path / "good")
    status, _, _ = run(
        ["dump", "--data-dir", str(tmp_path / "good"), "-o", str(older)], capsys
    )
    assert status == 0
    make_store(tmp_path / "data", [*CONTENT, COMMAND_KEY])
    status, out, err = run(
        [
            "backup",
            "--data-dir",
            str(tmp_path / "data"),
            "--to",
            str(backups),
            "--keep",
            "1",
        ],
        capsys,
    )
    assert status == 1
    assert "; 0 old removed; 1 older checked again" in out
    assert "line 4: kv 'KTHXBAI': a Clone command" in err
    assert "no older backup was removed" in err
    assert older.exists()
    assert len(list(backups.glob("raspy-*.dump"))) == 2
