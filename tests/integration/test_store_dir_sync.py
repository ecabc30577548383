"""A name made in a data dir is durable before anything written under it is
acknowledged: the directory is fsynced (raspy.atomic_file.fsync_directory) when LMDB
makes data.mdb, also under a marker that is already there, and when the data dir
itself is made. POSIX does not promise that a new name survives a power cut without
it (ext4 happens to keep it).

Seen through Python's audit hook for `open`: fsync_directory opens the directory
with O_DIRECTORY; the hook notes which directory, and whether data.mdb was in it."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from raspy.config import StoreConfig
from raspy.storage import damage
from raspy.storage.store import Put, Store, Table

_TINY = StoreConfig(map_size_initial_mb=1, map_size_max_mb=16)
# the list a test records into: (directory, data.mdb in it) per directory opened
_recording: list[list[tuple[Path, bool]]] = []


def _on_open(event: str, args: tuple[object, ...]) -> None:
    if event != "open" or not _recording or len(args) < 3:
        return
    path, _, flags = args[:3]
    if (
        isinstance(path, str | Path)
        and isinstance(flags, int)
        and flags & os.O_DIRECTORY
    ):
        directory = Path(path)
        _recording[0].append((directory, (directory / damage.DATA_FILE).exists()))


sys.addaudithook(_on_open)  # for the process; it does nothing unless a test records


@contextmanager
def _directory_syncs() -> Iterator[list[tuple[Path, bool]]]:
    found: list[tuple[Path, bool]] = []
    _recording.append(found)
    try:
        yield found
    finally:
        _recording.clear()


def test_data_mdb_made_again_under_the_marker_is_synced_into_its_directory(
    tmp_path: Path,
) -> None:
    """A restore (or raspyd --init) where data.mdb was lost: the marker is there, so
    its write (which syncs the directory) is skipped; the new data.mdb must still
    have its name synced before the store is handed out."""
    data_dir = tmp_path / "data"
    with Store.open(data_dir, _TINY) as store:
        store.commit([Put(Table.CRON, b"job", b"\x90")])
    (data_dir / damage.DATA_FILE).unlink()
    assert (data_dir / damage.MARKER_FILE).exists()
    with _directory_syncs() as synced, Store.open(data_dir, _TINY, init=True):
        pass
    assert (data_dir, True) in synced


def test_a_new_data_dir_is_synced_into_its_parents(tmp_path: Path) -> None:
    data_dir = tmp_path / "var" / "raspy"
    with _directory_syncs() as synced, Store.open(data_dir, _TINY):
        pass
    dirs = [directory for directory, _ in synced]
    assert tmp_path in dirs  # var's name
    assert tmp_path / "var" in dirs  # raspy's name
    assert (data_dir, True) in synced


def test_opening_a_store_that_is_there_syncs_no_directory(tmp_path: Path) -> None:
    """Nothing is made, so nothing is synced: no cost at each start."""
    data_dir = tmp_path / "data"
    Store.open(data_dir, _TINY).close()
    with _directory_syncs() as synced, Store.open(data_dir, _TINY):
        pass
    assert synced == []
