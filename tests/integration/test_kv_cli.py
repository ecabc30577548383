"""raspy-kv dump / restore / check on real data dirs (issue #4 "raspy-kv")."""

from __future__ import annotations

import io
import os
import re
import select
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
from structlog.testing import capture_logs
from support.store_holder import holding_store

from raspy import packing
from raspy.cli import kv
from raspy.config import StoreConfig
from raspy.errors import quote
from raspy.storage.dump import Dump, Header, Record, dump_lines, parse
from raspy.storage.store import Delete, Put, Store, Table
from raspy.storage.tables import (
    DATA_TABLES,
    LAST_SEQ_KEY,
    TitanicRequestRecord,
    encode_kv,
    encode_schema_version,
    encode_seq,
    encode_titanic_request,
    queue_key,
)

UUID = b"0123456789abcdef0123456789abcdef"
TIME = r"\d+\.\d\d s"
CONTENT = [
    Put(Table.KV, b"/device/pi.fake.t1", encode_kv(4, b"21.5", {"unit": "C"}, None)),
    Put(Table.KV, b"\x00\xffbinary", encode_kv(5, b"\x00\x01", {}, 30.0)),
    Put(Table.KV_META, LAST_SEQ_KEY, encode_seq(5)),
    Put(
        Table.TITANIC_REQUESTS,
        UUID,
        encode_titanic_request(TitanicRequestRecord(b"echo", (b"hi", b"\xfe"), 1.5)),
    ),
    Put(Table.TITANIC_QUEUE, queue_key(1, UUID), UUID),
    Put(Table.SCENARIO, b"scenario.main.conf", packing.pack({"enabled": True})),
    Put(Table.CRON, b"job\x07", packing.pack([1, 2.5, None])),
]


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    capsys.readouterr()
    with capture_logs():  # the store's log lines are not part of the output
        status = kv.run(argv)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def make_store(data_dir: Path, ops: Sequence[Put | Delete] = CONTENT) -> None:
    with capture_logs(), Store.open(data_dir) as store:
        store.commit(ops)


def records(data_dir: Path) -> dict[tuple[Table, bytes], bytes]:
    with capture_logs(), Store.open(data_dir, readonly=True) as store:
        return {(t, k): v for t in Table for k, v in store.scan(t)}


def write_dump(path: Path, header: Header, recs: tuple[Record, ...]) -> Path:
    path.write_bytes(b"".join(dump_lines(header, recs)))
    return path


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
    assert re.fullmatch(f"raspy-kv: dumped 7 records from 7 dbs in {TIME}\n", err)
    status, out, err = run(
        ["restore", "--data-dir", str(tmp_path / "b"), str(first)], capsys
    )
    assert (status, out) == (0, "")
    assert re.fullmatch(f"raspy-kv: restored 7 records into 7 dbs in {TIME}\n", err)
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
        Header(1, dump.header.created, (Table.KV_META, Table.TITANIC_QUEUE)),
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
            f"raspy-kv: data dir {data_dir} is in use by another process "
            f"(pid {holder_pid}); stop raspyd before a restore\n",
        )


def _damaged(kind: str, good: bytes) -> bytes:
    if kind == "truncated":
        return good[: len(good) // 2]
    if kind == "corrupted":
        return good.replace(b"21.5", b"99.5")
    return good.replace(b'"format_version": 1', b'"format_version": 2')


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        pytest.param(
            "truncated",
            "line 5: last line has no newline: file truncated",
            id="truncated",
        ),
        pytest.param(
            "corrupted",
            "line 9: checksum mismatch: the file was changed or damaged after the dump",
            id="corrupted",
        ),
        pytest.param(
            "newer",
            "line 1: dump format version 2 is newer than this raspy-kv supports (1)",
            id="wrong-version",
        ),
    ],
)
def test_a_bad_dump_is_refused_naming_the_line_and_the_store_is_unchanged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str, message: str
) -> None:
    """Issue #4: a truncated, corrupted or wrong-version dump file is refused with the
    store unchanged; the error names the line number and what is wrong."""
    make_store(tmp_path / "a")
    good = tmp_path / "good.dump"
    assert (
        run(["dump", "--data-dir", str(tmp_path / "a"), "-o", str(good)], capsys)[0]
        == 0
    )
    target = tmp_path / "b"
    make_store(target, [Put(Table.KV, b"keep", b"me")])
    before = records(target)
    bad = tmp_path / "bad.dump"
    bad.write_bytes(_damaged(kind, good.read_bytes()))
    status, out, err = run(
        ["restore", "--data-dir", str(target), "--replace", str(bad)], capsys
    )
    assert (status, out, err) == (1, "", f"raspy-kv: {bad} {message}\n")
    assert records(target) == before


@pytest.mark.parametrize(
    ("record", "message"),
    [
        pytest.param(
            Record(Table.SCENARIO, b"big", b"x" * (StoreConfig().max_value_bytes + 1)),
            "value of 1048577 bytes for scenario key 'big' is over "
            "store.max_value_bytes (1048576)",
            id="over-the-size-limit",
        ),
        pytest.param(
            Record(Table.KV, b"/bad", b"\x01\x02"),
            "kv '/bad': kv record: cannot unpack 2 bytes: unpack(b) received extra data.",
            id="not-a-kv-record",
        ),
        pytest.param(
            Record(Table.TITANIC_QUEUE, queue_key(1, UUID), b"other"),
            f"titanic.queue {quote(queue_key(1, UUID))}: value 'other' is not the "
            "key's uuid",
            id="queue-entry-for-another-uuid",
        ),
    ],
)
def test_a_record_that_cannot_be_stored_is_refused_before_anything_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], record: Record, message: str
) -> None:
    """Issue #4: restore validates every record first (size limits, and that it decodes
    as its table says); an error names the line and nothing is written."""
    dump = write_dump(
        tmp_path / "bad.dump",
        Header(1, "now", DATA_TABLES),
        (Record(Table.SCENARIO, b"fine", b"1"), record),
    )
    status, _, err = run(
        ["restore", "--data-dir", str(tmp_path / "a"), str(dump)], capsys
    )
    assert (status, err) == (1, f"raspy-kv: {dump} line 3: {message}\n")
    assert not (tmp_path / "a").exists()


def test_restore_replace_empties_only_the_dbs_the_dump_holds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue #4: `--replace` clears the named dbs in the same transaction; without it
    the dump's records are merged in."""
    data_dir = tmp_path / "a"
    make_store(
        data_dir, [Put(Table.SCENARIO, b"old", b"1"), Put(Table.CRON, b"c", b"2")]
    )
    only_new = Header(1, "now", (Table.SCENARIO,))
    dump = write_dump(
        tmp_path / "new.dump", only_new, (Record(Table.SCENARIO, b"new", b"3"),)
    )
    argv = ["restore", "--data-dir", str(data_dir)]
    status, _, err = run([*argv, "--replace", str(dump)], capsys)
    assert status == 0
    assert re.fullmatch(
        f"raspy-kv: restored 1 records replacing 1 dbs in {TIME}\n", err
    )
    assert records(data_dir) == {
        (Table.META, b"schema_version"): encode_schema_version(1),
        (Table.SCENARIO, b"new"): b"3",
        (Table.CRON, b"c"): b"2",
    }
    more = write_dump(
        tmp_path / "more.dump", only_new, (Record(Table.SCENARIO, b"more", b"4"),)
    )
    assert run([*argv, str(more)], capsys)[0] == 0
    assert records(data_dir) == {
        (Table.META, b"schema_version"): encode_schema_version(1),
        (Table.SCENARIO, b"more"): b"4",
        (Table.SCENARIO, b"new"): b"3",
        (Table.CRON, b"c"): b"2",
    }


def test_restore_never_lowers_the_last_sequence_number(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """ARCHITECTURE.md: a sequence number is never reused, even after a restore."""
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


def test_a_dump_of_a_newer_schema_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue #4: data written by a newer raspy is refused, naming both versions."""
    dump = write_dump(tmp_path / "v2.dump", Header(2, "later", (Table.KV,)), ())
    status, _, err = run(
        ["restore", "--data-dir", str(tmp_path / "a"), str(dump)], capsys
    )
    assert (status, err) == (
        1,
        f"raspy-kv: {dump} line 1: schema version 2 is newer than this raspy "
        "supports (1)\n",
    )
    assert not (tmp_path / "a").exists()


def test_check_reports_each_problem_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue #4: check verifies every record decodes and the sequence bookkeeping is
    consistent, and exits non-zero with a report where it is not."""
    make_store(
        tmp_path / "a",
        [
            *CONTENT,
            Put(Table.KV, b"/late", encode_kv(9, b"x", {}, None)),
            Delete(Table.TITANIC_REQUESTS, UUID),
        ],
    )
    status, out, err = run(["check", "--data-dir", str(tmp_path / "a")], capsys)
    lines = out.splitlines()
    assert (status, err, lines[:-1]) == (
        1,
        "",
        [
            "kv '/late': seq 9 is above kv.meta last_seq 5",
            f"titanic.queue '{UUID.decode()}': queued without request",
        ],
    )
    assert re.fullmatch(
        f"raspy-kv: checked 8 records in 8 dbs: 2 problems in {TIME}", lines[-1]
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(
            [],
            "raspy-kv: the following arguments are required: COMMAND",
            id="no-command",
        ),
        pytest.param(
            ["dump"],
            "raspy-kv dump: the following arguments are required: --data-dir",
            id="no-data-dir",
        ),
        pytest.param(
            ["dump", "--data-dir", "DIR", "--db", "meta"],
            "raspy-kv dump: argument --db: invalid choice: 'meta' (choose from "
            "'kv', 'kv.meta', 'titanic.requests', 'titanic.replies', 'titanic.queue', "
            "'scenario', 'cron')",
            id="meta-not-dumpable",
        ),
        pytest.param(
            ["check", "--data-dir", "DIR"], "raspy-kv: no store in DIR", id="no-store"
        ),
        pytest.param(
            ["restore", "--data-dir", "DIR", "FILE"],
            "raspy-kv: cannot read FILE: No such file or directory",
            id="no-file",
        ),
    ],
)
def test_usage_errors_exit_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    """Issue #4: exit statuses 0 ok, 1 data problem, 2 usage error; STYLE §4."""
    argv = [str(tmp_path / a) if a in ("DIR", "FILE") else a for a in argv]
    message = message.replace("DIR", str(tmp_path / "DIR"))
    message = message.replace("FILE", str(tmp_path / "FILE"))
    assert run(argv, capsys) == (2, "", message + "\n")


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
        f"raspy-kv: dumped 2 records from 7 dbs in {TIME}\\r\\n",
        shown,
    ), shown
