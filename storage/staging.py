"""The staging dir of a restore into a data dir without a store: the new store is
made in DATA_DIR/restore.tmp and its data file moved into place only once all of
it is written and synced, so a kill at any point leaves no store or the whole one.
What a killed restore left is known by its name: the next restore removes it, and
a writer's open refuses a data dir that has it but no store. Call all of it while
holding the data dir's lock (storage.lock): only then is no restore using it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Final

import structlog

from raspy.atomic_file import fsync_directory
from raspy.errors import StoreDamagedError
from raspy.storage import damage

log = structlog.get_logger(component="store")

STAGING_DIR: Final = "restore.tmp"


def staging_dir(data_dir: Path) -> Path:
    """Where a restore into `data_dir` makes the new store."""
    return data_dir / STAGING_DIR


def remove_leftover(data_dir: Path) -> bool:
    """The staging dir a killed restore left, removed (durably); was there one?"""
    staging = staging_dir(data_dir)
    if not staging.exists() and not staging.is_symlink():
        return False
    if staging.is_dir() and not staging.is_symlink():
        shutil.rmtree(staging)
    else:  # not ours: nothing of a restore is a file or a link here
        staging.unlink()
    fsync_directory(data_dir)
    log.warning("store_restore_leftover_removed", path=str(staging))
    return True


def check_leftover(data_dir: Path, *, init: bool) -> None:
    """A writer's open: a data dir whose restore was killed before its store was in
    place is refused (StoreDamagedError), unless `init` (an empty store was asked
    for); the leftover of one killed later (the store is whole) is removed."""
    if not staging_dir(data_dir).exists():
        return
    if init or not damage.data_file_absent(data_dir):
        remove_leftover(data_dir)
        return
    raise StoreDamagedError(
        f"{data_dir}: a restore into it was stopped before its store was in place"
        f" ({STAGING_DIR} is what it left; nothing of it counts): restore the dump"
        f" again with `raspy-kv restore --data-dir {data_dir} FILE`, or start"
        " raspyd with --init for an empty store"
    )


def move_into_place(data_dir: Path) -> None:
    """The data file made in the staging dir (its store closed) synced and renamed
    to the data dir's, the rename synced, then the staging dir removed: a kill
    before the rename leaves no store, one after it the whole store."""
    staged = staging_dir(data_dir) / damage.DATA_FILE
    fd = os.open(staged, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(staged, data_dir / damage.DATA_FILE)
    fsync_directory(data_dir)
    shutil.rmtree(staging_dir(data_dir))
    fsync_directory(data_dir)
