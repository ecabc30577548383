"""raspy-kv dump: the tables of a store, from one read txn, as a dump to stdout or a
file (mode 0600, written under a temp name, synced, renamed); backup writes its
dated dumps the same way."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Final

from raspy.atomic_file import atomic_writer, is_special, temp_target
from raspy.cli import EXIT_OK, EXIT_USAGE, output_status
from raspy.cli.kv_lines import STDIO, Failure, stdout_errors
from raspy.cli.kv_store import (
    Progress,
    ended_as_ctrl_c,
    open_readonly,
    records,
    report,
)
from raspy.storage.dump import DumpWriter, Header, Record
from raspy.storage.store import Store
from raspy.storage.tables import DATA_TABLES, Table

# a dump's temp file untouched this long was left by a dump cut short (a running
# one writes it all the time)
STALE_TEMP_S: Final = 24 * 3600.0


def stale_temp(
    entry: os.DirEntry[str], now: float, target: Callable[[str], bool]
) -> bool:
    """The temp file of a dump into a file that `target` names, that no dump is
    writing any more (a power cut or a kill -9 mid-write left it). One gone since the
    listing (renamed to its dump) is not."""
    name = temp_target(entry.name)
    if name is None or not target(name):
        return False
    try:
        return (
            entry.is_file(follow_symlinks=False)
            and now - entry.stat(follow_symlinks=False).st_mtime > STALE_TEMP_S
        )
    except FileNotFoundError:
        return False


def _remove_stale_temps(output: Path) -> int:
    """The temp files of earlier dumps into `output` that were cut short, removed
    (one that cannot be is left: the dump itself is written); how many."""
    now, removed = time.time(), 0
    with os.scandir(output.parent) as entries:
        stale = [e.path for e in entries if stale_temp(e, now, output.name.__eq__)]
    for path in stale:
        try:
            os.unlink(path)
        except OSError:
            continue
        removed += 1
    return removed


def inside_data_dir(folder: str | Path, data_dir: str) -> bool:
    """Is `folder` (resolved) the data dir or a folder inside it?"""
    real, data = Path(folder).resolve(), Path(data_dir).resolve()
    return real == data or data in real.parents


def refuse_into_data_dir(output: str | None, data_dir: str) -> None:
    """A dump written into the data dir is refused: `-o DIR/data.mdb` renamed it over
    the live store (a running raspyd then wrote on into the unlinked file, and lost
    what it confirmed next), and a dump kept there is lost with the store. stdout
    and a special file (a pipe, /dev/stdout) are written into, never renamed."""
    if output is None or output == STDIO or is_special(output):
        return
    if inside_data_dir(Path(output).parent, data_dir):
        raise Failure(
            f"{output} is inside the data dir {data_dir}: a dump there could replace"
            " the store's own files and is lost with the store; write it outside",
            EXIT_USAGE,
        )


@contextmanager
def _output(name: str | None, *, replace: bool = True) -> Iterator[IO[bytes]]:
    """stdout (None, or `-` as Unix tools have it; `./-` is a file), or FILE (mode
    0600) written under a temp name, fsynced, then renamed. `replace=False`: a FILE that exists is kept, and FileExistsError raised. A FILE
    that is there and is no regular file (a pipe, `/dev/stdout`, a device) is
    written into: renamed over, a device node (as root) was replaced by a file."""
    if name is None or name == STDIO:
        with stdout_errors():
            yield sys.stdout.buffer
            sys.stdout.buffer.flush()
        return
    if is_special(name):
        try:
            with Path(name).open("wb") as out:
                yield out
        except OSError as exc:
            raise Failure(
                f"cannot write {name}: {exc.strerror}", output_status(exc)
            ) from exc
        return
    try:
        # the whole store: private, as the data dir it comes from is (0700)
        with atomic_writer(name, mode=0o600, replace=replace) as out:
            yield out
    except FileExistsError:
        raise  # the caller picks another name
    except OSError as exc:
        raise Failure(
            f"cannot write {name}: {exc.strerror}", output_status(exc)
        ) from exc


def write_dump(
    store: Store,
    tables: tuple[Table, ...],
    output: str | None,
    now: datetime,
    *,
    replace: bool = True,
) -> int:
    """The tables of the store, from one read txn, as a dump to `output` (stdout if
    None or `-`), its header made at `now`; returns the records written."""
    with store.walked_view() as view:
        created = now.strftime("%Y-%m-%dT%H:%M:%SZ")
        writer = DumpWriter(Header(store.schema_version, created, tables))
        progress = Progress("dump", sum(view.count(t) for t in tables))
        with _output(output, replace=replace) as out:
            out.write(writer.header_line())
            for table in tables:
                for key, value in records(view, table):
                    out.write(writer.record_line(Record(table, key, value)))
                    progress.step()
            out.write(writer.end_line())
        progress.close()
    return writer.count


def dump(args: argparse.Namespace) -> int:
    with ended_as_ctrl_c():  # a kill mid-write leaves no temp file
        return _dump(args)


def _dump(args: argparse.Namespace) -> int:
    started = time.monotonic()
    tables = tuple(t for t in DATA_TABLES if not args.db or t.value in args.db)
    refuse_into_data_dir(args.output, args.data_dir)
    store = open_readonly(args.data_dir)
    try:
        count = write_dump(store, tables, args.output, datetime.now(UTC))
    finally:
        store.close()
    stale = 0
    if args.output not in (None, STDIO) and not is_special(args.output):
        stale = _remove_stale_temps(Path(args.output))
    partial = f"; {stale} partial (a dump cut short) removed" if stale else ""
    report(
        "dump",
        f"dumped {count} records from {len(tables)} dbs{partial}",
        started,
        sys.stderr,
    )
    return EXIT_OK
