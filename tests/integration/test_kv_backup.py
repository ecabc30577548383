"""raspy-kv backup on real data dirs: a dated dump that restores, checked before it
counts, the oldest removed beyond --keep (only the files it names), never a file
replaced, and refusals that leave the backup dir as it was."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from support.kv_cli import CONTENT, TIME, make_store, records, run
from support.store_holder import holding_store

from raspy.cli import kv_backup, kv_lines
from raspy.storage.damage import DATA_FILE, LMDB_LOCK_FILE
from raspy.storage.dump import Record, parse
from raspy.storage.store import Put, Table
from raspy.storage.tables import recorded_key_record

NAME = r"raspy-\d{8}T\d{6}Z(?:-\d+)?(?:-nohistory)?\.dump"


def _backup(
    data_dir: Path, to: Path, capsys: pytest.CaptureFixture[str], *more: str
) -> tuple[int, str, str]:
    return run(["backup", "--data-dir", str(data_dir), "--to", str(to), *more], capsys)


def _backups(backup_dir: Path) -> list[str]:
    return sorted(p.name for p in backup_dir.iterdir() if re.fullmatch(NAME, p.name))


def _only_backup(backup_dir: Path) -> Path:
    (name,) = _backups(backup_dir)
    return backup_dir / name


def _without_time(dump: bytes) -> tuple[object, ...]:
    """A dump's content: its header but the creation time, and its records."""
    parsed = parse(dump)
    header = parsed.header
    return header.schema_version, header.tables, parsed.records


def test_a_backup_restores_to_the_same_records(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_store(store := tmp_path / "store")
    (backups := tmp_path / "backups").mkdir()
    status, out, err = _backup(store, backups, capsys)
    assert (status, err) == (0, ""), err
    path = _only_backup(backups)
    size = path.stat().st_size
    assert re.fullmatch(
        f"raspy-kv backup: {re.escape(str(path))}: 7 records, {size} bytes, checked;"
        f" 0 old removed; 0 older checked again in {TIME}\n",
        out,
    )
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in backups.iterdir()) == [path.name]  # no temp file
    # the name's time is the header's
    stamp = re.fullmatch(r"raspy-(\d{8}T\d{6}Z)\.dump", path.name)
    assert stamp is not None
    created = parse(path.read_bytes()).header.created
    assert created.replace("-", "").replace(":", "") == stamp.group(1)

    status, _, err = run(
        ["restore", "--data-dir", str(tmp_path / "new"), str(path)], capsys
    )
    assert status == 0, err
    assert records(tmp_path / "new") == records(store)
    again = tmp_path / "again.dump"
    assert (
        run(["dump", "--data-dir", str(tmp_path / "new"), "-o", str(again)], capsys)[0]
        == 0
    )
    assert _without_time(again.read_bytes()) == _without_time(path.read_bytes())


def test_no_history_leaves_the_recorded_values_out_and_the_rest_in(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The history db is the bulk of a store after years (~10 MB a logged sensor): a
    daily backup onto the SD card leaves it out (the shipped timer does)."""
    history = Put(Table.HISTORY, *recorded_key_record("/device/pi.fake.t1/value"))
    make_store(store := tmp_path / "store", [*CONTENT, history])
    (backups := tmp_path / "backups").mkdir()
    status, _, err = _backup(store, backups, capsys, "--no-history")
    assert status == 0, err
    dump = parse(_only_backup(backups).read_bytes())
    assert Table.HISTORY not in dump.header.tables
    assert {r.table for r in dump.records} == {o.table for o in CONTENT}
    assert len(dump.records) == len(CONTENT)


def _a_dump(store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> bytes:
    """A good dump of `store`, as an older backup would hold."""
    path = tmp_path / "a.dump"
    status, _, err = run(["dump", "--data-dir", str(store), "-o", str(path)], capsys)
    assert status == 0, err
    return path.read_bytes()


def test_an_older_backup_that_no_longer_reads_back_is_said_and_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A card or a stick that decays spoils the kept backups in silence, and the
    day one is needed is too late to find out: each backup reads the older ones
    again. A spoiled one is named (exit 1, so the timer's unit shows failed) and
    kept (it may restore up to its bad line); the new one is good and kept."""
    make_store(store := tmp_path / "store")
    (backups := tmp_path / "backups").mkdir()
    good = _a_dump(store, tmp_path, capsys)
    older = ["raspy-20261101T031500Z.dump", "raspy-20261102T031500Z.dump"]
    (backups / older[0]).write_bytes(good)
    # one byte of a record changed: the end line's checksum fails (not the header's
    # version, which would read as a dump of a newer raspy-kv)
    rotten = good.replace(b'"21.5"', b'"27.5"', 1)
    assert rotten != good
    (backups / older[1]).write_bytes(rotten)
    status, out, err = _backup(store, backups, capsys)
    assert status == 1
    assert out.endswith(
        f"; 0 old removed; 2 older checked again, 1 of them no longer "
        f"reads back in {out.rsplit(' in ', 1)[1]}"
    )
    first, second = err.splitlines()
    assert first.startswith(
        f"raspy-kv backup: older backup {backups / older[1]} no longer reads back ("
    )
    assert "checksum mismatch" in first
    assert "the new backup is good" in second
    assert len(_backups(backups)) == 3
    assert (backups / older[1]).read_bytes() == rotten


def test_an_older_backup_of_a_newer_raspy_kv_is_not_taken_for_decay(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """After a downgrade, the backups the newer raspy-kv wrote cannot be read by
    this one: that says nothing of the disk. They were reported as decay (exit 1,
    "the disk may be failing") every day until rotated out; now they are said to be
    not checked, and the run succeeds."""
    make_store(store := tmp_path / "store")
    (backups := tmp_path / "backups").mkdir()
    header, rest = _a_dump(store, tmp_path, capsys).split(b"\n", 1)
    newer = json.loads(header)
    newer["format_version"] = 99
    name = "raspy-20261101T031500Z.dump"
    (backups / name).write_bytes(json.dumps(newer).encode() + b"\n" + rest)
    status, out, err = _backup(store, backups, capsys)
    assert status == 0, err
    assert "; 0 older checked again, 1 not checked in " in out
    assert err == (
        f"raspy-kv backup: older backup {backups / name} not checked (line 1: dump "
        "format version 99 is newer than this raspy-kv supports (1))\n"
    )


def _old_backups(backup_dir: Path, content: bytes) -> list[str]:
    """Five backups of earlier days and a second one of the 4th's second, written in
    an order other than their times'; their names, oldest first."""
    names = [f"raspy-2026110{day}T031500Z.dump" for day in (1, 2, 3, 4)]
    names += ["raspy-20261104T031500Z-2.dump", "raspy-20261105T031500Z.dump"]
    for index in (2, 0, 5, 4, 1, 3):
        (backup_dir / names[index]).write_bytes(content)
    return names


FOREIGN = (
    "notes.txt",
    "raspy-x.dump.bak",
    "raspy-x.dump",  # raspy-*.dump, but not a name a backup writes
    "raspy-20261101T031500Z.dump.bak",
    "raspy-20261101T031500Z-1.dump",  # a backup never numbers 1
    "old-raspy-20261101T031500Z.dump",
)


def test_rotation_keeps_the_newest_backups_and_every_file_of_the_user(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_store(store := tmp_path / "store")
    (backups := tmp_path / "backups").mkdir()
    content = _a_dump(store, tmp_path, capsys)
    olds = _old_backups(backups, content)
    for name in FOREIGN:
        (backups / name).write_bytes(b"the user's\n")
    (backups / "raspy-20261231T000000Z.dump").mkdir()  # not a regular file: kept
    status, out, err = _backup(store, backups, capsys, "--keep", "3")
    assert (status, err) == (0, ""), err
    done = re.fullmatch(
        f"raspy-kv backup: {re.escape(str(backups))}/({NAME}): .*;"
        f" {len(olds) - 2} old removed; 2 older checked again in {TIME}\n",
        out,
    )
    assert done is not None, out
    # the new one and the two newest by the time in their names (the -2 after its
    # first), whatever order they were written in; every other name stays
    assert olds[-2:] == ["raspy-20261104T031500Z-2.dump", "raspy-20261105T031500Z.dump"]
    assert sorted(p.name for p in backups.iterdir()) == sorted(
        [*FOREIGN, "raspy-20261231T000000Z.dump", *olds[-2:], done.group(1)]
    )
    for name in FOREIGN:
        assert (backups / name).read_bytes() == b"the user's\n"
    for name in olds[-2:]:
        assert (backups / name).read_bytes() == content


def test_the_new_backup_is_kept_even_when_the_clock_puts_it_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A Pi without a clock starts at the last saved time (or 1970) until NTP: older
    backups may then carry later names. The new one is kept, with the newest others."""
    make_store(store := tmp_path / "store")
    (backups := tmp_path / "backups").mkdir()
    future = ["raspy-20991231T000000Z.dump", "raspy-20991231T000001Z.dump"]
    for name in future:
        (backups / name).write_bytes(_a_dump(store, tmp_path, capsys))
    status, _, err = _backup(store, backups, capsys, "--keep", "2")
    assert (status, err) == (0, ""), err
    assert len(_backups(backups)) == 2
    assert "raspy-20991231T000001Z.dump" in _backups(backups)
    assert "raspy-20991231T000000Z.dump" not in _backups(backups)


def _untouched(backups: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in backups.iterdir()}


def test_a_backup_that_cannot_read_the_store_removes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_store(store := tmp_path / "store")
    (backups := tmp_path / "backups").mkdir()
    _old_backups(backups, b"older\n")
    before = _untouched(backups)
    data = store / DATA_FILE
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])  # truncated
    status, out, err = _backup(store, backups, capsys, "--keep", "1")
    assert (status, out) == (1, "")
    assert err.startswith(f"raspy-kv backup: {data}: truncated: ")
    assert _untouched(backups) == before


_BACKUP_WITH_FILE_LIMIT = """
import resource, signal, sys
# no .pyc written under the size limit: cut short, it is the run's bytecode folder's
# for every later process (support/bytecode.py), which then cannot import it
sys.dont_write_bytecode = True
from raspy.cli import kv
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG)
resource.setrlimit(resource.RLIMIT_FSIZE, (500, 500))
sys.exit(kv.main(["backup", "--data-dir", sys.argv[1], "--to", sys.argv[2],
                  "--keep", "1"]))
"""


def test_a_backup_that_cannot_be_written_removes_nothing_and_leaves_no_temp_file(
    tmp_path: Path,
) -> None:
    """A full backup disk (here: a file size limit, as one) fails the backup: the
    old backups stay, and no partial file is left."""
    make_store(store := tmp_path / "store")
    (backups := tmp_path / "backups").mkdir()
    _old_backups(backups, b"older\n")
    before = _untouched(backups)
    done = subprocess.run(
        [sys.executable, "-c", _BACKUP_WITH_FILE_LIMIT, str(store), str(backups)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert re.fullmatch(
        rf"raspy-kv backup: cannot write {re.escape(str(backups))}/{NAME}: File too large\n",
        done.stderr,
    )
    assert _untouched(backups) == before


def test_two_backups_in_one_second_get_two_names_and_none_is_replaced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The clock is not ours to set: back up until two land in the same second (a
    backup of this store takes milliseconds), then both are there, the first as
    it was written."""
    make_store(store := tmp_path / "store")
    (backups := tmp_path / "backups").mkdir()
    seen: dict[str, tuple[int, float]] = {}
    for _ in range(50):
        status, _, err = _backup(store, backups, capsys, "--keep", "100")
        assert status == 0, err
        names = _backups(backups)
        numbered = [n for n in names if n.endswith("-2.dump")]
        if numbered:
            break
        seen = {
            n: (os.stat(backups / n).st_ino, os.stat(backups / n).st_mtime)
            for n in names
        }
    else:
        pytest.fail("50 backups in a row, none in the same second as another")
    (second,) = numbered
    first = second.removesuffix("-2.dump") + ".dump"
    assert first in seen
    path = backups / first
    assert (path.stat().st_ino, path.stat().st_mtime) == seen[first]  # not replaced
    assert (
        parse(path.read_bytes()).records
        == parse((backups / second).read_bytes()).records
    )


@pytest.mark.parametrize(
    ("where", "keep", "message"),
    [
        pytest.param(
            "missing",
            "7",
            "raspy-kv backup: backup dir {to} does not exist; it is not created (a USB stick"
            " or share that is not mounted must not fill the SD card): mount or make"
            " it\n",
            id="missing",
        ),
        pytest.param(
            "file",
            "7",
            "raspy-kv backup: backup dir {to} is not a directory; it is not created (a USB"
            " stick or share that is not mounted must not fill the SD card): mount or"
            " make it\n",
            id="a-file",
        ),
        pytest.param(
            "inside",
            "7",
            "raspy-kv backup: backup dir {to} is inside the data dir {store}: a backup must"
            " survive the loss of the store; choose a directory outside it\n",
            id="inside-the-data-dir",
        ),
        pytest.param(
            "store",
            "7",
            "raspy-kv backup: backup dir {to} is inside the data dir {store}: a backup must"
            " survive the loss of the store; choose a directory outside it\n",
            id="the-data-dir",
        ),
        pytest.param(
            "ok",
            "0",
            'raspy-kv backup: argument --keep: expected a count >= 1, got "0"\n',
            id="keep-0",
        ),
        pytest.param(
            "ok",
            "x",
            'raspy-kv backup: argument --keep: expected a count, got "x"\n',
            id="keep-not-a-number",
        ),
    ],
)
def test_refusals_say_why_in_one_line_exit_2_and_write_nothing(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    where: str,
    keep: str,
    message: str,
) -> None:
    make_store(store := tmp_path / "store")
    (tmp_path / "ok").mkdir()
    (store / "inside").mkdir()
    (tmp_path / "file").write_bytes(b"")
    to = {
        "missing": tmp_path / "usb",
        "file": tmp_path / "file",
        "inside": store / "inside" / ".." / "inside",
        "store": store,
        "ok": tmp_path / "ok",
    }[where]
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    status, out, err = _backup(store, to, capsys, "--keep", keep)
    assert (status, out) == (2, "")
    assert err == message.format(to=to, store=store)
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda data: data[: len(data) // 2], id="truncated"),
        pytest.param(lambda data: data.replace(b"21.5", b"21.6"), id="a-byte-changed"),
        pytest.param(lambda data: data[: data.index(b"\n") + 1], id="only-the-header"),
    ],
)
def test_a_backup_that_does_not_read_back_as_written_is_removed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: Callable[[bytes], bytes]
) -> None:
    """The read-back check on a real file damaged after its write. There is no seam
    to make the command's own write come out damaged (it would take a failing disk
    or a fault-injecting file system), so the check is called as the command calls
    it, after its write: with the records it wrote."""
    make_store(store := tmp_path / "store")
    (backups := tmp_path / "backups").mkdir()
    assert _backup(store, backups, capsys)[0] == 0
    path = _only_backup(backups)
    assert kv_backup.read_back(path, 7) == path.stat().st_size  # sound: kept
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(kv_lines.Failure) as failure:
        kv_backup.read_back(path, 7)
    assert failure.value.status == 1
    assert str(failure.value).startswith(f"{path} does not read back as written (line ")
    assert not path.exists()


def test_a_file_that_checks_but_holds_other_records_is_not_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A whole, valid dump with fewer records than were written (another writer's
    file under the name) does not count as this backup."""
    make_store(store := tmp_path / "store")
    (backups := tmp_path / "backups").mkdir()
    assert _backup(store, backups, capsys)[0] == 0
    path = _only_backup(backups)
    with pytest.raises(
        kv_lines.Failure, match="end line counts 7 records, 8 were written"
    ):
        kv_backup.read_back(path, 8)
    assert not path.exists()


def _read_only_mount_works() -> bool:
    unshare = shutil.which("unshare")
    if unshare is None:
        return False
    probe = subprocess.run(
        [unshare, "-m", "sh", "-c", "mount --bind / / && mount -o remount,bind,ro / /"],
        capture_output=True,
        timeout=10,
        check=False,
    )
    return probe.returncode == 0


# the data dir read-only ("$1"), then the command; with "$2" = lock.mdb, that one
# file writable again: raspy-backup.service's ReadOnlyPaths= and ReadWritePaths=
_READ_ONLY = """
mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" || exit 99
if [ -n "$2" ]; then
    mount --bind "$1/$2" "$1/$2" && mount -o remount,bind,rw "$1/$2" || exit 99
fi
shift 2 && exec "$@"
"""


@pytest.mark.skipif(
    not _read_only_mount_works(),
    reason="needs a private mount namespace (unshare -m, as root) for a read-only bind",
)
def test_a_read_only_data_dir_is_refused_beside_a_writer_and_read_without_one(
    tmp_path: Path,
) -> None:
    """systemd's ReadOnlyPaths= on the data dir: LMDB then opens the store without
    its lock file (no reader slot), so a running raspyd could reuse the pages being
    read. Beside a writer that is refused (dump too); with lock.mdb writable, as the
    shipped unit has it, the backup works beside the writer; a card mounted
    read-only to rescue it (no writer) is still read."""
    make_store(store := tmp_path / "store")
    (backups := tmp_path / "backups").mkdir()

    def read_only(writable: str, *args: str) -> subprocess.CompletedProcess[str]:
        command = [
            "unshare", "-m", "sh", "-c", _READ_ONLY, "sh", str(store), writable,
            sys.executable, "-m", "raspy.cli.kv", *args, "--data-dir", str(store),
        ]  # fmt: skip
        return subprocess.run(
            command, capture_output=True, text=True, timeout=30, check=False
        )

    backup = ("backup", "--to", str(backups))
    with holding_store(store, Table.CRON.value, b"held") as holder_pid:
        lock_file = store / LMDB_LOCK_FILE
        refused = (
            f"{lock_file} cannot be written, and raspyd (pid {holder_pid})"
            " writes this store: LMDB would read it without a reader slot, so raspyd"
            f" could reuse the pages being read; make {lock_file} writable (systemd:"
            " ReadWritePaths=) or stop raspyd\n"
        )
        for args in (backup, ("dump", "-o", str(backups / "x.dump"))):
            done = read_only("", *args)
            said = f"raspy-kv {args[0]}: {refused}"
            assert (done.returncode, done.stderr) == (1, said)
        assert list(backups.iterdir()) == []
        done = read_only(LMDB_LOCK_FILE, *backup)
        assert done.returncode == 0, done.stderr
        assert (
            Record(Table.CRON, b"held", b"1")
            in parse(_only_backup(backups).read_bytes()).records
        )
    done = read_only("", *backup, "--keep", "1")
    assert done.returncode == 0, done.stderr
    assert (
        Record(Table.CRON, b"held", b"1")
        in parse(_only_backup(backups).read_bytes()).records
    )


def test_a_temp_file_left_by_a_backup_cut_short_a_day_ago_is_removed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A power cut mid-backup leaves its temp file (the size of a backup); the next
    backup removes it once nobody has written it for a day. A temp file being
    written now, another kind of backup's, and anyone else's, stay."""
    make_store(store := tmp_path / "store")
    (backups := tmp_path / "backups").mkdir()
    day_ago = time.time() - 25 * 3600
    left = ".raspy-20261101T031500Z.dump.0123456789ab.tmp"
    kept = {
        ".raspy-20261102T031500Z-2.dump.0123456789ab.tmp": time.time(),  # being written
        ".notes.txt.0123456789ab.tmp": day_ago,  # another program's
        ".raspy-x.dump.0123456789ab.tmp": day_ago,  # not a backup's name
        # a --no-history backup's: another kind, left to its own rotation
        ".raspy-20261101T031500Z-nohistory.dump.0123456789ab.tmp": day_ago,
    }
    for name, when in [(left, day_ago), *kept.items()]:
        (backups / name).write_bytes(b"partial")
        os.utime(backups / name, (when, when))
    status, out, err = _backup(store, backups, capsys)
    assert (status, err) == (0, ""), err
    assert re.fullmatch(
        f"raspy-kv backup: .*; 0 old and 1 partial \\(a backup cut short\\) removed;"
        f" 0 older checked again in {TIME}\n",
        out,
    )
    assert sorted(
        p.name for p in backups.iterdir() if p.name.startswith(".")
    ) == sorted(kept)


def test_a_temp_file_gone_between_the_listing_and_its_look_is_passed_over(
    tmp_path: Path,
) -> None:
    """Two backups at once (the timer's and one by hand): the other one renames its
    temp file away while this one's rotation looks at the files it listed. That
    file is no partial backup to remove, and no traceback after a backup written
    and checked."""
    (backups := tmp_path / "backups").mkdir()
    temp = backups / ".raspy-20261102T031500Z-2.dump.0123456789ab.tmp"
    temp.write_bytes(b"partial")
    with os.scandir(backups) as entries:
        (entry,) = list(entries)
    temp.unlink()  # the other backup is done: its temp file is its backup now
    stale = kv_backup.stale_temp(entry, time.time() + 2 * 86400, kv_backup.FULL)
    assert stale is False


_FULL = ["raspy-20261101T031500Z.dump", "raspy-20261108T031500Z.dump"]
_SMALL = [
    "raspy-20261102T031500Z-nohistory.dump",
    "raspy-20261103T031500Z-nohistory.dump",
    "raspy-20261103T031500Z-2-nohistory.dump",
]


@pytest.mark.parametrize("new", ["no-history", "full"])
def test_full_and_no_history_backups_rotate_apart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], new: str
) -> None:
    """A small nightly --no-history backup and a weekly full one in the same dir:
    `--keep 1` of either removed the other kind too (every raspy-*.dump counted), so
    the nightly one took the weekly full ones. Each kind now has its own name, and
    --keep counts and removes only its own; both kinds are read back."""
    history = Put(Table.HISTORY, *recorded_key_record("/device/pi.fake.t1/value"))
    make_store(store := tmp_path / "store", [*CONTENT, history])
    (backups := tmp_path / "backups").mkdir()
    content = _a_dump(store, tmp_path, capsys)
    for name in _FULL + _SMALL:
        (backups / name).write_bytes(content)
    more = ("--no-history",) if new == "no-history" else ()
    status, out, err = _backup(store, backups, capsys, "--keep", "1", *more)
    assert (status, err) == (0, ""), err
    own, other = (_SMALL, _FULL) if new == "no-history" else (_FULL, _SMALL)
    suffix = r"-nohistory\.dump" if new == "no-history" else r"\.dump"
    done = re.fullmatch(
        rf"raspy-kv backup: {re.escape(str(backups))}/(raspy-\d{{8}}T\d{{6}}Z{suffix}):"
        rf" .*; {len(own)} old removed; {len(other)} older checked again in {TIME}\n",
        out,
    )
    assert done is not None, out
    assert sorted(p.name for p in backups.iterdir()) == sorted([*other, done.group(1)])
    tables = parse((backups / done.group(1)).read_bytes()).header.tables
    assert (Table.HISTORY in tables) == (new == "full")
    # a no-history backup restores as any dump does
    status, _, err = run(
        ["restore", "--data-dir", str(tmp_path / "new"), str(backups / done.group(1))],
        capsys,
    )
    assert status == 0, err


def test_the_no_history_backups_of_an_older_raspy_kv_rotate_with_their_kind(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An older raspy-kv named a --no-history backup as a full one. Counted as full
    by their names, the ones the shipped nightly unit had written stayed for good
    after the upgrade (no full backup is made there to rotate them), and were read
    back every night. Their header says which dbs they hold: without the history
    they rotate with the --no-history ones, as does the temp file such a backup cut
    short left; a full one with the same kind of name is still counted as full."""
    history = Put(Table.HISTORY, *recorded_key_record("/device/pi.fake.t1/value"))
    make_store(store := tmp_path / "store", [*CONTENT, history])
    (scratch := tmp_path / "scratch").mkdir()
    assert _backup(store, scratch, capsys, "--no-history")[0] == 0
    small = _only_backup(scratch).read_bytes()
    full = _a_dump(store, tmp_path, capsys)
    (backups := tmp_path / "backups").mkdir()
    old_full = "raspy-20261101T031500Z.dump"  # the oldest of all
    (backups / old_full).write_bytes(full)
    old_small = [f"raspy-2026110{day}T031500Z.dump" for day in (2, 3, 4)]
    old_small.append("raspy-20261105T031500Z-nohistory.dump")
    for name in old_small:
        (backups / name).write_bytes(small)
    left = ".raspy-20261104T031500Z.dump.0123456789ab.tmp"
    (backups / left).write_bytes(small[: len(small) // 2])
    day_ago = time.time() - 25 * 3600
    os.utime(backups / left, (day_ago, day_ago))
    status, out, err = _backup(store, backups, capsys, "--keep", "2", "--no-history")
    assert (status, err) == (0, ""), err
    done = re.fullmatch(
        rf"raspy-kv backup: {re.escape(str(backups))}/(raspy-\d{{8}}T\d{{6}}Z"
        r"-nohistory\.dump): .*; 3 old and 1 partial \(a backup cut short\) removed;"
        rf" 2 older checked again in {TIME}\n",
        out,
    )
    assert done is not None, out
    assert sorted(p.name for p in backups.iterdir()) == sorted(
        [old_full, old_small[-1], done.group(1)]
    )
    # the full one is counted as full: a full backup with --keep 1 removes it
    status, out, err = _backup(store, backups, capsys, "--keep", "1")
    assert (status, err) == (0, ""), err
    assert "; 1 old removed; 2 older checked again in " in out
    assert old_full not in _backups(backups)
    assert old_small[-1] in _backups(backups)


_DIR_LOCKER = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)
fcntl.flock(fd, fcntl.LOCK_EX)
print("locked", flush=True)
sys.stdin.readline()
"""


@pytest.mark.timeout(60)
def test_a_second_backup_into_one_dir_waits_for_the_first(tmp_path: Path) -> None:
    """Two backups at once into one dir (the timer's and one by hand) each rotated
    as it counted, leaving fewer than --keep, and one could report a file the other
    had removed. The dir is locked for a run: a second one says it waits, touches
    nothing while it waits, and is written once the first ends."""
    make_store(data_dir := tmp_path / "a")
    (backups := tmp_path / "backups").mkdir()
    with subprocess.Popen(
        [sys.executable, "-c", _DIR_LOCKER, str(backups)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    ) as first:
        assert first.stdin is not None
        assert first.stdout is not None
        assert first.stdout.readline() == b"locked\n"
        command = [sys.executable, "-m", "raspy.cli.kv", "backup"]
        with subprocess.Popen(
            [*command, "--data-dir", str(data_dir), "--to", str(backups)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        ) as second:
            assert second.stderr is not None
            assert second.stderr.readline() == (
                f"raspy-kv backup: another backup is writing into {backups};"
                " waiting for it to end\n"
            )
            assert list(backups.iterdir()) == []
            first.stdin.write(b"\n")
            first.stdin.flush()
            out, err = second.communicate(timeout=30)
        assert first.wait(timeout=10) == 0
    assert (second.returncode, err) == (0, "")
    assert out.startswith(f"raspy-kv backup: {backups}/raspy-")
    assert len([p for p in backups.iterdir() if p.name.endswith(".dump")]) == 1
