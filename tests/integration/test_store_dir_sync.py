"""A name made in a data dir is durable before anything written under it is
acknowledged: the directory is fsynced (raspy.atomic_file.fsync_directory) when LMDB
makes data.mdb, also under a marker that is already there, and when the data dir
itself is made. POSIX does not promise that a new name survives a power cut without
it (ext4 happens to keep it).

Seen through Python's audit hook for `open`: fsync_directory opens the directory
with O_DIRECTORY; the hook notes which directory, and whether data.mdb was in it.
The hook cannot be removed once added, so the store is opened in a child process
(support/dir_syncs.py) that adds it, not in the pytest worker."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from support.dir_syncs import TINY

from raspy.storage import damage
from raspy.storage.store import Put, Store, Table

_CHILD = Path(__file__).resolve().parent.parent / "support" / "dir_syncs.py"


def _directory_syncs(data_dir: Path, *, init: bool = False) -> list[tuple[Path, bool]]:
    """(directory, data.mdb in it) per directory opened while a child opened the
    store at data_dir."""
    done = subprocess.run(
        [sys.executable, str(_CHILD), str(data_dir), *(["--init"] if init else [])],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    last = done.stdout.splitlines()[-1]  # after the store's log lines
    return [(Path(path), had) for path, had in json.loads(last)]


def test_data_mdb_made_again_under_the_marker_is_synced_into_its_directory(
    tmp_path: Path,
) -> None:
    """A restore (or raspyd --init) where data.mdb was lost: the marker is there, so
    its write (which syncs the directory) is skipped; the new data.mdb must still
    have its name synced before the store is handed out."""
    data_dir = tmp_path / "data"
    with Store.open(data_dir, TINY) as store:
        store.commit([Put(Table.CRON, b"job", b"\x90")])
    (data_dir / damage.DATA_FILE).unlink()
    assert (data_dir / damage.MARKER_FILE).exists()
    synced = _directory_syncs(data_dir, init=True)
    assert (data_dir, True) in synced


def test_a_new_data_dir_is_synced_into_its_parents(tmp_path: Path) -> None:
    data_dir = tmp_path / "var" / "raspy"
    synced = _directory_syncs(data_dir)
    dirs = [directory for directory, _ in synced]
    assert tmp_path in dirs  # var's name
    assert tmp_path / "var" in dirs  # raspy's name
    assert (data_dir, True) in synced


def test_opening_a_store_that_is_there_syncs_no_directory(tmp_path: Path) -> None:
    """Nothing is made, so nothing is synced: no cost at each start."""
    data_dir = tmp_path / "data"
    Store.open(data_dir, TINY).close()
    assert _directory_syncs(data_dir) == []
