"""raspy-kv: dump, restore, check and back up the store of a data dir.

Exit status: 0 ok, 1 data problem (or the data dir is in use), 2 usage error.
Sub-commands set `run` (args -> exit status) with set_defaults; the live commands of
raspy.cli.kv_live (ls, get, set, del, watch) are added when that module exists.
"""

from __future__ import annotations

import argparse
import importlib
import itertools
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Final

from raspy import config as config_mod
from raspy import log as log_mod
from raspy.atomic_file import atomic_writer, temp_target
from raspy.cli import EXIT_INTERRUPTED, reader_left, version_line
from raspy.cli.last_resort import guarded
from raspy.config import StoreConfig
from raspy.errors import (
    ConfigError,
    DumpFormatError,
    StoreError,
    StoreLockedError,
    quote,
)
from raspy.storage import damage
from raspy.storage.check import Checker, validate_record
from raspy.storage.dump import (
    DumpReader,
    DumpWriter,
    Header,
    Record,
    record_line_number,
)
from raspy.storage.lock import lock_holder, writer_present
from raspy.storage.schema import SCHEMA_VERSION
from raspy.storage.store import Put, ReadView, Store, validate_ops
from raspy.storage.tables import (
    DATA_TABLES,
    LAST_SEQ_KEY,
    MAX_KEY_BYTES,
    Table,
    decode_seq,
)

EXIT_OK: Final = 0
EXIT_DATA: Final = 1
EXIT_USAGE: Final = 2
_CHUNK: Final = 1000
# a restore writes its records in batches of this many, or this many bytes, so it
# holds a batch of them at a time, not the dump (docs/PERFORMANCE.md "Restore")
_BATCH_RECORDS: Final = 1000
_BATCH_BYTES: Final = 1024 * 1024
# the map room a restore asks for ahead, per byte of keys and values: B-tree pages
# are not full, and big values take whole overflow pages
_ROOM_FACTOR: Final = 2
_KEEP: Final = 7  # backups kept: a week of daily ones
# a backup's temp file untouched this long was left by a backup cut short
_STALE_TEMP_S: Final = 24 * 3600.0


class _Failure(Exception):
    """One stderr line and an exit status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class _ArgumentParser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]  # argparse declares NoReturn
        self.exit(EXIT_USAGE, f"{self.prog}: {message}\n")


class _Progress:
    """A progress bar on stderr, only when stderr is a terminal."""

    def __init__(self, label: str, total: int, stream: IO[str] | None = None) -> None:
        self._stream = stream or sys.stderr
        self._on = total > 0 and self._stream.isatty()
        self.shown = self._on
        self._label, self._total, self._done = label, total, 0
        self._every = max(1, total // 200)

    def step(self, count: int = 1) -> None:
        self._done += count
        if self._on and (self._done % self._every == 0 or self._done >= self._total):
            filled = 30 * self._done // self._total
            self._stream.write(
                f"\r{self._label} [{'#' * filled}{'.' * (30 - filled)}] "
                f"{self._done}/{self._total}"
            )
            self._stream.flush()

    def close(self) -> None:
        if self._on:
            self._stream.write("\r\033[K")
            self._stream.flush()


def _report(message: str, started: float, stream: IO[str]) -> None:
    print(f"raspy-kv: {message} in {time.monotonic() - started:.2f} s", file=stream)


def _open_readonly(data_dir: str) -> Store:
    """The store, read-only: its file is checked before it is mapped (storage.damage)."""
    path = Path(data_dir)
    # raspyd making the store right now is not a lost store: wait for it a moment
    damage.wait_while_made(path, lambda: writer_present(path))
    if damage.data_file_absent(path):
        if damage.held_a_store(path):  # it was lost: a data problem, not a typo
            damage.refuse_lost_store(path, init=False)
        raise _Failure(f"no store in {data_dir}", EXIT_USAGE)
    _refuse_slotless_read(path)
    return Store.open(data_dir, readonly=True)


def _refuse_slotless_read(data_dir: Path) -> None:
    """LMDB opens a read-only store on a read-only mount (systemd's ReadOnlyPaths=)
    without its lock file: its reads then hold no reader slot, and a running raspyd
    may reuse the very pages being read. Fine for a card mounted read-only to rescue
    it; beside raspyd, refused."""
    lock_file = data_dir / damage.LMDB_LOCK_FILE
    if not lock_file.exists() or os.access(lock_file, os.R_OK | os.W_OK):
        return
    holder = lock_holder(data_dir)
    if holder is not None:
        raise _Failure(
            f"{lock_file} cannot be written, and raspyd (pid {holder}) writes this"
            " store: LMDB would read it without a reader slot, so raspyd could reuse"
            f" the pages being read; make {lock_file} writable (systemd:"
            " ReadWritePaths=) or stop raspyd",
            EXIT_DATA,
        )


def _records(view: ReadView, table: Table) -> Iterator[tuple[bytes, bytes]]:
    """Every record of a table in key order, in chunks, from one read txn."""
    after: bytes | None = None
    for _ in range(view.count(table) // _CHUNK + 1):
        chunk = view.iter_from(table, b"", after, _CHUNK)
        yield from chunk
        if len(chunk) < _CHUNK:
            return
        after = chunk[-1][0]


@contextmanager
def _stdout_errors() -> Iterator[None]:
    """A full disk behind stdout (`dump > FILE`) is a data problem, not a bug; what
    was written has no end line, so restore refuses it."""
    try:
        yield
        sys.stdout.flush()
    except BrokenPipeError:
        raise  # the reader left: run() says nothing
    except OSError as exc:
        reader_left()  # Python's flush at exit must not fail again
        raise _Failure(f"cannot write to stdout: {exc.strerror}", EXIT_DATA) from exc


@contextmanager
def _output(name: str | None, *, replace: bool = True) -> Iterator[IO[bytes]]:
    """stdout, or FILE (mode 0600) written under a temp name, fsynced, then renamed.
    `replace=False`: a FILE that exists is kept, and FileExistsError raised."""
    if name is None:
        with _stdout_errors():
            yield sys.stdout.buffer
            sys.stdout.buffer.flush()
        return
    try:
        # the whole store: private, as the data dir it comes from is (0700)
        with atomic_writer(name, mode=0o600, replace=replace) as out:
            yield out
    except FileExistsError:
        raise  # the caller picks another name
    except OSError as exc:
        raise _Failure(f"cannot write {name}: {exc.strerror}", EXIT_DATA) from exc


def _write_dump(
    store: Store,
    tables: tuple[Table, ...],
    output: str | None,
    now: datetime,
    *,
    replace: bool = True,
) -> int:
    """The tables of the store, from one read txn, as a dump to `output` (stdout if
    None), its header made at `now`; returns the records written."""
    with store.read_view() as view:
        created = now.strftime("%Y-%m-%dT%H:%M:%SZ")
        writer = DumpWriter(Header(store.schema_version, created, tables))
        progress = _Progress("dump", sum(view.count(t) for t in tables))
        with _output(output, replace=replace) as out:
            out.write(writer.header_line())
            for table in tables:
                for key, value in _records(view, table):
                    out.write(writer.record_line(Record(table, key, value)))
                    progress.step()
            out.write(writer.end_line())
        progress.close()
    return writer.count


def _dump(args: argparse.Namespace) -> int:
    started = time.monotonic()
    tables = tuple(t for t in DATA_TABLES if not args.db or t.value in args.db)
    store = _open_readonly(args.data_dir)
    try:
        count = _write_dump(store, tables, args.output, datetime.now(UTC))
    finally:
        store.close()
    _report(f"dumped {count} records from {len(tables)} dbs", started, sys.stderr)
    return EXIT_OK


@dataclass(frozen=True, slots=True)
class _Scan:
    """What the first pass over a dump found: all of it valid, and these facts."""

    header: Header
    count: int
    data_bytes: int  # keys and values, for the map's room
    digest: str  # of every byte before the end line: the second pass must match
    last_seq: int | None  # the dump's kv.meta last_seq


@contextmanager
def _dump_lines(
    file: str, progress: _Progress | None = None
) -> Iterator[Iterator[bytes]]:
    """The dump's lines, read a buffer at a time (a restore never holds the file)."""
    try:
        handle = Path(file).open("rb")  # noqa: SIM115  # closed below
    except OSError as exc:
        raise _Failure(f"cannot read {file}: {exc.strerror}", EXIT_USAGE) from exc

    def lines() -> Iterator[bytes]:
        for line in handle:
            step(len(line))
            yield line

    with handle:
        if progress is None or not progress.shown:
            yield iter(handle)
        else:
            step = progress.step
            yield lines()


def _scan_dump(file: str, verify_checksum: bool, config: StoreConfig) -> _Scan:
    """Pass 1, before the data dir is touched: every line parsed and every record
    within the store's limits and decodable as its table says, one at a time."""
    size = Path(file).stat().st_size if Path(file).is_file() else 0
    progress = _Progress("check", size)
    data_bytes, last_seq = 0, None
    try:
        with _dump_lines(file, progress) as lines:
            reader = DumpReader(lines, verify_checksum=verify_checksum)
            for index, record in enumerate(reader.records()):
                _validate(file, index, record, config)
                data_bytes += len(record.key) + len(record.value)
                if record.table is Table.KV_META and record.key == LAST_SEQ_KEY:
                    last_seq = decode_seq(record.value)  # validated above
    except DumpFormatError as exc:
        raise _Failure(f"{file} {exc}", EXIT_DATA) from exc
    except OSError as exc:
        raise _Failure(f"cannot read {file}: {exc.strerror}", EXIT_USAGE) from exc
    finally:
        progress.close()
    if reader.header.schema_version > SCHEMA_VERSION:
        raise _Failure(
            f"{file} line 1: schema version {reader.header.schema_version} is newer "
            f"than this raspy supports ({SCHEMA_VERSION})",
            EXIT_DATA,
        )
    return _Scan(reader.header, reader.count, data_bytes, reader.digest, last_seq)


def _validate(file: str, index: int, record: Record, config: StoreConfig) -> None:
    """One record within the store's limits and decodable as its table says."""
    where = f"{file} line {record_line_number(index)}"
    op = Put(record.table, record.key, record.value)
    try:
        validate_ops([op], MAX_KEY_BYTES, config.max_value_bytes)
    except StoreError as exc:
        raise _Failure(f"{where}: {exc}", EXIT_DATA) from exc
    try:
        validate_record(op.table, op.key, op.value)
    except StoreError as exc:
        what = f"{op.table} {quote(op.key)}: {exc}"
        raise _Failure(f"{where}: {what}", EXIT_DATA) from exc


def _batches(
    file: str, scan: _Scan, last: list[Put], stop: threading.Event
) -> Iterator[list[Put]]:
    """Pass 2, inside the restore's one txn: the records again, in bounded batches,
    then `last`. A file that changed since pass 1, or `stop` (Ctrl-C), raises
    (StoreError), which aborts the txn: nothing of it is written."""

    def going(batch: list[Put]) -> list[Put]:
        if stop.is_set():
            raise StoreError("restore interrupted; nothing was written")
        return batch

    progress = _Progress("restore", scan.count)
    changed = f"{file} changed during the restore; nothing was written"
    batch: list[Put] = []
    size = 0
    try:
        with _dump_lines(file) as lines:
            reader = DumpReader(lines, verify_checksum=False, unique=False)
            for record in reader.records():
                batch.append(Put(record.table, record.key, record.value))
                size += len(record.key) + len(record.value)
                if len(batch) >= _BATCH_RECORDS or size >= _BATCH_BYTES:
                    yield going(batch)
                    progress.step(len(batch))
                    batch, size = [], 0
    except (DumpFormatError, _Failure) as exc:
        raise StoreError(f"{changed} ({exc})") from exc
    except OSError as exc:
        raise StoreError(f"cannot read {file}: {exc.strerror}") from exc
    finally:
        progress.close()
    if reader.digest != scan.digest or reader.header != scan.header:
        raise StoreError(changed)
    yield going(batch + last)


def _keep_seq(store: Store, scan: _Scan, cleared: tuple[Table, ...]) -> list[Put]:
    """A sequence number is never reused: never lower kv.meta last_seq by a restore.
    Returns the write that keeps the stored one, if it is needed."""
    stored = store.get(Table.KV_META, LAST_SEQ_KEY)
    if stored is None or not (scan.last_seq is not None or Table.KV_META in cleared):
        return []
    if (scan.last_seq or 0) < decode_seq(stored):
        return [Put(Table.KV_META, LAST_SEQ_KEY, stored)]
    return []


def _store_config(path: str | None) -> StoreConfig:
    """The [store] section of raspyd's config FILE (defaults without one): a hub
    whose limits were raised must be able to take its own dump back."""
    if path is None:
        return StoreConfig()
    try:
        text = config_mod.read_file(path)
        return config_mod.load(text, path).store
    except ConfigError as exc:
        raise _Failure(str(exc), EXIT_USAGE) from exc


def _restore(args: argparse.Namespace) -> int:
    started = time.monotonic()
    config = _store_config(args.config)
    # all of it checked before the data dir is touched, then read again to write it
    scan = _scan_dump(args.file, not args.ignore_checksum, config)
    header = scan.header
    cleared = header.tables if args.replace else ()
    try:
        # init: a restore is the way back for a data dir whose data.mdb was lost
        store = Store.open(args.data_dir, config, init=True)
    except StoreLockedError as exc:
        raise _Failure(f"{exc}; stop raspyd before a restore", EXIT_DATA) from exc
    stop = threading.Event()
    try:
        last = _keep_seq(store, scan, cleared)
        store.restore(
            lambda: _batches(args.file, scan, last, stop),
            clear=cleared,
            schema_version=header.schema_version,
            room=_ROOM_FACTOR * scan.data_bytes,
            stop=stop,  # Ctrl-C: the writer thread, mid-txn, aborts it
        )
    except BaseException:
        stop.set()
        store.discard_created()  # a lost store stays lost: raspyd still refuses
        raise
    store.close()
    how = "replacing" if cleared else "into"
    _report(
        f"restored {scan.count} records {how} {len(header.tables)} dbs",
        started,
        sys.stderr,
    )
    return EXIT_OK


def _check(args: argparse.Namespace) -> int:
    started = time.monotonic()
    store = _open_readonly(args.data_dir)
    checker = Checker()
    try:
        with store.read_view() as view:
            progress = _Progress("check", sum(view.count(t) for t in Table))
            for table in Table:
                for key, value in _records(view, table):
                    checker.feed(table, key, value)
                    progress.step()
            progress.close()
    finally:
        store.close()
    problems = checker.finish()
    total = sum(checker.counts.values())
    verdict = f"{len(problems)} problems" if problems else "ok"
    with _stdout_errors():
        for problem in problems:
            print(problem)
        _report(
            # one db more than a dump names: the schema's, which its header carries
            f"checked {total} records in {len(Table)} dbs (the schema's too):"
            f" {verdict}",
            started,
            sys.stdout,
        )
    return EXIT_DATA if problems else EXIT_OK


# raspy-<UTC time>[-N].dump, N from 2 for a second backup in the same second: the only
# names a backup writes, and the only ones its rotation removes
_BACKUP_NAME: Final = re.compile(
    r"raspy-(\d{8}T\d{6}Z)(?:-([2-9]|[1-9]\d{1,8}))?\.dump"
)


def _backup_name(stamp: str, number: int) -> str:
    return f"raspy-{stamp}.dump" if number == 1 else f"raspy-{stamp}-{number}.dump"


def _backup_dir(name: str, data_dir: str) -> Path:
    """The backup dir: there already (never made: an unmounted USB stick leaves an
    empty mount point on the card) and outside the data dir (lost with the store)."""
    path = Path(name)
    if not path.is_dir():
        what = "is not a directory" if path.exists() else "does not exist"
        raise _Failure(
            f"backup dir {name} {what}; it is not created (a USB stick or share"
            " that is not mounted must not fill the SD card): mount or make it",
            EXIT_USAGE,
        )
    real, data = path.resolve(), Path(data_dir).resolve()
    if real == data or data in real.parents:
        raise _Failure(
            f"backup dir {name} is inside the data dir {data_dir}: a backup must"
            " survive the loss of the store; choose a directory outside it",
            EXIT_USAGE,
        )
    return path


def _write_backup(
    store: Store, backup_dir: Path, tables: tuple[Table, ...]
) -> tuple[Path, int]:
    """The tables of the store as a new dated dump in backup_dir; a name taken
    already (even while this one was written) gets the next number, nothing is
    replaced."""
    now = datetime.now(UTC)
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    for number in itertools.count(1):
        path = backup_dir / _backup_name(stamp, number)
        if os.path.lexists(path):
            continue
        try:
            return path, _write_dump(store, tables, str(path), now, replace=False)
        except FileExistsError:
            continue  # taken while it was written: the store again, under the next
    raise AssertionError("unreachable")  # itertools.count never ends


def _read_back(path: Path, count: int) -> int:
    """Read the new backup back whole, from the device rather than the page cache
    where the kernel allows, and check it as restore does before it writes (every
    line, the end line's count and checksum); returns its size. A file that does not
    check is removed."""
    try:
        with path.open("rb") as handle:
            # its pages are clean (fsynced): dropped, the reads go to the disk (a
            # file system without this: the check reads the page cache)
            with suppress(OSError):
                os.posix_fadvise(handle.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
            reader = DumpReader(handle, unique=False)  # bounded memory, same checksum
            for _ in reader.records():
                pass
            if reader.count != count:
                raise DumpFormatError(
                    record_line_number(reader.count),
                    f"end line counts {reader.count} records, {count} were written",
                )
            return os.fstat(handle.fileno()).st_size
    except (DumpFormatError, OSError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else str(exc)
        try:
            path.unlink(missing_ok=True)
            done = "removed it"
        except OSError as again:
            done = f"it could not be removed ({again.strerror}): remove it"
        raise _Failure(
            f"{path} does not read back as written ({why}); {done}, and kept the"
            " older backups. The disk of the backup dir may be failing",
            EXIT_DATA,
        ) from exc


def _backup_order(name: str) -> tuple[str, int]:
    match = _BACKUP_NAME.fullmatch(name)
    assert match is not None
    return match.group(1), int(match.group(2) or 1)


def _stale_temp(entry: os.DirEntry[str], now: float) -> bool:
    """A backup's temp file that no backup is writing any more: left by a power cut
    or a kill mid-write (a running backup writes its temp file all the time). One
    gone since the listing (another backup's, renamed to its backup) is not."""
    target = temp_target(entry.name)
    if target is None or _BACKUP_NAME.fullmatch(target) is None:
        return False
    try:
        return (
            entry.is_file(follow_symlinks=False)
            and now - entry.stat(follow_symlinks=False).st_mtime > _STALE_TEMP_S
        )
    except FileNotFoundError:
        return False


def _rotate(backup_dir: Path, keep: int, new: Path) -> tuple[int, int]:
    """Remove the oldest backups (by the time in their names) beyond `keep`, counting
    the new one, which is always kept: a clock set back (a Pi without a clock, before
    NTP) must not make today's backup the first one removed. Only regular files named
    as a backup names them, and a backup's temp files untouched for a day; returns
    how many of each were removed."""
    now = time.time()
    with os.scandir(backup_dir) as entries:
        found = list(entries)
    older = sorted(
        (
            entry.name
            for entry in found
            if _BACKUP_NAME.fullmatch(entry.name)
            and entry.name != new.name
            and entry.is_file(follow_symlinks=False)
        ),
        key=_backup_order,
    )
    beyond = older[: max(0, len(older) - (keep - 1))]
    stale = [entry.name for entry in found if _stale_temp(entry, now)]
    removed = sum(_remove_old(backup_dir / name, new) for name in beyond)
    return removed, sum(_remove_old(backup_dir / name, new) for name in stale)


def _remove_old(path: Path, new: Path) -> bool:
    try:
        path.unlink()
    except FileNotFoundError:
        return False  # removed meanwhile (another backup's rotation)
    except OSError as exc:
        raise _Failure(
            f"wrote {new}, but cannot remove {path}: {exc.strerror}", EXIT_DATA
        ) from exc
    return True


def _backup(args: argparse.Namespace) -> int:
    started = time.monotonic()
    backup_dir = _backup_dir(args.to, args.data_dir)
    store = _open_readonly(args.data_dir)
    try:
        tables = tuple(
            t for t in DATA_TABLES if not (args.no_history and t is Table.HISTORY)
        )
        path, count = _write_backup(store, backup_dir, tables)
    finally:
        store.close()
    size = _read_back(path, count)
    removed, stale = _rotate(backup_dir, args.keep, path)
    partial = f" and {stale} partial (a backup cut short)" if stale else ""
    with _stdout_errors():
        _report(
            f"backup {path}: {count} records, {size} bytes, checked;"
            f" {removed} old{partial} removed",
            started,
            sys.stdout,
        )
    return EXIT_OK


def _at_least_one(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def _add_live_commands(subparsers: Any) -> None:
    try:
        live = importlib.import_module("raspy.cli.kv_live")
    except ModuleNotFoundError as exc:
        if exc.name != "raspy.cli.kv_live":
            raise
        return
    live.add_live_commands(subparsers)


def _build_parser() -> argparse.ArgumentParser:
    parser = _ArgumentParser(
        prog="raspy-kv",
        description="Dump, restore, check and back up a raspy store (offline or live).",
    )
    parser.add_argument("--version", action="version", version=version_line("raspy-kv"))
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    names = [t.value for t in DATA_TABLES]

    dump = commands.add_parser("dump", help="write the store as text (works live)")
    dump.add_argument("--data-dir", required=True, help="the store's directory")
    dump.add_argument("-o", "--output", metavar="FILE", help="default: stdout")
    dump.add_argument(
        "--db",
        nargs="+",
        action="extend",
        choices=names,
        metavar="NAME",
        help="only these",
    )
    dump.set_defaults(run=_dump)

    restore = commands.add_parser("restore", help="write a dump back, all or nothing")
    restore.add_argument("--data-dir", required=True, help="the store's directory")
    restore.add_argument("file", metavar="FILE", help="a file written by dump")
    restore.add_argument(
        "--replace", action="store_true", help="first empty the dbs the dump holds"
    )
    restore.add_argument(
        "--ignore-checksum", action="store_true", help="accept a hand-edited dump"
    )
    restore.add_argument(
        "--config",
        metavar="FILE",
        help="raspyd's config: its [store] limits (max_value_bytes, map size) apply",
    )
    restore.set_defaults(run=_restore)

    check = commands.add_parser("check", help="verify every record (works live)")
    check.add_argument("--data-dir", required=True, help="the store's directory")
    check.set_defaults(run=_check)

    backup = commands.add_parser(
        "backup", help="a dated, checked dump into a directory; keeps the last N"
    )
    backup.add_argument("--data-dir", required=True, help="the store's directory")
    backup.add_argument(
        "--to",
        required=True,
        metavar="BACKUP_DIR",
        help="an existing directory outside the data dir (a USB stick, a NAS mount)",
    )
    backup.add_argument(
        "--keep",
        type=_at_least_one,
        default=_KEEP,
        metavar="N",
        help=f"raspy-*.dump files kept, the new one included (default {_KEEP})",
    )
    backup.add_argument(
        "--no-history",
        action="store_true",
        help="leave out the recorded values (the bulk of a store after years: "
        "~10 MB a logged sensor); for a backup on the SD card",
    )
    backup.set_defaults(run=_backup)

    _add_live_commands(commands)
    return parser


def run(argv: list[str] | None = None) -> int:
    """The command without logging setup (for tests); returns the exit status."""
    try:
        args = _build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse: usage error (2) or --help (0)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    command: Callable[[argparse.Namespace], int] = args.run
    try:
        return command(args)
    except KeyboardInterrupt:
        print("raspy-kv: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except _Failure as exc:
        print(f"raspy-kv: {exc}", file=sys.stderr)
        return exc.status
    except StoreError as exc:
        print(f"raspy-kv: {exc}", file=sys.stderr)
        return EXIT_DATA
    except BrokenPipeError:  # e.g. `raspy-kv dump ... | head`: the reader left
        reader_left()
        return EXIT_DATA


def main(argv: list[str] | None = None) -> int:
    """Entry point: warnings and errors are logged to stderr, results are printed."""
    log_mod.configure("error")  # client retries: one line at the end, not warnings
    return guarded("raspy-kv", lambda: run(argv))


if __name__ == "__main__":
    raise SystemExit(main())
