"""A completely full SD card at start (root only: a small tmpfs is mounted and filled).

LMDB maps its lock file, lock.mdb, writable and writes to the mapping: a page of it
that the full filesystem could not back ended raspyd and raspy-kv with SIGBUS (exit
135, not a word; systemd started raspyd into the same death), and a lock file with
no room for its pid was an internal error. Each now says in one line that the disk
is full, exits 1 and leaves nothing half-written; raspy-poller serves its sensors
without its store. A store whose lock.mdb is gone (a tmpfs after a reboot, a copy of
data.mdb alone) needs lock.mdb anew, as a new data dir does.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from structlog.testing import capture_logs
from support.daemon import complete_text, running_poller
from support.damaged_store import COMMAND_TIMEOUT_S, digest, run_raspyd
from support.kv_cli import make_store, records
from support.net import free_port_base
from support.small_fs import fill, small_tmpfs
from support.wait import wait_until

from raspy.storage.damage import DATA_FILE, LMDB_LOCK_FILE, MARKER_FILE, held_a_store
from raspy.storage.staging import STAGING_DIR
from raspy.storage.store import Store

pytestmark = pytest.mark.timeout(120)

# what is left free: nothing; room for the data dir's lock file alone; room for it
# and lock.mdb, not for a new data.mdb's first pages
_NEW_STORE_ROOM = [
    pytest.param(0, id="0-KB-free"),
    pytest.param(4096, id="4-KB-free"),
    pytest.param(12 * 1024, id="12-KB-free"),
]
_STORE_ROOM = [pytest.param(0, id="0-KB-free"), pytest.param(4096, id="4-KB-free")]


def _full_message(data_dir: Path, *, staged: bool = False) -> re.Pattern[str]:
    """The one line of a full disk under the store in `data_dir` (storage.write_errors);
    `staged`: or in its staging dir, where a restore makes a new store."""
    where = re.escape(str(data_dir)) + (rf"(?:/{STAGING_DIR})?" if staged else "")
    return re.compile(
        rf"store in {where}: the filesystem is full \(\d+ KB free; [^\n]+\); [^\n]+"
        rf" Free space on the filesystem of {where} \(`df {where}`\), or move the"
        r" data dir to a bigger one, then retry"
    )


def _assert_full(
    result: subprocess.CompletedProcess[str],
    tool: str,
    data_dir: Path,
    *,
    staged: bool = False,
) -> None:
    assert result.returncode == 1, (result.returncode, result.stderr)
    [line] = result.stderr.splitlines()
    assert line.startswith(f"{tool}: "), line
    said = line.removeprefix(f"{tool}: ")
    assert _full_message(data_dir, staged=staged).fullmatch(said), line
    assert "raspy-kv check" not in line.removeprefix(f"{tool}: ")


def _kv(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "raspy.cli.kv", *args],
        capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S, check=False,
    )  # fmt: skip


@pytest.fixture(name="small_fs")
def small_fs_fixture(tmp_path: Path) -> Iterator[Path]:
    """A 2 MB tmpfs, mounted at tmp_path/fs for this test."""
    with small_tmpfs(tmp_path / "fs") as where:
        yield where


def _assert_no_store_begun(data_dir: Path, *, init: bool) -> None:
    """No data.mdb is left. A plain first start leaves no lock.mdb either: it passed
    for the sign of a lost store, and the next start, with room again, was refused.
    An init (--init, a restore) leaves it, as a store was meant to be there."""
    assert not (data_dir / DATA_FILE).exists()
    if not init:
        assert not held_a_store(data_dir), sorted(p.name for p in data_dir.iterdir())


@pytest.mark.parametrize("init", [False, True], ids=["first-start", "init"])
@pytest.mark.parametrize("leave", _NEW_STORE_ROOM)
def test_raspyd_starting_a_store_on_a_full_card_says_so_and_begins_none(
    small_fs: Path, leave: int, init: bool
) -> None:
    fill(small_fs, leave)
    data_dir = small_fs / "data"
    result = run_raspyd(data_dir, *(["--init"] if init else []))
    _assert_full(result, "raspyd", data_dir)
    _assert_no_store_begun(data_dir, init=init)
    (small_fs / "filler").unlink()  # with room again, the same start makes one
    with capture_logs():
        Store.open(data_dir, init=init).close()


@pytest.mark.parametrize("leave", _NEW_STORE_ROOM)
def test_a_restore_onto_a_full_card_says_so_and_begins_no_store(
    small_fs: Path, tmp_path: Path, leave: int
) -> None:
    make_store(source := tmp_path / "source")
    dump = tmp_path / "source.dump"
    assert _kv("dump", "--data-dir", str(source), "-o", str(dump)).returncode == 0
    fill(small_fs, leave)
    data_dir = small_fs / "data"
    restore = ("restore", "--data-dir", str(data_dir), str(dump))
    _assert_full(_kv(*restore), "raspy-kv restore", data_dir, staged=True)
    _assert_no_store_begun(data_dir, init=True)
    assert not (data_dir / STAGING_DIR).exists()
    (small_fs / "filler").unlink()
    assert _kv(*restore).returncode == 0
    assert records(data_dir) == records(source)


@pytest.fixture(name="store_without_lock_file")
def store_without_lock_file_fixture(small_fs: Path) -> Path:
    """A store on the small tmpfs whose lock.mdb is gone, as after a reboot."""
    make_store(data_dir := small_fs / "data")
    (data_dir / LMDB_LOCK_FILE).unlink()
    return data_dir


@pytest.mark.parametrize("leave", _STORE_ROOM)
def test_raspyd_on_a_full_card_whose_lock_file_is_gone_says_so(
    small_fs: Path, store_without_lock_file: Path, leave: int
) -> None:
    data_dir = store_without_lock_file
    before = digest(data_dir / DATA_FILE), digest(data_dir / MARKER_FILE)
    fill(small_fs, leave)
    _assert_full(run_raspyd(data_dir), "raspyd", data_dir)
    assert (digest(data_dir / DATA_FILE), digest(data_dir / MARKER_FILE)) == before


@pytest.mark.parametrize("command", ["check", "dump", "backup"])
@pytest.mark.parametrize("leave", _STORE_ROOM)
def test_raspy_kv_reading_a_full_card_whose_lock_file_is_gone_says_so(
    small_fs: Path, store_without_lock_file: Path, tmp_path: Path, command: str,
    leave: int,
) -> None:  # fmt: skip
    """A reader writes lock.mdb too (its reader slot): the dump or backup meant to
    save the store died of SIGBUS. It says the disk is full and writes no file."""
    data_dir = store_without_lock_file
    before = digest(data_dir / DATA_FILE)
    (backups := tmp_path / "backups").mkdir()
    more = {
        "check": [],
        "dump": ["-o", str(tmp_path / "store.dump")],
        "backup": ["--to", str(backups)],
    }[command]
    fill(small_fs, leave)
    said = _kv(command, "--data-dir", str(data_dir), *more)
    _assert_full(said, f"raspy-kv {command}", data_dir)
    assert digest(data_dir / DATA_FILE) == before
    assert not (tmp_path / "store.dump").exists()
    assert list(backups.iterdir()) == []


def test_raspy_poller_on_a_full_card_serves_without_its_store(
    small_fs: Path, tmp_path: Path
) -> None:
    """The board's store only keeps settings changed over MDP: a full disk is said in
    its log, with what helps, and the board runs on (it was an internal error)."""
    fill(small_fs, 0)
    board = small_fs / "board"
    log_path = tmp_path / "poller.log"
    endpoint = f"tcp://127.0.0.1:{free_port_base()}"  # no hub: the board waits for it
    args = ("--service", "fake", "--data-dir", str(board))
    with running_poller(endpoint, log_path, *args) as process:
        said = wait_until(
            lambda: [
                json.loads(line)
                for line in complete_text(log_path.read_text()).splitlines()
                if '"board_store_unusable"' in line
            ],
            what="the poller's word on its store",
            timeout_s=30,
        )
        assert process.poll() is None, log_path.read_text()
    [event] = said
    assert _full_message(board).fullmatch(event["reason"]), event
    assert event["hint"] == "free space as the reason says, then restart raspy-poller"
    assert not (board / DATA_FILE).exists()
    assert not held_a_store(board)


def test_a_store_opened_before_with_room_is_read_on_a_full_card(
    small_fs: Path, tmp_path: Path
) -> None:
    """Its lock.mdb has its blocks already: nothing to allocate, so a full card does
    not keep its store from being checked and dumped onto other storage."""
    make_store(data_dir := small_fs / "data")
    fill(small_fs, 0)
    assert _kv("check", "--data-dir", str(data_dir)).returncode == 0
    dump = tmp_path / "saved.dump"
    saved = _kv("dump", "--data-dir", str(data_dir), "-o", str(dump))
    assert saved.returncode == 0, saved.stderr
    assert (
        _kv("restore", "--data-dir", str(tmp_path / "back"), str(dump)).returncode == 0
    )
    assert records(tmp_path / "back") == records(data_dir)


def test_a_store_whose_lock_file_an_older_raspy_laid_out_is_read_on_a_full_card(
    small_fs: Path, tmp_path: Path
) -> None:
    """An older raspy let LMDB lay lock.mdb out alone: its full size, holes past the
    header page. On a full card its holes cannot get blocks, but LMDB has no need of
    them to open it (one reader writes in the header page): the store is checked and
    dumped, as before the blocks were allocated first."""
    make_store(data_dir := small_fs / "data")
    lock = data_dir / LMDB_LOCK_FILE
    size = lock.stat().st_size
    lock.unlink()
    with lock.open("wb") as made:  # as LMDB makes it: its header, then ftruncate
        made.write(bytes(4096))
        made.truncate(size)
    assert lock.stat().st_blocks * 512 < size  # holes
    fill(small_fs, 0)
    assert _kv("check", "--data-dir", str(data_dir)).returncode == 0
    saved = _kv("dump", "--data-dir", str(data_dir), "-o", str(tmp_path / "s.dump"))
    assert saved.returncode == 0, saved.stderr
