"""raspy-kv refusing bad input on real data dirs: damaged dumps, records that cannot be
stored, newer schemas, check's problem report and usage errors (issue #4 "raspy-kv",
docs/style.md §4)."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from support.kv_cli import CONTENT, TIME, UUID, make_store, records, run, write_dump

from raspy import packing
from raspy.config import StoreConfig
from raspy.errors import StoreDamagedError, quote
from raspy.storage.dump import Header, Record
from raspy.storage.store import Delete, Put, Store, Table
from raspy.storage.tables import (
    DATA_TABLES,
    SCHEMA_VERSION_KEY,
    encode_kv,
    queue_key,
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
    assert (status, out, err) == (1, "", f"raspy-kv restore: {bad} {message}\n")
    assert records(target) == before


def test_a_dump_that_changes_between_its_two_readings_is_refused_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/recovery.md: the restore reads its dump twice, checked then written; a
    dump that changes between the two readings (a dump by cron renamed over it
    meanwhile) is refused, with nothing written. The file changes here as the
    restore opens the store, between its two readings."""
    make_store(tmp_path / "a")
    dump = tmp_path / "raspy.dump"
    assert (
        run(["dump", "--data-dir", str(tmp_path / "a"), "-o", str(dump)], capsys)[0]
        == 0
    )
    target = tmp_path / "b"
    make_store(target, [Put(Table.CRON, b"keep", packing.pack(1))])
    before = records(target)
    opened = Store.open

    def change_then_open(*args: object, **kwargs: object) -> Store:
        text = dump.read_bytes()
        assert b'"21.5"' in text
        dump.write_bytes(text.replace(b'"21.5"', b'"22.5"'))  # a valid record still
        return opened(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Store, "open", change_then_open)
    status, out, err = run(["restore", "--data-dir", str(target), str(dump)], capsys)
    monkeypatch.undo()
    assert (status, out) == (1, "")
    assert err == (
        f"raspy-kv restore: {dump} changed during the restore; nothing was written\n"
    )
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
            Record(Table.KV, b"KTHXBAI", encode_kv(1, b"x", {}, None)),
            "kv 'KTHXBAI': a Clone command, not a key: a snapshot would end there",
            id="a-clone-command-as-a-key",
        ),
        pytest.param(
            Record(Table.KV, b"/t", encode_kv(1, b"x", {}, -5.0)),
            "kv '/t': kv record: ttl: expected seconds > 0, at most 1000000000, "
            "got -5.0",
            id="a-negative-ttl",
        ),
        pytest.param(
            Record(Table.KV, b"/t", encode_kv(1, b"x", {}, float("nan"))),
            "kv '/t': kv record: ttl: expected seconds > 0, at most 1000000000, "
            "got nan",
            id="a-ttl-not-a-number",
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
        (Record(Table.CRON, b"job", packing.pack([1])), record),
    )
    status, _, err = run(
        ["restore", "--data-dir", str(tmp_path / "a"), str(dump)], capsys
    )
    assert (status, err) == (1, f"raspy-kv restore: {dump} line 3: {message}\n")
    assert not (tmp_path / "a").exists()


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        (b"heat", "x", "expected a key scenario.<name>.<code|conf|keys>"),
        (b"scenario.heat.code", 42, "expected the document's text"),
        (
            b"scenario.heat.conf",
            {"enabled": "yes", "mode": "single"},
            "conf: expected enabled (true or false) and mode "
            "(parallel, queued, restart, single)",
        ),
        (
            b"scenario.heat.conf",
            {"enabled": True, "mode": "single", "updated_at": "today"},
            "conf: imported_at and updated_at must be epoch seconds",
        ),
        (b"scenario.main.keys", ["heat", 7], "expected a list of names"),
        (b"scenario.heat.script", "x", "unknown part 'script'"),
    ],
)
def test_a_hand_edited_scenario_record_the_hub_cannot_read_is_refused(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    key: bytes,
    value: object,
    message: str,
) -> None:
    """--ignore-checksum accepts a hand-edited dump, not records the hub would then
    log as unreadable at every start: each is named with its line."""
    dump = write_dump(
        tmp_path / "edited.dump",
        Header(1, "now", DATA_TABLES),
        (Record(Table.SCENARIO, key, packing.pack(value)),),
    )
    status, _, err = run(
        ["restore", "--ignore-checksum", "--data-dir", str(tmp_path / "a"), str(dump)],
        capsys,
    )
    assert (status, err) == (
        1,
        f"raspy-kv restore: {dump} line 2: scenario {quote(key)}: {message}\n",
    )
    assert not (tmp_path / "a").exists()


def test_a_dump_of_a_newer_schema_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue #4: data written by a newer raspy is refused, naming both versions."""
    dump = write_dump(tmp_path / "v3.dump", Header(3, "later", (Table.KV,)), ())
    status, _, err = run(
        ["restore", "--data-dir", str(tmp_path / "a"), str(dump)], capsys
    )
    assert (status, err) == (
        1,
        f"raspy-kv restore: {dump} line 1: schema version 3 is newer than this raspy "
        "supports (2); restore it with that newer raspy, or restore a dump of "
        "schema 2 or older (one taken before the upgrade); or the file is damaged"
        " (its checksum is checked only at its end)\n",
    )
    assert not (tmp_path / "a").exists()


def test_a_newer_schema_is_said_before_a_record_it_changed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A newer raspy's dump holds records this one cannot read (schema 2's kv
    properties were such a change for schema 1): the header's version is what is
    wrong, said before the first such record, which was named as if damaged."""
    future = packing.pack({"seq": 1, "body": b"on", "props": 7, "ttl": None})
    dump = write_dump(
        tmp_path / "v3.dump",
        Header(3, "later", (Table.KV,)),
        (Record(Table.KV, b"/my/key", future),),
    )
    status, _, err = run(
        ["restore", "--data-dir", str(tmp_path / "a"), str(dump)], capsys
    )
    assert (status, err) == (
        1,
        f"raspy-kv restore: {dump} line 1: schema version 3 is newer than this raspy "
        "supports (2); restore it with that newer raspy, or restore a dump of "
        "schema 2 or older (one taken before the upgrade); or the file is damaged"
        " (its checksum is checked only at its end)\n",
    )
    assert not (tmp_path / "a").exists()


@pytest.mark.parametrize("command", ["check", "dump", "restore"])
def test_a_store_of_a_newer_raspy_is_named_by_its_data_dir(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    """`raspy-kv: store schema version 7 is newer…` named no data dir (raspyd's
    line does): which store, of several, was left to guess; a restore's hint
    (restore into a new data dir) read as if about the dump."""
    data_dir = tmp_path / "d"
    with Store.open(data_dir) as store:
        store.commit([Put(Table.META, SCHEMA_VERSION_KEY, packing.pack(7))])
    args = [command, "--data-dir", str(data_dir)]
    if command == "restore":
        dump = write_dump(tmp_path / "v1.dump", Header(1, "earlier", (Table.KV,)), ())
        args.append(str(dump))
    status, out, err = run(args, capsys)
    assert (status, out, err) == (
        1,
        "",
        f"raspy-kv {command}: {data_dir}: store schema version 7 is newer than this raspy "
        "supports (2); upgrade raspy, or restore a dump of schema 2 or older (one "
        "taken before the upgrade) into a new data dir\n",
    )


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
        f"raspy-kv check: checked 8 records in {len(Table)} dbs \\(the schema's too\\):"
        f" 2 problems in {TIME}",
        lines[-1],
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
            + ", ".join(repr(t.value) for t in DATA_TABLES)
            + ")",
            id="meta-not-dumpable",
        ),
        pytest.param(
            ["check", "--data-dir", "DIR"],
            "raspy-kv check: no store in DIR",
            id="no-store",
        ),
        pytest.param(
            ["restore", "--data-dir", "DIR", "FILE"],
            "raspy-kv restore: cannot read FILE: No such file or directory",
            id="no-file",
        ),
    ],
)
def test_usage_errors_exit_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    """Issue #4: exit statuses 0 ok, 1 data problem, 2 usage error; docs/style.md §4."""
    argv = [str(tmp_path / a) if a in ("DIR", "FILE") else a for a in argv]
    message = message.replace("DIR", str(tmp_path / "DIR"))
    message = message.replace("FILE", str(tmp_path / "FILE"))
    assert run(argv, capsys) == (2, "", message + "\n")


@pytest.mark.parametrize("option", ["--server-key", "--client-cert"])
def test_an_empty_certificate_path_is_named_by_its_option(
    capsys: pytest.CaptureFixture[str], option: str
) -> None:
    """`--server-key "$KEY"` with KEY unset said `raspy-kv ls: : no such file`,
    naming neither the option nor the file; an empty path is refused as the other
    paths are, naming the option."""
    argv = ["ls", "/", "--server-key", "hub.key", "--client-cert", "me.key_secret"]
    argv[argv.index(option) + 1] = ""
    assert run(argv, capsys) == (
        2,
        "",
        f"raspy-kv ls: argument {option}: expected a path, got an empty one\n",
    )


def test_an_empty_dump_file_is_refused_as_the_empty_path_it_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`raspy-kv restore --data-dir DIR "$DUMP"` with DUMP unset: the empty FILE was
    taken for the current folder (`cannot read : Is a directory`); an empty path is
    never the current folder (README), and is named as the others are."""
    argv = ["restore", "--data-dir", str(tmp_path / "b"), ""]
    assert run(argv, capsys) == (
        2,
        "",
        "raspy-kv restore: argument FILE: expected a path, got an empty one\n",
    )
    assert not (tmp_path / "b").exists()


@pytest.mark.parametrize(
    "output", ["store/data.mdb", "store/raspy.dump", "link/data.mdb"]
)
def test_dump_into_the_data_dir_is_refused_and_the_store_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], output: str
) -> None:
    """`dump -o DIR/data.mdb` renamed the dump over the live store (raspyd then wrote
    into the unlinked file); a dump anywhere in the data dir (a link to it too) is
    refused, one line, exit 2, and the store is left as it was."""
    store = tmp_path / "store"
    make_store(store)
    (tmp_path / "link").symlink_to(store)
    before = records(store)
    files = sorted(p.name for p in store.iterdir())
    target = tmp_path / output
    assert run(["dump", "--data-dir", str(store), "-o", str(target)], capsys) == (
        2,
        "",
        f"raspy-kv dump: {target} is inside the data dir {store}: a dump there could"
        " replace the store's own files and is lost with the store; write it"
        " outside\n",
    )
    assert sorted(p.name for p in store.iterdir()) == files
    assert records(store) == before


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("command", ["dump", "check"])
def test_a_full_disk_behind_stdout_is_a_data_problem_not_a_bug(
    tmp_path: Path, command: str
) -> None:
    """`raspy-kv dump > FILE` on a full disk: one line saying stdout could not be
    written and status 1, not "internal error ... a bug" (status 70)."""
    make_store(a := tmp_path / "a")
    with Path("/dev/full").open("wb") as full:
        done = subprocess.run(
            [sys.executable, "-m", "raspy.cli.kv", command, "--data-dir", str(a)],
            stdout=full,
            stderr=subprocess.PIPE,
            timeout=20,
            check=False,
        )
    assert done.returncode == 1
    assert done.stderr.decode() == (
        f"raspy-kv {command}: cannot write to stdout: No space left on device\n"
    )


@pytest.mark.timeout(30)
def test_dump_into_a_pipe_writes_into_it_and_leaves_it_a_pipe(tmp_path: Path) -> None:
    """`-o` names a pipe (or /dev/stdout, a device): written into, not renamed over.
    The temp-file-and-rename of a regular file put a file in its place: as root,
    `dump -o /dev/full` replaced the device node with a dump."""
    make_store(a := tmp_path / "a")
    fifo = tmp_path / "dump.fifo"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE)
    try:
        done = subprocess.run(
            [*_KV, "dump", "--data-dir", str(a), "-o", str(fifo)],
            stderr=subprocess.PIPE,
            timeout=20,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert stat.S_ISFIFO(fifo.lstat().st_mode)
        out, _ = reader.communicate(timeout=10)
    finally:
        if reader.poll() is None:
            reader.kill()
            reader.wait()
    expected = tmp_path / "expected.dump"
    assert run_kv("dump", "--data-dir", str(a), "-o", str(expected)) == 0
    # the records (the header's time, and the end line's checksum over it, may differ)
    assert out.split(b"\n")[1:-2] == expected.read_bytes().split(b"\n")[1:-2]
    assert out.endswith(b"\n")
    assert b'"records": 7' in out.split(b"\n")[-2]


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_dump_into_a_full_device_says_so_and_leaves_the_device(tmp_path: Path) -> None:
    make_store(a := tmp_path / "a")
    done = subprocess.run(
        [*_KV, "dump", "--data-dir", str(a), "-o", "/dev/full"],
        stderr=subprocess.PIPE,
        timeout=20,
        check=False,
    )
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)
    assert (done.returncode, done.stderr.decode()) == (
        1,
        "raspy-kv dump: cannot write /dev/full: No space left on device\n",
    )


_KV = (sys.executable, "-m", "raspy.cli.kv")


def run_kv(*argv: str) -> int:
    return subprocess.run(
        [*_KV, *argv],
        capture_output=True,
        timeout=20,
        check=False,
    ).returncode


_RESTORE_WITH_FILE_LIMIT = """
import resource, signal, sys
# no .pyc written under the size limit: cut short, it is the run's bytecode folder's
# for every later process (support/bytecode.py), which then cannot import it
sys.dont_write_bytecode = True
from raspy.cli import kv
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG)
limit = int(sys.argv[3])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
sys.exit(kv.main(["restore", "--data-dir", sys.argv[1], sys.argv[2]]))
"""


@pytest.mark.parametrize(
    "limit",
    [
        pytest.param(12_000, id="while-the-store-is-created"),
        pytest.param(60_000, id="while-the-records-are-written"),
    ],
)
@pytest.mark.parametrize("lost", [True, False], ids=["lost-store", "new-data-dir"])
def test_a_restore_that_fails_on_a_full_disk_leaves_no_empty_store_behind(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], limit: int, lost: bool
) -> None:
    """docs/recovery.md: raspyd refuses a data dir whose store was lost instead of
    starting empty. A restore into it that fails (here: a file size limit, as a full
    disk) must not leave a new, empty data.mdb that raspyd would then take."""
    big = [
        Put(Table.CRON, b"job%04d" % i, packing.pack(bytes(2000))) for i in range(100)
    ]
    make_store(tmp_path / "a", big)
    dump = tmp_path / "a.dump"
    assert (
        run(["dump", "--data-dir", str(tmp_path / "a"), "-o", str(dump)], capsys)[0]
        == 0
    )
    target = tmp_path / "b"
    if lost:  # data.mdb is gone; the marker and LMDB's lock file are left
        target.mkdir(mode=0o700)
        for name in ("raspy.store", "lock.mdb"):
            (target / name).write_bytes((tmp_path / "a" / name).read_bytes())
    script = [sys.executable, "-c", _RESTORE_WITH_FILE_LIMIT]
    done = subprocess.run(
        [*script, str(target), str(dump), str(limit)],
        capture_output=True,
        timeout=20,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    # one line, as every CLI's failure: the store writer's error event came first
    # (a JSON object, `store_batch_failed`) and said it again
    assert re.fullmatch(r"raspy-kv restore: [^\n]+\n", done.stderr.decode()), (
        done.stderr
    )
    assert not (target / "data.mdb").exists()
    with pytest.raises(StoreDamagedError, match=r"data\.mdb is missing"):
        Store.open(target)  # as raspyd would, without --init


def test_a_hub_with_raised_limits_takes_its_own_dump_back_with_its_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """raspy-kv checked a restore against the default [store] limits only: a hub whose
    max_value_bytes was raised could not restore its own dump, and had no way to."""
    big = Record(Table.SCENARIO, b"scenario.big.code", packing.pack("x" * 1_500_000))
    dump = write_dump(tmp_path / "big.dump", Header(1, "now", DATA_TABLES), (big,))
    target = ["restore", "--data-dir", str(tmp_path / "a"), str(dump)]
    status, _, err = run(target, capsys)
    assert status == 1
    assert "over store.max_value_bytes (1048576)" in err
    config = tmp_path / "raspyd.toml"
    config.write_text("[store]\nmax_value_bytes = 2097152\n")
    status, _, err = run([*target, "--config", str(config)], capsys)
    assert status == 0, err
    config.write_text("[store]\nmax_value_bytes = -1\n")
    status, _, err = run([*target, "--config", str(config)], capsys)
    assert status == 2
    assert "max_value_bytes" in err
