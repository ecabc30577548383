"""What a Store's opening does before the store is used: the data dir's name and
mode, then the file's schema version (and every record, if asked) read-only, and only
then its tables created and an older schema migrated."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import structlog

from raspy.atomic_file import fsync_directory
from raspy.errors import DataDirError, StoreError
from raspy.storage import damage, schema
from raspy.storage import env as env_mod
from raspy.storage.tables import (
    SCHEMA_VERSION_KEY,
    Table,
    decode_schema_version,
    encode_schema_version,
)
from raspy.storage.txn import ReadTxn, WriteTxn

log = structlog.get_logger(component="store")

_CHECK_CHUNK: Final = 1000
# what a reader's open reads: the tables' records in the main tree (their counts) and
# the schema version in the meta table; its walk checks those trees only
_OPEN_TREES: Final = frozenset({Table.META.value.encode()})


def check_path_text(path: Path) -> None:
    """LMDB takes its path as UTF-8: a name made of other bytes (a surrogate escape
    in Python) is refused before anything is made."""
    try:
        os.fspath(path).encode()
    except UnicodeEncodeError:
        raise DataDirError(
            f"data dir {os.fspath(path)!a}: the name is not UTF-8 text, which the"
            " store needs"
        ) from None


def make_data_dir(path: Path) -> None:
    """The store is nobody else's business (issue 18): a new data dir is made 0700,
    and one that the group or others may use is warned about and set to 0700."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    created = bool(missing) and missing[0] == path
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        for made in reversed(missing):  # its name in its parent, from the top down
            fsync_directory(made.parent)
    except OSError as exc:
        raise DataDirError(f"cannot create data dir {path}: {exc.strerror}") from exc
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        if created:
            path.chmod(0o700)  # mkdir's mode is masked by the umask
        elif mode & 0o077:
            log.warning(
                "data_dir_permissions_tightened",
                path=str(path),
                mode=f"{mode:04o}",
                now="0700",
            )
            path.chmod(0o700)
    except OSError as exc:
        raise DataDirError(
            f"cannot make data dir {path} private (0700): {exc.strerror}"
        ) from exc


def _every_record(txn: ReadTxn, table: Table) -> Iterator[tuple[bytes, bytes]]:
    after: bytes | None = None
    while True:
        chunk = txn.range(table, after or b"", b"", after, _CHECK_CHUNK)
        yield from chunk
        if len(chunk) < _CHECK_CHUNK:
            return
        after = chunk[-1][0]


def _stamped_version(stamp: bytes | None) -> int:
    """The schema version a store says it has; 0 if none, or unreadable (the record
    check names that one as damage)."""
    if stamp is None:
        return 0
    try:
        return decode_schema_version(stamp)
    except StoreError:
        return 0


def prepare(
    shared: env_mod.Environment,
    *,
    readonly: bool,
    check_records: bool,
    progress: damage.Progress = damage.no_progress,
) -> int:
    """Clear stale readers, check the schema version (and every record if asked,
    calling `progress` as it goes), all read-only; only then create tables and
    migrate."""
    cleared = shared.reader_check()
    if cleared:
        log.warning("store_stale_readers_cleared", path=str(shared.path), count=cleared)
    if readonly:  # beside raspyd, a snapshot none of our checks has seen
        txn = shared.begin_walked(None if check_records else _OPEN_TREES)
    else:  # the writer's open walked every page (damage.check_data_file)
        txn = shared.begin_read()
    try:
        stamp = txn.get(Table.META, SCHEMA_VERSION_KEY)
        empty = all(txn.count(table) == 0 for table in Table)
        # a newer raspy's store is refused as that, before the record check takes
        # its stamp for damage (and advises a restore, not the upgrade)
        schema.check_supported(_stamped_version(stamp))
        if check_records:
            damage.check_records(shared.path, lambda t: _every_record(txn, t), progress)
    finally:
        shared.end_read(txn)
    version = 0 if stamp is None else decode_schema_version(stamp)
    schema.check_supported(version)
    if not readonly:
        shared.create_tables()
    if readonly or version == schema.SCHEMA_VERSION:
        log.info("store_opened", path=str(shared.path), schema_version=version)
        return version

    def migrate(txn: WriteTxn) -> None:
        schema.migrate(txn, version)
        txn.put(
            Table.META, SCHEMA_VERSION_KEY, encode_schema_version(schema.SCHEMA_VERSION)
        )

    shared.write(migrate)
    if empty:
        log.info(
            "store_created", path=str(shared.path), schema_version=schema.SCHEMA_VERSION
        )
    else:
        log.info(
            "store_schema_migrated",
            path=str(shared.path),
            from_version=version,
            to_version=schema.SCHEMA_VERSION,
        )
    return schema.SCHEMA_VERSION
