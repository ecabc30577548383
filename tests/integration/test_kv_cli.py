"""raspy-kv dump / restore / check doing their work on real data dirs: round trips,
selected dbs, a running writer, --replace, migrations and the progress bar (issue #4
"raspy-kv")."""

from __future__ import annotations

import io
import os
import re
import select
import stat
import sys
import time
from pathlib import Path

import pytest
from structlog.testing import capture_logs
from support.kv_cli import CONTENT, TIME, UUID, make_store, records, run, write_dump
from support.store_holder import holding_store

from raspy import packing
from raspy.cli import kv
from raspy.storage.dump import Dump, Header, Record, parse
from raspy.storage.lock import ReadLock, being_read
from raspy.storage.schema import SCHEMA_VERSION
from raspy.storage.store import Put, Table
from raspy.storage.tables import (
    DATA_TABLES,
    LAST_SEQ_KEY,
    encode_kv,
    encode_schema_version,
    encode_seq,
    queue_key,
)


def test_dump_then_restore_into_a_new_data_dir_gives_the_same_records(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue #4: dump writes every record in key order; restore writes it all back."""
    make_store(tmp_path / "a")
    first = tmp_path / "first.dump"
    status, out, err = run(
        ["dump", "--data-dir", str(tmp_path / "a"), "-o", str(first)], capsys
    )
    assert (status, out) == (0, "")
    assert re.fullmatch(
        f"raspy-kv dump: dumped 7 records from {len(DATA_TABLES)} dbs in {TIME}\n", err
    )
    status, out, err = run(
        ["restore", "--data-dir", str(tmp_path / "b"), str(first)], capsys
    )
    assert (status, out) == (0, "")
    assert re.fullmatch(
        f"raspy-kv restore: restored 7 records into {len(DATA_TABLES)} dbs in {TIME}\n",
        err,
    )
    assert records(tmp_path / "b") == records(tmp_path / "a")
    second = tmp_path / "second.dump"
    assert (
        run(["dump", "--data-dir", str(tmp_path / "b"), "-o", str(second)], capsys)[0]
        == 0
    )
    one, two = parse(first.read_bytes()), parse(second.read_bytes())
    assert two.records == one.records
    expected_order = sorted(
        one.records, key=lambda r: (DATA_TABLES.index(r.table), r.key)
    )
    assert list(one.records) == expected_order


def test_a_dump_file_is_private_like_the_data_dir_it_comes_from(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The whole store is in a dump: only its owner may read it (0600), whatever the
    umask, and no temp file is left beside it."""
    make_store(tmp_path / "a")
    out_file = tmp_path / "private.dump"
    old_umask = os.umask(0o022)
    try:
        status = run(
            ["dump", "--data-dir", str(tmp_path / "a"), "-o", str(out_file)], capsys
        )[0]
    finally:
        os.umask(old_umask)
    assert status == 0
    assert stat.S_IMODE(out_file.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "private.dump"]


def test_dump_to_stdout_with_selected_dbs(
    tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    """Issue #4: `raspy-kv dump --data-dir DIR [-o FILE] [--db NAME…]`."""
    make_store(tmp_path / "a")
    with capture_logs():
        status = kv.run(
            [
                "dump",
                "--data-dir",
                str(tmp_path / "a"),
                "--db",
                "kv.meta",
                "titanic.queue",
            ]
        )
    captured = capsysbinary.readouterr()
    assert status == 0
    dump = parse(captured.out)
    assert dump == Dump(
        Header(
            SCHEMA_VERSION, dump.header.created, (Table.KV_META, Table.TITANIC_QUEUE)
        ),
        (
            Record(Table.KV_META, LAST_SEQ_KEY, encode_seq(5)),
            Record(Table.TITANIC_QUEUE, queue_key(1, UUID), UUID),
        ),
    )


def test_dump_and_check_work_beside_a_running_writer_and_restore_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue #4: dump works on the data dir of a running raspyd (one read txn);
    restore refuses a data dir that a running raspyd holds."""
    data_dir = tmp_path / "a"
    make_store(data_dir)
    dump = write_dump(tmp_path / "x.dump", Header(1, "now", (Table.KV,)), ())
    with holding_store(data_dir, Table.CRON.value, b"held") as holder_pid:
        out_file = tmp_path / "live.dump"
        assert (
            run(["dump", "--data-dir", str(data_dir), "-o", str(out_file)], capsys)[0]
            == 0
        )
        assert Record(Table.CRON, b"held", b"1") in parse(out_file.read_bytes()).records
        status, out, _ = run(["check", "--data-dir", str(data_dir)], capsys)
        assert status == 0, out
        status, out, err = run(
            ["restore", "--data-dir", str(data_dir), str(dump)], capsys
        )
        assert (status, out, err) == (
            1,
            "",
            f"raspy-kv restore: data dir {data_dir} is in use by another process "
            f"(pid {holder_pid}); stop raspyd (or what else writes it) before a"
            " restore\n",
        )


def test_restore_beside_a_read_without_a_reader_slot_names_that_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A raspy-kv reading with no reader slot holds the data dir shared: no raspyd
    runs, yet the restore said to stop one."""
    data_dir = tmp_path / "a"
    make_store(data_dir)
    dump = write_dump(tmp_path / "x.dump", Header(1, "now", (Table.KV,)), ())
    reader = ReadLock(data_dir)
    try:
        status, out, err = run(
            ["restore", "--data-dir", str(data_dir), str(dump)], capsys
        )
    finally:
        reader.release()
    assert (status, out, err) == (
        1,
        "",
        f"raspy-kv restore: {being_read(data_dir)}; let that raspy-kv end, then restore"
        " again\n",
    )


OLD, NEW, MORE = (packing.pack(f"name: {n}\n") for n in ("old", "new", "more"))


def test_restore_replace_empties_only_the_dbs_the_dump_holds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue #4: `--replace` clears the named dbs in the same transaction; without it
    the dump's records are merged in."""
    data_dir = tmp_path / "a"
    make_store(
        data_dir,
        [Put(Table.SCENARIO, b"scenario.old.code", OLD), Put(Table.CRON, b"c", b"2")],
    )
    only_new = Header(1, "now", (Table.SCENARIO,))
    dump = write_dump(
        tmp_path / "new.dump",
        only_new,
        (Record(Table.SCENARIO, b"scenario.new.code", NEW),),
    )
    argv = ["restore", "--data-dir", str(data_dir)]
    status, _, err = run([*argv, "--replace", str(dump)], capsys)
    assert status == 0
    assert re.fullmatch(
        f"raspy-kv restore: restored 1 records replacing 1 dbs in {TIME}\n", err
    )
    assert records(data_dir) == {
        (Table.META, b"schema_version"): encode_schema_version(SCHEMA_VERSION),
        (Table.SCENARIO, b"scenario.new.code"): NEW,
        (Table.CRON, b"c"): b"2",
    }
    more = write_dump(
        tmp_path / "more.dump",
        only_new,
        (Record(Table.SCENARIO, b"scenario.more.code", MORE),),
    )
    status, _, err = run([*argv, str(more)], capsys)
    assert status == 0
    assert re.fullmatch(  # a merge says so (a backup restored over a store)
        "raspy-kv restore: restored 1 records into 1 dbs, merged with the 1 records they held"
        f" \\(--replace empties them first\\) in {TIME}\n",
        err,
    )
    assert records(data_dir) == {
        (Table.META, b"schema_version"): encode_schema_version(SCHEMA_VERSION),
        (Table.SCENARIO, b"scenario.more.code"): MORE,
        (Table.SCENARIO, b"scenario.new.code"): NEW,
        (Table.CRON, b"c"): b"2",
    }


def test_restore_never_lowers_the_last_sequence_number(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """docs/architecture.md: a sequence number is never reused, even after a restore."""
    data_dir = tmp_path / "a"
    make_store(data_dir, [Put(Table.KV_META, LAST_SEQ_KEY, encode_seq(90))])
    dump = write_dump(
        tmp_path / "old.dump",
        Header(1, "now", (Table.KV, Table.KV_META)),
        (
            Record(Table.KV, b"/a", encode_kv(7, b"x", {}, None)),
            Record(Table.KV_META, LAST_SEQ_KEY, encode_seq(7)),
        ),
    )
    assert (
        run(["restore", "--data-dir", str(data_dir), "--replace", str(dump)], capsys)[0]
        == 0
    )
    assert records(data_dir)[(Table.KV_META, LAST_SEQ_KEY)] == encode_seq(90)


@pytest.mark.parametrize(
    ("into", "replace"),
    [("empty", False), ("lower", False), ("lower", True)],
    ids=["into-an-empty-store", "merged", "replacing"],
)
def test_a_restore_of_kv_alone_raises_last_seq_to_its_highest_seq(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], into: str, replace: bool
) -> None:
    """docs/recovery.md's way out of a damaged db (`dump --db kv`, then restore) left
    kv.meta last_seq below the restored seqs (a dump of kv has no last_seq), and
    check then failed: last_seq becomes the highest of the stored one, the dump's,
    and every kv seq restored."""
    source = tmp_path / "source"
    make_store(
        source,
        [
            Put(Table.KV, b"/a", encode_kv(20, b"x", {}, None)),
            Put(Table.KV, b"/b", encode_kv(7, b"y", {}, None)),
            Put(Table.KV_META, LAST_SEQ_KEY, encode_seq(20)),
        ],
    )
    dump = tmp_path / "kv.dump"
    argv = ["dump", "--data-dir", str(source), "--db", "kv", "-o", str(dump)]
    assert run(argv, capsys)[0] == 0
    target = tmp_path / "target"
    if into == "lower":
        make_store(
            target,
            [
                Put(Table.KV, b"/old", encode_kv(10, b"z", {}, None)),
                Put(Table.KV_META, LAST_SEQ_KEY, encode_seq(10)),
            ],
        )
    restore = ["restore", "--data-dir", str(target), str(dump)]
    assert run(restore + (["--replace"] if replace else []), capsys)[0] == 0
    assert records(target)[(Table.KV_META, LAST_SEQ_KEY)] == encode_seq(20)
    status, out, _ = run(["check", "--data-dir", str(target)], capsys)
    assert (status, out.split(":")[-1].split(" in ")[0]) == (0, " ok")


def test_dump_to_a_file_removes_the_temp_files_earlier_dumps_into_it_left(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A dump -o FILE cut short (a kill, a power cut) left .FILE.<hex>.tmp for good;
    the next dump into FILE removes those untouched for a day, as backup does its
    own. A fresh one (a dump writing now) and another file's are left."""
    make_store(tmp_path / "a")
    (out := tmp_path / "out").mkdir()
    stale = out / ".raspy.dump.0123456789ab.tmp"
    fresh = out / ".raspy.dump.ba9876543210.tmp"
    other = out / ".other.dump.0123456789ab.tmp"
    for path in (stale, fresh, other):
        path.write_bytes(b"partial")
    day_ago = time.time() - 86400 - 60
    for path in (stale, other):
        os.utime(path, (day_ago, day_ago))
    target = out / "raspy.dump"
    status, _, err = run(
        ["dump", "--data-dir", str(tmp_path / "a"), "-o", str(target)], capsys
    )
    assert (status, err.split(" in ")[0]) == (
        0,
        f"raspy-kv dump: dumped {len(CONTENT)} records from {len(DATA_TABLES)} dbs;"
        " 1 partial (a dump cut short) removed",
    )
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [target.name, fresh.name, other.name]
    )


def test_a_dump_of_an_older_schema_is_migrated_in_the_restore_transaction(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue #4: older data is migrated by the registered step (0 -> 1 adds last_seq)."""
    dump = write_dump(
        tmp_path / "v0.dump",
        Header(0, "then", (Table.KV,)),
        (Record(Table.KV, b"/a", encode_kv(12, b"x", {}, None)),),
    )
    assert (
        run(["restore", "--data-dir", str(tmp_path / "a"), str(dump)], capsys)[0] == 0
    )
    assert records(tmp_path / "a")[(Table.KV_META, LAST_SEQ_KEY)] == encode_seq(12)


def test_a_progress_bar_is_drawn_only_when_stderr_is_a_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue #4: long dumps and restores show a progress bar on a terminal, not in
    a pipe (the other tests: stderr is not a terminal, so only the summary)."""
    make_store(tmp_path / "a", CONTENT[:2])
    main_fd, side_fd = os.openpty()
    shown = ""
    with io.open(side_fd, "w", encoding="utf-8") as terminal:  # noqa: UP020  # an fd
        monkeypatch.setattr(sys, "stderr", terminal)
        status, _, _ = run(
            ["dump", "--data-dir", str(tmp_path / "a"), "-o", str(tmp_path / "d")],
            capsys,
        )
        monkeypatch.undo()
        for _ in range(100):  # the terminal hands the text out in pieces
            if not select.select([main_fd], [], [], 0)[0]:
                break
            shown += os.read(main_fd, 65536).decode()
    os.close(main_fd)
    assert status == 0
    bar1 = r"\rdump \[#{15}\.{15}\] 1/2"
    bar2 = r"\rdump \[#{30}\] 2/2"
    assert re.fullmatch(
        f"{bar1}{bar2}\\r\\x1b\\[K"
        f"raspy-kv dump: dumped 2 records from {len(DATA_TABLES)} dbs in {TIME}\\r\\n",
        shown,
    ), shown
