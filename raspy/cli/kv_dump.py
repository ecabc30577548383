"""raspy-kv dump: the tables of a store, from one read txn, as a dump to stdout or a
file (mode 0600, written under a temp name, synced, renamed); backup writes its
dated dumps the same way."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from raspy.atomic_file import atomic_writer, is_special
from raspy.cli import EXIT_OK, output_status
from raspy.cli.kv_store import (
    STDIO,
    Failure,
    Progress,
    open_readonly,
    records,
    report,
    stdout_errors,
)
from raspy.storage.dump import DumpWriter, Header, Record
from raspy.storage.store import Store
from raspy.storage.tables import DATA_TABLES, Table


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
    with store.read_view() as view:
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
    started = time.monotonic()
    tables = tuple(t for t in DATA_TABLES if not args.db or t.value in args.db)
    store = open_readonly(args.data_dir)
    try:
        count = write_dump(store, tables, args.output, datetime.now(UTC))
    finally:
        store.close()
    report(f"dumped {count} records from {len(tables)} dbs", started, sys.stderr)
    return EXIT_OK
