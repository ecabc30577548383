"""A store can hold a record that raspy-kv restore refuses (a kv key that is a Clone
command, which an older restore let in and raspyd starts on): its dump and its
backup are written whole, but they say that the file does not restore as it stands
(status 1), and such a backup removes no older one, which may restore."""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

import pytest
from structlog.testing import capture_logs
from support.kv_cli import CONTENT, make_store, records, run

from raspy.storage.dump import parse
from raspy.storage.store import Put, Store, Table
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
    data = tmp_path / "data"
    assert lines[2] == (
        f"raspy-kv dump: {dump} holds 1 record that raspy-kv restore refuses, as the"
        f" store holds it (`raspy-kv check --data-dir {data}` lists it): it does not"
        " restore as it stands; take its line out, lower the end line's record"
        " count by as many, and restore it with --ignore-checksum. For whole dumps"
        " again, stop raspyd and drop it from the store: `raspy-kv check --data-dir"
        f" {data} --drop kv KTHXBAI`"
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
    assert (
        "no older whole backup was removed (--keep waits for a backup that restores"
        " as it stands): they may restore as they stand; this one is named -refused"
        " and replaces the older such ones"
    ) in err
    assert older.exists()
    names = sorted(path.name for path in backups.glob("raspy-*.dump"))
    assert names[0] == older.name
    assert re.fullmatch(r"raspy-\d{8}T\d{6}Z-refused\.dump", names[1]), names


def test_nightly_backups_of_a_store_restore_refuses_keep_the_whole_ones_and_one_more(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each night's backup that restore refuses replaces the last such one, and
    removes no whole one: the directory held a new file a night until the disk was
    full. The first whole backup after the drop removes the one restore refuses
    and rotates the whole ones."""
    backups = tmp_path / "backups"
    backups.mkdir()
    make_store(tmp_path / "good")
    whole = [backups / f"raspy-2026010{day}T000000Z.dump" for day in (1, 2)]
    for path in whole:
        dump = ["dump", "--data-dir", str(tmp_path / "good"), "-o", str(path)]
        assert run(dump, capsys)[0] == 0
    data = tmp_path / "data"
    make_store(data, [*CONTENT, COMMAND_KEY])

    for _night in range(3):
        assert _backup(data, backups, capsys) == 1

    names = sorted(path.name for path in backups.glob("raspy-*.dump"))
    assert names[:2] == [path.name for path in whole]
    assert [name.endswith("-refused.dump") for name in names] == [False, False, True]
    drop = ["check", "--data-dir", str(data), "--drop", "kv", "KTHXBAI"]
    assert run(drop, capsys)[0] == 0
    assert _backup(data, backups, capsys) == 0
    left = sorted(path.name for path in backups.glob("raspy-*.dump"))
    assert [name.endswith("-refused.dump") for name in left] == [False]


def _older_backups(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[Path, list[Path], list[Path]]:
    """A backup dir as an older raspy-kv left it: two whole backups of a good store,
    then three of a store holding a record restore refuses, named as whole ones."""
    backups = tmp_path / "backups"
    backups.mkdir()
    make_store(tmp_path / "good")
    make_store(tmp_path / "bad", [*CONTENT, COMMAND_KEY])
    good = [backups / f"raspy-2026010{day}T000000Z.dump" for day in (1, 2)]
    bad = [backups / f"raspy-2026020{day}T000000Z.dump" for day in (1, 2, 3)]
    for store, paths in ((tmp_path / "good", good), (tmp_path / "bad", bad)):
        for path in paths:
            run(["dump", "--data-dir", str(store), "-o", str(path)], capsys)
    return backups, good, bad


def test_a_whole_backup_removes_those_an_older_raspy_kv_named_whole_not_the_good_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An older raspy-kv named every backup of a store restore refuses as a whole
    one: the first whole backup after a --drop counted them among --keep, removed
    the good old ones and kept them. They are found before the rotation and
    removed as the -refused ones are (said); the whole ones are kept."""
    backups, good, bad = _older_backups(tmp_path, capsys)
    argv = ["backup", "--data-dir", str(tmp_path / "good"), "--to", str(backups)]

    status, out, err = run([*argv, "--keep", "3"], capsys)

    assert status == 0, err
    assert "; 3 old removed; 2 older checked again" in out
    left = sorted(path.name for path in backups.glob("raspy-*.dump"))
    assert left[:2] == [path.name for path in good]
    assert [name.endswith("-refused.dump") for name in left] == [False] * 3
    assert err.splitlines() == [
        f"raspy-kv backup: older backup {path} did not restore as it stood (line 4:"
        " kv 'KTHXBAI': a Clone command, not a key: a snapshot would end there):"
        " removed with the -refused ones, as the new one is whole"
        for path in bad
    ]


def test_a_refused_backup_leaves_those_an_older_raspy_kv_named_whole(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A new backup that restore refuses removes only older -refused ones: the
    older raspy-kv's, named whole, are left as they were (judged, they would all
    have gone with the one a night that replaces its kind)."""
    backups, good, bad = _older_backups(tmp_path, capsys)
    before = sorted(path.name for path in backups.glob("raspy-*.dump"))
    argv = ["backup", "--data-dir", str(tmp_path / "bad"), "--to", str(backups)]

    status, out, _ = run([*argv, "--keep", "3"], capsys)

    assert status == 1
    assert "; 0 old removed; 5 older checked again" in out
    left = sorted(path.name for path in backups.glob("raspy-*.dump"))
    assert left[:5] == before == [path.name for path in (*good, *bad)]
    assert left[5].endswith("-refused.dump")


def _bad_ttl(name: bytes) -> Put:
    """A kv record whose ttl the Clone server never stores (0 s): restore refuses it."""
    return Put(Table.KV, name, encode_kv(2, b"x", {}, 0.0))


def test_a_dump_of_more_than_five_refused_records_names_five_and_counts_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The first five refused records are named, one a line, as restore names them;
    the others are counted in the closing line, and its --drop names the first."""
    data = tmp_path / "data"
    bad = [_bad_ttl(b"/bad/%d" % n) for n in range(1, 7)]
    make_store(data, [*CONTENT, *bad, COMMAND_KEY])
    dump = tmp_path / "x.dump"
    status, out, err = run(["dump", "--data-dir", str(data), "-o", str(dump)], capsys)
    assert (status, out) == (1, "")
    lines = err.splitlines()
    assert lines[0].startswith("raspy-kv dump: dumped 14 records from 9 dbs in ")
    why = "kv record: ttl: expected seconds > 0, at most 1000000000, got 0.0"
    assert lines[1:6] == [
        f"raspy-kv dump: {dump} line {n + 2}: kv '/bad/{n}': {why}" for n in range(1, 6)
    ]
    assert lines[6] == (
        f"raspy-kv dump: {dump} holds 7 records that raspy-kv restore refuses (2 more"
        " not shown), as the store holds them (`raspy-kv check --data-dir"
        f" {data}` lists them): it does not restore as it stands; take their lines"
        " out, lower the end line's record count by as many, and restore it with"
        " --ignore-checksum. For whole dumps again, stop raspyd and drop them from"
        f" the store: `raspy-kv check --data-dir {data} --drop kv /bad/1`, then the"
        " others: each line of that check ends with its own"
    )
    assert len(lines) == 7


def _backup(data: Path, backups: Path, capsys: pytest.CaptureFixture[str]) -> int:
    argv = ["backup", "--data-dir", str(data), "--to", str(backups), "--keep", "1"]
    return run(argv, capsys)[0]


def test_check_drop_takes_the_refused_record_out_and_backups_rotate_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The way out the refusal names: with raspyd stopped, `check --drop DB KEY`
    removes the record as dump named it (its key's escapes too), then checks;
    the next backup is whole and removes the older ones beyond --keep."""
    data, backups = tmp_path / "data", tmp_path / "backups"
    backups.mkdir()
    make_store(data, [*CONTENT, COMMAND_KEY, _bad_ttl(b"/bad\x00\\'\xff")])
    make_store(plain := tmp_path / "plain")
    assert _backup(data, backups, capsys) == 1
    drop = ["check", "--data-dir", str(data), "--drop", "kv"]
    status, out, err = run([*drop, "KTHXBAI"], capsys)
    assert (status, err) == (1, "")  # the other is left
    assert out.splitlines()[:2] == [
        "raspy-kv check: dropped kv 'KTHXBAI': a Clone command, not a key: a"
        " snapshot would end there",
        'kv "/bad\\x00\\\\\'\\xff": kv record: ttl: expected seconds > 0, at most'
        " 1000000000, got 0.0; stop raspyd and drop it from the store:"
        f" `raspy-kv check --data-dir {data} --drop kv '/bad\\x00\\\\'\"'\"'\\xff'`",
    ]
    status, out, err = run([*drop, "/bad\\x00\\\\'\\xff"], capsys)
    assert (status, err) == (0, "")
    assert out.startswith('raspy-kv check: dropped kv "/bad\\x00')
    assert records(data) == records(plain)
    assert _backup(data, backups, capsys) == 0
    assert len(list(backups.glob("raspy-*.dump"))) == 1


def test_check_names_the_drop_of_each_record_restore_refuses_not_of_an_unreadable_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """check lists what dump and backup refuse with the way out they name: each
    record raspyd starts on but restore refuses ends with its --drop command, one
    that runs as pasted; an unreadable record does not (raspyd refuses that store:
    its way out is a backup's restore), nor a problem of the store as a whole."""
    data = tmp_path / "data"
    unreadable = Put(Table.KV, b"/torn", b"\xc1")
    make_store(data, [*CONTENT, COMMAND_KEY, _bad_ttl(b"/bad/1"), unreadable])
    status, out, err = run(["check", "--data-dir", str(data)], capsys)
    assert (status, err) == (1, "")
    drop = f"stop raspyd and drop it from the store: `raspy-kv check --data-dir {data}"
    assert out.splitlines()[:-1] == [
        "kv '/bad/1': kv record: ttl: expected seconds > 0, at most 1000000000, got"
        f" 0.0; {drop} --drop kv /bad/1`",
        "kv '/torn': kv record: cannot unpack 1 bytes: not msgpack data",
        "kv 'KTHXBAI': a Clone command, not a key: a snapshot would end there;"
        f" {drop} --drop kv KTHXBAI`",
    ]
    line = out.splitlines()[2]
    status, _, err = run(shlex.split(line[line.index("`") + 1 : -1])[1:], capsys)
    assert (status, err) == (1, "")  # dropped; the other two are left
    assert (Table.KV, b"KTHXBAI") not in records(data)


def test_check_drop_refuses_a_running_hub_a_sound_record_and_a_missing_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Nothing is dropped beside a writer (raspyd), nor a record restore takes, nor
    a key the store does not have; each says why, in one line."""
    data = tmp_path / "data"
    make_store(data, [*CONTENT, COMMAND_KEY])
    before = records(data)
    drop = ["check", "--data-dir", str(data), "--drop"]
    with capture_logs(), Store.open(data, holder="raspyd"):
        status, out, err = run([*drop, "kv", "KTHXBAI"], capsys)
    assert (status, out) == (1, "")
    assert err == (
        f"raspy-kv check: data dir {data} is in use by another process (pid"
        f" {os.getpid()}): raspyd; --drop writes the store: stop raspyd (or what"
        " else writes it) first\n"
    )
    status, out, err = run([*drop, "kv", "/device/pi.fake.t1"], capsys)
    assert (status, out) == (2, "")
    assert err == (
        "raspy-kv check: kv '/device/pi.fake.t1' is a sound record: --drop removes"
        " only one that restore refuses (dump, backup and check name them); delete"
        " a kv key with `raspy-kv del` on the running hub\n"
    )
    status, out, err = run([*drop, "kv", "HUGZ"], capsys)
    assert (status, out) == (2, "")
    assert err == (
        f"raspy-kv check: kv has no key 'HUGZ' in {data}: nothing was dropped"
        f" (`raspy-kv check --data-dir {data}` names the records to drop)\n"
    )
    status, out, err = run([*drop, "kvv", "KTHXBAI"], capsys)
    assert (status, out) == (2, "")
    assert err.startswith("raspy-kv check: --drop kvv: no such db; one of meta, kv,")
    assert records(data) == before


def test_the_drop_command_a_dump_prints_drops_the_record_when_pasted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A key holding both quotes and a `$`, in a data dir with a space: the command
    is one a shell reads back whole (it was the key's repr: a broken string, or a
    double-quoted one whose `$` the shell expands)."""
    data = tmp_path / "da ta $HOME"
    make_store(data, [*CONTENT, _bad_ttl(b"/bad'\"$HOME`x`\x00")])
    make_store(plain := tmp_path / "plain")
    dump = tmp_path / "x.dump"
    status, _, err = run(["dump", "--data-dir", str(data), "-o", str(dump)], capsys)
    assert status == 1
    pasted = err[err.rindex("`raspy-kv check --data-dir") + 1 : err.rindex("`")]
    argv = shlex.split(pasted)
    assert argv[:4] == ["raspy-kv", "check", "--data-dir", str(data)]

    status, _, err = run(argv[1:], capsys)

    assert (status, err) == (0, "")
    assert records(data) == records(plain)
