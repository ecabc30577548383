"""raspy-kv restore: a dump written back, all or nothing, in two passes: the whole
file checked before the data dir is touched, then read again, in bounded batches,
inside the store's one restore txn; into a data dir without a store, a new store
made in its staging dir and moved into place once committed (kv_restore_target). A
dump on stdin (`-`), or a FILE that is a pipe, is kept in a temp file for the two
readings (kv_restore_source)."""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Final

from raspy import config as config_mod
from raspy.cli import EXIT_OK, EXIT_USAGE
from raspy.cli import kv_restore_source as dump_source
from raspy.cli.kv_lines import EXIT_DATA, Failure, refused_record
from raspy.cli.kv_restore_target import open_target
from raspy.cli.kv_store import Progress, ended_as_ctrl_c, records, report
from raspy.config import StoreConfig
from raspy.errors import (
    ConfigError,
    DumpFormatError,
    StoreBeingReadError,
    StoreDeviceError,
    StoreError,
    StoreLockedError,
)
from raspy.records import frozen
from raspy.storage import damage
from raspy.storage.check import validate_written
from raspy.storage.dump import DumpReader, Header, Record, record_line_number
from raspy.storage.ops import Put, validate_ops
from raspy.storage.schema import SCHEMA_VERSION
from raspy.storage.store import Store
from raspy.storage.tables import (
    LAST_SEQ_KEY,
    MAX_KEY_BYTES,
    Table,
    decode_seq,
    encode_seq,
)

# a restore writes its records in batches of this many, or this many bytes, so it
# holds a batch of them at a time, not the dump (docs/PERFORMANCE.md "Restore")
_BATCH_RECORDS: Final = 1000
_BATCH_BYTES: Final = 1024 * 1024
# what a restore says it is in the data dir's lock file: another one names it
_HOLDER: Final = "raspy-kv restore"
# the map room a restore asks for ahead, per byte of keys and values: B-tree pages
# are not full, and big values take whole overflow pages
_ROOM_FACTOR: Final = 2


@frozen
class _Scan:
    """What the first pass over a dump found: all of it valid, and these facts."""

    header: Header
    count: int
    data_bytes: int  # keys and values, for the map's room
    digest: str  # of every byte before the end line: the second pass must match
    last_seq: int | None  # the dump's kv.meta last_seq
    kv_seq: int | None  # the highest seq of the dump's kv records
    max_line: int  # bytes in one line at most (see _max_line)


def _max_line(config: StoreConfig) -> int:
    """The longest line a dump of records within `config` can have, with room to
    spare: a value as base64 or escaped JSON text, at most 6 bytes a byte. A line
    past it is no record (a file of another kind, /dev/zero): it is refused, not
    read whole into memory."""
    return 8 * (config.max_value_bytes + MAX_KEY_BYTES) + 4096


def _check_schema(file: str, version: int) -> None:
    if version > SCHEMA_VERSION:
        raise Failure(
            f"{file} line 1: schema version {version} is newer than this raspy "
            f"supports ({SCHEMA_VERSION}); restore it with that newer raspy, or "
            f"restore a dump of schema {SCHEMA_VERSION} or older (one taken before "
            "the upgrade); or the file is damaged (its checksum is checked only at"
            " its end)",
            EXIT_DATA,
        )


def _scan_dump(
    source: dump_source.Source, verify_checksum: bool, config: StoreConfig
) -> _Scan:
    """Pass 1, before the data dir is touched: every line parsed and every record
    within the store's limits and decodable as its table says, one at a time."""
    file = source.name
    path = Path(source.path)
    size = path.stat().st_size if path.is_file() else 0
    progress = Progress("check", size)
    data_bytes, last_seq, kv_seq = 0, None, None
    max_line = _max_line(config)
    try:
        with dump_source.dump_lines(source, max_line, progress) as lines:
            reader = DumpReader(lines, verify_checksum=verify_checksum)
            # before the records: a newer raspy's may not read here, and one that
            # does not would be named as damaged instead of as newer
            _check_schema(file, reader.header.schema_version)
            for index, record in enumerate(reader.records()):
                seq = _validate(file, index, record, config)
                data_bytes += len(record.key) + len(record.value)
                if record.table is Table.KV_META and record.key == LAST_SEQ_KEY:
                    last_seq = decode_seq(record.value)  # validated above
                elif seq is not None:  # a kv record's
                    kv_seq = max(kv_seq or 0, seq)
    except DumpFormatError as exc:
        raise Failure(f"{file} {exc}", EXIT_DATA) from exc
    except OSError as exc:
        raise Failure(f"cannot read {file}: {exc.strerror}", EXIT_USAGE) from exc
    finally:
        progress.close()
    return _Scan(
        reader.header,
        reader.count,
        data_bytes,
        reader.digest,
        last_seq,
        kv_seq,
        max_line,
    )


def _validate(file: str, index: int, record: Record, config: StoreConfig) -> int | None:
    """One record within the store's limits and decodable as its table says; a kv
    record's seq (None for other tables)."""
    where = f"{file} line {record_line_number(index)}"
    op = Put(record.table, record.key, record.value)
    try:
        validate_ops([op], MAX_KEY_BYTES, config.max_value_bytes)
    except StoreError as exc:
        raise Failure(f"{where}: {exc}", EXIT_DATA) from exc
    try:
        return validate_written(op.table, op.key, op.value)
    except StoreError as exc:
        what = refused_record(op.table, op.key, exc)
        raise Failure(f"{where}: {what}", EXIT_DATA) from exc


def _batches(
    source: dump_source.Source, scan: _Scan, last: list[Put], stop: threading.Event
) -> Iterator[list[Put]]:
    """Pass 2, inside the restore's one txn: the records again, in bounded batches,
    then `last`. A file that changed since pass 1, or `stop` (Ctrl-C), raises
    (StoreError), which aborts the txn: nothing of it is written."""

    def going(batch: list[Put]) -> list[Put]:
        if stop.is_set():
            raise StoreError("restore interrupted; nothing was written")
        return batch

    progress = Progress("restore", scan.count)
    file = source.name
    changed = f"{file} changed during the restore; nothing was written"
    batch: list[Put] = []
    size = 0
    try:
        with dump_source.dump_lines(source, scan.max_line) as lines:
            reader = DumpReader(lines, verify_checksum=False, unique=False)
            for record in reader.records():
                batch.append(Put(record.table, record.key, record.value))
                size += len(record.key) + len(record.value)
                if len(batch) >= _BATCH_RECORDS or size >= _BATCH_BYTES:
                    yield going(batch)
                    progress.step(len(batch))
                    batch, size = [], 0
    except (DumpFormatError, Failure) as exc:
        raise StoreError(f"{changed} ({exc})") from exc
    except OSError as exc:
        raise StoreError(f"cannot read {file}: {exc.strerror}") from exc
    finally:
        progress.close()
    if reader.digest != scan.digest or reader.header != scan.header:
        raise StoreError(changed)
    yield going(batch + last)


def _keep_seq(store: Store, scan: _Scan) -> list[Put]:
    """A sequence number is never reused: kv.meta last_seq after a restore is the
    highest of the stored one, the dump's, and every kv seq the dump restores (a
    dump of kv alone has no last_seq: docs/recovery.md). Returns the write that
    sets it, written after the dump's records (--replace or not)."""
    stored = store.get(Table.KV_META, LAST_SEQ_KEY)
    found = (
        None if stored is None else decode_seq(stored),
        scan.last_seq,
        scan.kv_seq,
    )
    highest = max((seq for seq in found if seq is not None), default=None)
    if highest is None:
        return []
    return [Put(Table.KV_META, LAST_SEQ_KEY, encode_seq(highest))]


def _store_config(path: str | None) -> StoreConfig:
    """The [store] section of raspyd's config FILE (defaults without one): a hub
    whose limits were raised must be able to take its own dump back."""
    if path is None:
        return StoreConfig()
    try:
        text = config_mod.read_file(path)
        return config_mod.load(text, path, unused=config_mod.RASPYD_UNUSED).store
    except ConfigError as exc:
        raise Failure(str(exc), EXIT_USAGE) from exc


def restore(args: argparse.Namespace) -> int:
    started = time.monotonic()
    config = _store_config(args.config)
    with ended_as_ctrl_c(), dump_source.source(args.file, _max_line(config)) as source:
        return _restore(args, source, config, started)


def _restore(
    args: argparse.Namespace,
    source: dump_source.Source,
    config: StoreConfig,
    started: float,
) -> int:
    # all of it checked before the data dir is touched, then read again to write it
    scan = _scan_dump(source, not args.ignore_checksum, config)
    header = scan.header
    cleared = header.tables if args.replace else ()
    try:
        # a restore is the way back for a data dir whose data.mdb was lost too
        target = open_target(args.data_dir, config, _HOLDER)
    except StoreBeingReadError as exc:  # no raspyd: another raspy-kv reads it
        raise Failure(
            f"{exc}; let that raspy-kv end, then restore again", EXIT_DATA
        ) from exc
    except StoreLockedError as exc:
        raise Failure(_held_by(exc), EXIT_DATA) from exc
    except StoreDeviceError as exc:  # the open of a new or lost store writes too
        raise _device_failure(exc) from exc
    store = target.store
    stop = threading.Event()
    try:
        _refuse_unreadable(store, Path(args.data_dir), header.tables, cleared)
        held = 0 if cleared else _held(store, header.tables)
        last = _keep_seq(store, scan)
        store.restore(
            lambda: _batches(source, scan, last, stop),
            clear=cleared,
            schema_version=header.schema_version,
            room=_ROOM_FACTOR * scan.data_bytes,
            stop=stop,  # Ctrl-C: the writer thread, mid-txn, aborts it
        )
    except BaseException as exc:
        stop.set()
        target.abandon()  # a lost store stays lost: raspyd still refuses
        if isinstance(exc, StoreDeviceError):
            raise _device_failure(exc) from exc
        raise
    target.finish()
    how = "replacing" if cleared else "into"
    merged = (
        f", merged with the {held} records they held (--replace empties them first)"
        if held
        else ""
    )
    report(
        "restore",
        f"restored {scan.count} records {how} {len(header.tables)} dbs{merged}",
        started,
        sys.stderr,
    )
    return EXIT_OK


def _held_by(exc: StoreLockedError) -> str:
    """The refusal of a data dir another process writes, with what helps: it
    depends on what that is (a restore beside a restore was told to stop raspyd)."""
    if exc.holder == _HOLDER:
        return (
            f"{exc}: another {_HOLDER} is writing it; let that restore end, then"
            " restore again"
        )
    if exc.holder is not None:
        return f"{exc}: {exc.holder}; stop it before a restore"
    return f"{exc}; stop raspyd (or what else writes it) before a restore"


def _device_failure(exc: StoreDeviceError) -> Failure:
    """A failing device met by the restore, at the open or in its txn: the store's
    advice, "dump the store", led back here (the data.mdb the restore began is gone
    again, and a dump of it said to restore a dump)."""
    return Failure(
        f"{exc.fault}; nothing of the dump was written. Look at `dmesg`, and"
        " restore into a data dir on sound storage",
        EXIT_DATA,
    )


def _refuse_unreadable(
    store: Store, data_dir: Path, tables: tuple[Table, ...], cleared: tuple[Table, ...]
) -> None:
    """A record that raspyd cannot read and the restore would keep (a merge keeps
    the dump's dbs' other records, --replace the dbs the dump has not) is refused,
    with nothing written: raspyd would refuse the store the restore left."""
    kept = tuple(table for table in Table if table not in cleared)
    with store.read_view() as view:
        found = damage.first_unreadable(data_dir, partial(records, view), kept)
    if found is None:
        return
    replace = (
        "restore with --replace (the dump's dbs emptied first), or into"
        if found.table in tables
        else "restore into"
    )
    raise Failure(
        f"{found}; a restore would keep it, and raspyd refuses such a store: nothing"
        f" was written. `raspy-kv check --data-dir {data_dir}` lists every such"
        f" record; {replace} a new data dir (keep this one: `mv {data_dir}"
        f" {data_dir}.damaged`)",
        EXIT_DATA,
    )


def _held(store: Store, tables: tuple[Table, ...]) -> int:
    """The records the dump's dbs hold before the restore: a restore without
    --replace merges into them, which a user restoring a backup may not expect."""
    with store.read_view() as view:
        return sum(view.count(table) for table in tables)
