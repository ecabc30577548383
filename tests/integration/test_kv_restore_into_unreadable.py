"""A restore into a store that holds an unreadable record (one `raspy-kv check`
reports, and raspyd refuses to start on): refused, naming the record, with nothing
written, wherever the record would outlive the restore (a merge keeps it, and
--replace keeps the dbs the dump does not hold). Before, a merge said it restored
the dump, and raspyd then refused the store it left."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.kv_cli import CONTENT, make_store, records, run, write_dump

from raspy.storage.dump import Header, Record
from raspy.storage.store import Put, Table
from raspy.storage.tables import encode_kv

_BAD = Put(Table.KV, b"/bad", b"\xc1 not msgpack")
_GOOD = Record(Table.KV, b"/device/new", encode_kv(7, b"1", {}, None))


def _unreadable(data_dir: Path) -> str:
    return f"raspy-kv restore: {data_dir / 'data.mdb'}: kv record '/bad' is unreadable"


def test_a_merge_that_would_keep_an_unreadable_record_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "a"
    make_store(target, [*CONTENT, _BAD])
    before = records(target)
    dump = write_dump(tmp_path / "x.dump", Header(1, "now", (Table.KV,)), (_GOOD,))
    status, out, err = run(["restore", "--data-dir", str(target), str(dump)], capsys)
    assert (status, out) == (1, "")
    assert err.startswith(_unreadable(target) + ": "), err
    assert err.endswith(
        "; a restore would keep it, and raspyd refuses such a store: nothing was"
        f" written. `raspy-kv check --data-dir {target}` lists every such record;"
        " restore with --replace (the dump's dbs emptied first), or into a new"
        f" data dir (keep this one: `mv {target} {target}.damaged`)\n"
    )
    assert records(target) == before


def test_replace_keeping_a_db_with_an_unreadable_record_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--replace empties only the dbs the dump holds: a bad kv record outlives a
    restore of a dump without kv."""
    target = tmp_path / "a"
    make_store(target, [*CONTENT, _BAD])
    before = records(target)
    dump = write_dump(tmp_path / "x.dump", Header(1, "now", (Table.CRON,)), ())
    argv = ["restore", "--replace", "--data-dir", str(target), str(dump)]
    status, out, err = run(argv, capsys)
    assert (status, out) == (1, "")
    assert err.startswith(_unreadable(target) + ": "), err
    assert err.endswith(
        "; a restore would keep it, and raspyd refuses such a store: nothing was"
        f" written. `raspy-kv check --data-dir {target}` lists every such record;"
        f" restore into a new data dir (keep this one: `mv {target}"
        f" {target}.damaged`)\n"
    )
    assert records(target) == before


def test_replace_of_the_db_that_holds_the_unreadable_record_takes_it_away(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "a"
    make_store(target, [*CONTENT, _BAD])
    dump = write_dump(tmp_path / "x.dump", Header(1, "now", (Table.KV,)), (_GOOD,))
    argv = ["restore", "--replace", "--data-dir", str(target), str(dump)]
    status, _, err = run(argv, capsys)
    assert status == 0, err
    assert (Table.KV, b"/bad") not in records(target)
    assert run(["check", "--data-dir", str(target)], capsys)[0] == 0
