"""raspy-kv dump: the tables of a store, from one read txn, as a dump to stdout or a
file (mode 0600, written under a temp name, synced, renamed); backup writes its
dated dumps the same way. A record that a restore would refuse is written as it is,
and named: the dump is then no backup that restores as it stands (status 1)."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Final

from raspy.atomic_file import atomic_writer, is_special, temp_target
from raspy.cli import (
    EXIT_OK,
    EXIT_USAGE,
    closed_stdout,
    nowhere_to_go,
    output_status,
)
from raspy.cli.kv_drop import drop_command, refusal
from raspy.cli.kv_lines import (
    EXIT_DATA,
    STDIO,
    Failure,
    command_prog,
    stdout_errors,
)
from raspy.cli.kv_store import (
    Progress,
    ended_as_ctrl_c,
    open_readonly,
    records,
    report,
)
from raspy.records import frozen
from raspy.storage.dump import DumpWriter, Header, Record, record_line_number
from raspy.storage.store import Store
from raspy.storage.tables import DATA_TABLES, Table

# a dump's temp file untouched this long was left by a dump cut short (a running
# one writes it all the time)
STALE_TEMP_S: Final = 24 * 3600.0
# the records a restore would refuse that a dump names one by one; the rest counted
_REFUSED_SHOWN: Final = 5


@frozen
class Written:
    """What write_dump wrote: its records, and those of them a restore refuses
    (`refused`, the first few as `line N: db 'key': why`, as restore names them;
    the first's db and key, for its `check --drop` command)."""

    count: int
    refused: int = 0
    shown: tuple[str, ...] = ()
    first: tuple[Table, bytes] | None = None


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
        if sys.stdout is None:  # closed by the caller (`>&-`): Python leaves it None
            raise Failure(closed_stdout(nowhere_to_go("the dump")), EXIT_USAGE)
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
) -> Written:
    """The tables of the store, from one read txn, as a dump to `output` (stdout if
    None or `-`), its header made at `now`. Each record is checked as a restore
    checks it: one the store holds though a restore refuses it (a kv key that is a
    Clone command, left by an older restore; a record damaged on the card) is
    written as it is, and counted, so that the dump is not taken for a backup that
    restores."""
    refused = 0
    shown: list[str] = []  # the first few refusals, as restore says them
    first: tuple[Table, bytes] | None = None
    with store.walked_view() as view:
        created = now.strftime("%Y-%m-%dT%H:%M:%SZ")
        writer = DumpWriter(Header(store.schema_version, created, tables))
        progress = Progress("dump", sum(view.count(t) for t in tables))
        with _output(output, replace=replace) as out:
            out.write(writer.header_line())
            for table in tables:
                for key, value in records(view, table):
                    out.write(writer.record_line(Record(table, key, value)))
                    why = refusal(table, key, value)
                    if why is not None:
                        refused += 1
                        first = first or (table, key)
                        if len(shown) < _REFUSED_SHOWN:
                            line = record_line_number(writer.count - 1)
                            shown.append(f"line {line}: {why}")
                    progress.step()
            out.write(writer.end_line())
        progress.close()
    return Written(writer.count, refused, tuple(shown), first)


def say_refused(command: str, name: str, written: Written, data_dir: str) -> None:
    """The records of the dump `name` that a restore refuses, on stderr: the first
    few as restore names them, then what they mean and how such a dump restores."""
    prog = command_prog(command)
    for line in written.shown:
        print(f"{prog}: {name} {line}", file=sys.stderr)
    more = written.refused - len(written.shown)
    one = written.refused == 1
    noun, them, their = (
        ("record", "it", "its line") if one else ("records", "them", "their lines")
    )
    unshown = f" ({more} more not shown)" if more else ""
    # where the others' commands are: check prints each record's own
    each = "" if one else ", then the others: each line of that check ends with its own"
    assert written.first is not None  # refused: the first is named
    check = f"raspy-kv check --data-dir {shlex.quote(data_dir)}"
    print(
        f"{prog}: {name} holds {written.refused} {noun} that raspy-kv restore"
        f" refuses{unshown}, as the store holds"
        f" {them} (`{check}` lists {them}): it does not"
        f" restore as it stands; take {their} out, lower the end line's record"
        " count by as many, and restore it with --ignore-checksum. For whole"
        f" dumps again, stop raspyd and drop {them} from the store:"
        f" `{drop_command(data_dir, *written.first)}`{each}",
        file=sys.stderr,
    )


def dump(args: argparse.Namespace) -> int:
    with ended_as_ctrl_c():  # a kill mid-write leaves no temp file
        return _dump(args)


def _dump(args: argparse.Namespace) -> int:
    started = time.monotonic()
    tables = tuple(t for t in DATA_TABLES if not args.db or t.value in args.db)
    refuse_into_data_dir(args.output, args.data_dir)
    store = open_readonly(args.data_dir)
    try:
        written = write_dump(store, tables, args.output, datetime.now(UTC))
    finally:
        store.close()
    stale = 0
    if args.output not in (None, STDIO) and not is_special(args.output):
        stale = _remove_stale_temps(Path(args.output))
    partial = f"; {stale} partial (a dump cut short) removed" if stale else ""
    report(
        "dump",
        f"dumped {written.count} records from {len(tables)} dbs{partial}",
        started,
        sys.stderr,
    )
    if written.refused:
        shown = "stdout" if args.output in (None, STDIO) else args.output
        say_refused("dump", shown, written, args.data_dir)
        return EXIT_DATA
    return EXIT_OK
