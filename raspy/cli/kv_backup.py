"""raspy-kv backup: a dated dump into a backup dir outside the data dir, read back
from the disk and checked before it counts, then the oldest of its kind beyond --keep
removed (only files named as a backup of that kind is, and its temp files left by a
cut). A full backup and a --no-history one are named apart and rotate apart: a small
nightly one on the SD card and a weekly full one in the same dir keep each other. One
that restore refuses as it stands is named apart too (REFUSED), and removes no whole
one."""

from __future__ import annotations

import argparse
import errno
import fcntl
import itertools
import os
import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from raspy.atomic_file import fsync_directory, temp_target
from raspy.cli import EXIT_OK, EXIT_USAGE, kv_drop, kv_dump
from raspy.cli.kv_dump import Written, inside_data_dir, say_refused, write_dump
from raspy.cli.kv_lines import EXIT_DATA, Failure, command_prog, stdout_errors
from raspy.cli.kv_store import ended_as_ctrl_c, open_readonly, report
from raspy.errors import DumpFormatError, DumpTooNewError
from raspy.storage.dump import DumpReader, record_line_number
from raspy.storage.store import Store
from raspy.storage.tables import DATA_TABLES, Table

_PROG: Final = command_prog("backup")
# a dump's header line is far shorter: a longer first line is no backup's
_HEADER_MAX_BYTES: Final = 64 * 1024

# the kinds of backup, as their names end: all the tables, or all but the history
FULL: Final = ""
NO_HISTORY: Final = "-nohistory"
# raspy-<UTC time>[-N][-nohistory][-refused].dump, N from 2 for a second backup of
# the kind in the same second, -refused for one holding a record restore refuses:
# the only names a backup writes, and the only ones its rotation removes (of its
# own kind). An older raspy-kv named --no-history backups as full ones: for such a
# name the header's dbs tell the kind (_kind_in)
_BACKUP_NAME: Final = re.compile(
    r"raspy-(\d{8}T\d{6}Z)(?:-([2-9]|[1-9]\d{1,8}))?(-nohistory)?(-refused)?\.dump"
)
# the name's mark of a backup that does not restore as it stands
REFUSED: Final = "-refused"


def _backup_name(stamp: str, number: int, kind: str) -> str:
    numbered = "" if number == 1 else f"-{number}"
    return f"raspy-{stamp}{numbered}{kind}.dump"


def _refused(name: str) -> bool:
    """Whether `name` is a backup's holding records restore refuses."""
    match = _BACKUP_NAME.fullmatch(name)
    return match is not None and match.group(4) is not None


def _refused_name(path: Path) -> Path:
    """The name of the backup `path` marked as one restore refuses."""
    return path.with_name(path.name.removesuffix(".dump") + f"{REFUSED}.dump")


def _marked_refused(path: Path) -> Path | None:
    """The new backup `path`, which restore refuses as it stands, renamed with
    REFUSED (durably), so that the rotation keeps the whole ones apart from it;
    None (it keeps its name, and nothing is rotated) if that cannot be done."""
    marked = _refused_name(path)
    try:
        if os.path.lexists(marked):
            return None
        os.rename(path, marked)
    except OSError:
        return None
    with suppress(OSError):  # renamed: a rename not yet durable is still its name
        fsync_directory(path.parent)
    return marked


def _judged_refused(backup_dir: Path, names: list[str]) -> dict[str, str]:
    """Of the older backups `names`, those named as whole ones though they hold a
    record restore refuses (an older raspy-kv named them so, and removed none),
    each with why: the rotation of a whole new one removes them as it removes the
    REFUSED ones, instead of counting them among --keep and removing the older
    whole ones in their stead. Only the dbs before the history are judged (the
    history comes last and is the bulk of a file: judging it too would cost a Pi
    about half the reading again each night, and what an older restore let in was
    a kv key); a file that does not read is the recheck's to say."""
    found = {}
    for name in names:
        if not _refused(name) and (why := first_refused(backup_dir / name)):
            found[name] = why
    return found


def first_refused(path: Path) -> str | None:
    """The first record before the history db of the backup `path` that restore
    refuses, as restore names it; None for none (or a file that does not read)."""
    try:
        with path.open("rb") as handle:
            reader = DumpReader(handle, unique=False)
            for record in reader.records():
                if record.table is Table.HISTORY:
                    return None
                why = kv_drop.refusal(record.table, record.key, record.value)
                if why is not None:
                    return f"line {record_line_number(reader.count - 1)}: {why}"
    except (DumpFormatError, OSError):
        return None
    return None


def _kind_of(name: str) -> str | None:
    """The kind of backup `name` is named as (FULL, NO_HISTORY), None for none."""
    match = _BACKUP_NAME.fullmatch(name)
    if match is None:
        return None
    return NO_HISTORY if match.group(3) else FULL


def _kind_in(path: Path, named: str) -> str:
    """The kind of the backup (or temp file of one) at `path`, named as of kind
    `named`. A full one's name may hold a --no-history backup an older raspy-kv
    wrote: its header's dbs decide (no history: NO_HISTORY), else the name does (a
    header that cannot be read: the check of the older backups says so)."""
    if named != FULL:
        return named
    try:
        with path.open("rb") as handle:
            line = handle.readline(_HEADER_MAX_BYTES)
        header = DumpReader([line]).header
    except (DumpFormatError, OSError):
        return named
    return FULL if Table.HISTORY in header.tables else NO_HISTORY


def _backup_dir(name: str, data_dir: str) -> Path:
    """The backup dir: there already (never made: an unmounted USB stick leaves an
    empty mount point on the card) and outside the data dir (lost with the store)."""
    path = Path(name)
    if not path.is_dir():
        what = "is not a directory" if path.exists() else "does not exist"
        raise Failure(
            f"backup dir {name} {what}; it is not created (a USB stick or share"
            " that is not mounted must not fill the SD card): mount or make it",
            EXIT_USAGE,
        )
    if inside_data_dir(path, data_dir):
        raise Failure(
            f"backup dir {name} is inside the data dir {data_dir}: a backup must"
            " survive the loss of the store; choose a directory outside it",
            EXIT_USAGE,
        )
    return path


@contextmanager
def _one_at_a_time(backup_dir: Path) -> Iterator[None]:
    """The backup dir's lock (flock on the dir) for the whole run: two backups at
    once (the timer's and one by hand) each removed the oldest beyond --keep as they
    counted them, leaving fewer, and one could name a file the other had removed.
    A second one waits for the first rather than fails: both backups are then
    written, checked and counted, and a nightly run never fails for a hand's. A
    file system without locks (some network shares) goes on without it."""
    try:
        fd = os.open(backup_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise Failure(
            f"cannot open backup dir {backup_dir}: {exc.strerror}", EXIT_USAGE
        ) from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(
                f"{_PROG}: another backup is writing into {backup_dir};"
                " waiting for it to end",
                file=sys.stderr,
                flush=True,
            )
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError as exc:
            if exc.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL):
                raise Failure(
                    f"cannot lock backup dir {backup_dir}: {exc.strerror}", EXIT_DATA
                ) from exc
        yield
    finally:
        os.close(fd)  # the lock goes with it


def _write_backup(
    store: Store, backup_dir: Path, tables: tuple[Table, ...], kind: str
) -> tuple[Path, Written]:
    """The tables of the store as a new dated dump in backup_dir; a name taken
    already (even while this one was written) gets the next number, nothing is
    replaced."""
    now = datetime.now(UTC)
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    for number in itertools.count(1):
        path = backup_dir / _backup_name(stamp, number, kind)
        if os.path.lexists(path) or os.path.lexists(_refused_name(path)):
            continue  # a name taken, also by a backup marked REFUSED since
        try:
            return path, write_dump(store, tables, str(path), now, replace=False)
        except FileExistsError:
            continue  # taken while it was written: the store again, under the next
    raise AssertionError("unreachable")  # itertools.count never ends


def read_back(path: Path, count: int) -> int:
    """Read the new backup back whole, from the device rather than the page cache
    where the kernel allows, and check it as restore does before it writes (every
    line, the end line's count and checksum); returns its size. A file that does not
    check is removed."""
    try:
        read, size = read_whole(path)
        if read != count:
            raise DumpFormatError(
                record_line_number(read),
                f"end line counts {read} records, {count} were written",
            )
        return size
    except (DumpFormatError, OSError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else str(exc)
        try:
            path.unlink(missing_ok=True)
            done = "removed it"
        except OSError as again:
            done = f"it could not be removed ({again.strerror}): remove it"
        raise Failure(
            f"{path} does not read back as written ({why}); {done}, and kept the"
            " older backups. The disk of the backup dir may be failing",
            EXIT_DATA,
        ) from exc


def read_whole(path: Path) -> tuple[int, int]:
    """Read a backup whole, from the device rather than the page cache where the
    kernel allows, and check it as restore does before it writes (every line, the
    end line's count and checksum); its record count and size. Raises
    DumpFormatError (DumpTooNewError for a newer raspy-kv's) or OSError."""
    with path.open("rb") as handle:
        # its pages are clean (fsynced): dropped, the reads go to the disk (a file
        # system without this: the check reads the page cache)
        with suppress(OSError):
            os.posix_fadvise(handle.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
        reader = DumpReader(handle, unique=False)  # bounded memory, same checksum
        for _ in reader.records():
            pass
        return reader.count, os.fstat(handle.fileno()).st_size


@dataclass
class Recheck:
    """What reading the older backups again found: how many were read, a line for
    each that no longer reads back (decay: the run fails), and one for each that
    could not be judged (a newer raspy-kv's format, a file this user cannot read:
    said, not failed, since nothing shows that it decayed)."""

    read: int = 0
    spoiled: list[str] = field(default_factory=list)
    unjudged: list[str] = field(default_factory=list)


def recheck(backup_dir: Path, new: Path) -> Recheck:
    """Read the kept backups (of either kind) but `new` back as a whole (every line,
    the end line's count and checksum): an SD card or a USB stick that decays spoils them in
    silence, and the day one is needed is too late to find out. Each spoiled one is
    said, and kept: it may still restore up to its bad line."""
    found = Recheck()
    for name in sorted(_backups(backup_dir, new), key=_backup_order):
        path = backup_dir / name
        try:
            read_whole(path)
        except FileNotFoundError:
            continue  # removed meanwhile (another backup's rotation)
        except (DumpTooNewError, PermissionError) as exc:
            why = exc.strerror if isinstance(exc, OSError) else str(exc)
            found.unjudged.append(f"older backup {path} not checked ({why})")
            continue
        except (DumpFormatError, OSError) as exc:
            why = exc.strerror if isinstance(exc, OSError) else str(exc)
            found.spoiled.append(f"older backup {path} no longer reads back ({why})")
        found.read += 1
    return found


def _backups(backup_dir: Path, new: Path, kind: str | None = None) -> list[str]:
    """The names of the backups in backup_dir but `new` (regular files named as a
    backup names them), of `kind` only if it is given (see _kind_in)."""
    with os.scandir(backup_dir) as entries:
        return [
            entry.name
            for entry in entries
            if (named := _kind_of(entry.name)) is not None
            and entry.name != new.name
            and entry.is_file(follow_symlinks=False)
            and (kind is None or _kind_in(Path(entry.path), named) == kind)
        ]


def _backup_order(name: str) -> tuple[str, int]:
    match = _BACKUP_NAME.fullmatch(name)
    assert match is not None
    return match.group(1), int(match.group(2) or 1)


def stale_temp(entry: os.DirEntry[str], now: float, kind: str) -> bool:
    """The temp file of a backup of `kind` that no backup is writing any more
    (kv_dump.stale_temp)."""
    named = _kind_of(temp_target(entry.name) or "")
    return (
        named is not None
        and kv_dump.stale_temp(entry, now, lambda _target: True)  # its name: above
        and _kind_in(Path(entry.path), named) == kind
    )


@dataclass
class Rotated:
    """What a rotation removed: old backups, temp files of backups cut short, and
    of the old ones those named whole that restore refuses, each with why."""

    removed: int = 0
    stale: int = 0
    judged: dict[str, str] = field(default_factory=dict)


def _rotate(backup_dir: Path, keep: int, new: Path) -> Rotated:
    """Remove the oldest whole backups of the new one's kind (by the time in their
    names) beyond `keep`, counting the new one, which is always kept: a clock set
    back (a Pi without a clock, before NTP) must not make today's backup the first
    one removed. A whole new one removes too every backup of its kind that restore
    refuses (REFUSED, or named whole by an older raspy-kv: _judged_refused): it is
    the newer; a new one that restore refuses removes no whole one (they may
    restore as they stand), only the older REFUSED ones, so a store holding such a
    record keeps `keep` whole backups and one more, not a new file a night until
    the disk is full. Only regular files named as a backup of the kind is, and the
    temp files of such backups untouched for a day."""
    now = time.time()
    kind = _kind_of(new.name)
    assert kind is not None  # named by _backup_name
    older = sorted(_backups(backup_dir, new, kind), key=_backup_order)
    judged = {} if _refused(new.name) else _judged_refused(backup_dir, older)
    refused = [name for name in older if _refused(name) or name in judged]
    whole = [name for name in older if name not in refused]
    if _refused(new.name):
        beyond = refused
    else:
        beyond = refused + whole[: max(0, len(whole) - (keep - 1))]
    with os.scandir(backup_dir) as entries:
        stale = [entry.name for entry in entries if stale_temp(entry, now, kind)]
    return Rotated(
        sum(_remove_old(backup_dir / name, new) for name in beyond),
        sum(_remove_old(backup_dir / name, new) for name in stale),
        judged,
    )


def _remove_old(path: Path, new: Path) -> bool:
    try:
        path.unlink()
    except FileNotFoundError:
        return False  # removed meanwhile (another backup's rotation)
    except OSError as exc:
        raise Failure(
            f"wrote {new}, but cannot remove {path}: {exc.strerror}", EXIT_DATA
        ) from exc
    return True


def backup(args: argparse.Namespace) -> int:
    with ended_as_ctrl_c():  # a kill mid-write leaves no temp file
        return _backup(args)


def _backup(args: argparse.Namespace) -> int:
    started = time.monotonic()
    backup_dir = _backup_dir(args.to, args.data_dir)
    with _one_at_a_time(backup_dir):
        store = open_readonly(args.data_dir)
        try:
            tables = tuple(
                t for t in DATA_TABLES if not (args.no_history and t is Table.HISTORY)
            )
            kind = NO_HISTORY if args.no_history else FULL
            path, written = _write_backup(store, backup_dir, tables, kind)
        finally:
            store.close()
        count = written.count
        size = read_back(path, count)
        marked = _marked_refused(path) if written.refused else path
        # one that restore refuses removes no whole one (_rotate); unmarked, none
        rotated = (
            Rotated() if marked is None else _rotate(backup_dir, args.keep, marked)
        )
        path = marked or path
        rechecked = recheck(backup_dir, path)
    stale = rotated.stale
    partial = f" and {stale} partial (a backup cut short)" if stale else ""
    spoiled = len(rechecked.spoiled)
    verb = "reads" if spoiled == 1 else "read"
    bad = f", {spoiled} of them no longer {verb} back" if spoiled else ""
    unjudged = f", {len(rechecked.unjudged)} not checked" if rechecked.unjudged else ""
    with stdout_errors():
        report(
            "backup",
            f"{path}: {count} records, {size} bytes, checked; {rotated.removed} old"
            f"{partial} removed; {rechecked.read} older checked again{bad}{unjudged}",
            started,
            sys.stdout,
        )
    for name, why in sorted(rotated.judged.items()):
        print(
            f"{_PROG}: older backup {backup_dir / name} did not restore as it stood"
            f" ({why}): removed with the -refused ones, as the new one is whole",
            file=sys.stderr,
        )
    for line in rechecked.unjudged:
        print(f"{_PROG}: {line}", file=sys.stderr)
    if written.refused:
        say_refused("backup", str(path), written, args.data_dir)
        print(
            f"{_PROG}: no older whole backup was removed (--keep waits for a backup"
            " that restores as it stands): they may restore as they stand"
            + (
                f"; this one is named {REFUSED} and replaces the older such ones"
                if _refused(path.name)
                else ""
            ),
            file=sys.stderr,
        )
    if not rechecked.spoiled:
        return EXIT_DATA if written.refused else EXIT_OK
    for problem in rechecked.spoiled:
        print(f"{_PROG}: {problem}", file=sys.stderr)
    print(
        f"{_PROG}: the new backup is good; the disk of the backup dir may be"
        " failing: copy the backups elsewhere and check it",
        file=sys.stderr,
    )
    return EXIT_DATA
