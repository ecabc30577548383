"""Checks a store must pass before LMDB maps it, and before anything writes to it.

- The data file against its meta pages (storage.lmdb_meta), read with pread, never
  mapped: a truncated or overwritten file is named, never a SIGBUS.
- Every page of every tree (storage.lmdb_file), when no other process writes the file.
- A data dir that held a store (its marker file is there) whose data file is gone or
  empty is refused, unless the caller asks for a new store (raspyd --init).
- Every record decodes as its table says (a read-only pass, before any write).
Every refusal raises StoreDamagedError and leaves the file byte for byte as it was.
"""

from __future__ import annotations

import os
import stat
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

import structlog

from raspy.atomic_file import fsync_directory, write_atomic
from raspy.errors import StoreDamagedError, StoreError, quote
from raspy.records import frozen
from raspy.storage import lmdb_file, lmdb_meta, write_errors
from raspy.storage.check import validate_record
from raspy.storage.tables import Table

log = structlog.get_logger(component="store")

DATA_FILE: Final = "data.mdb"
LMDB_LOCK_FILE: Final = "lock.mdb"
MARKER_FILE: Final = "raspy.store"
_MARKER_TEXT: Final = (
    "This data dir holds a raspy store (data.mdb). raspyd refuses to start without\n"
    "it; restore a dump with `raspy-kv restore`, or pass `raspyd --init` to begin\n"
    "with an empty store.\n"
)

# How long a reader waits for a writer that is making the store (raspyd's first
# start, --init, a restore where it was lost) to write LMDB's meta pages.
MADE_WAIT_S: Final = 5.0
_PAUSE: Final = threading.Event()  # never set: the pause between two looks

RecordSource = Callable[[Table], Iterator[tuple[bytes, bytes]]]
# called as a long check goes on, often (raspyd's start: it asks systemd for more
# time, itself at most every few seconds)
Progress = Callable[[], None]
PROGRESS_EVERY: Final = 1000  # records between two calls of a record check's


def no_progress() -> None:
    """The Progress of a check nobody waits on."""


WriterPresent = Callable[[], bool]


def advice(data_dir: Path) -> str:
    """What helps, for the end of a refusal's one line: docs/recovery.md's "What to
    do", as commands. raspyd and every raspy-kv command say it, `check` among them:
    it never sends the user to a command that says the same line again."""
    return (
        f"keep it and restore the newest backup of it: `mv {data_dir} {data_dir}.damaged`,"
        f" then `raspy-kv restore --data-dir {data_dir} FILE` (docs/recovery.md)"
    )


def held_a_store(data_dir: Path) -> bool:
    """Did a store live here (our marker, or LMDB's own lock file)?"""
    return (data_dir / MARKER_FILE).exists() or (data_dir / LMDB_LOCK_FILE).exists()


def data_file_absent(data_dir: Path) -> bool:
    """No data file, or an empty one: LMDB would quietly start a new store. A data
    file that is a FIFO, a device or a socket (its size 0 too) raises
    StoreDamagedError: taken for an empty one, a restore or --init hung on it, or
    wrote into the device."""
    path = data_dir / DATA_FILE
    try:
        found = path.stat()
    except (FileNotFoundError, NotADirectoryError):  # the data dir may be a file
        return True
    kind = _special_kind(found.st_mode)
    if kind is not None:
        raise StoreDamagedError(
            f"{path} is {kind}, not a file: no store is in it, and none can be"
            f" written into it; move it aside, then restore a dump with `raspy-kv"
            f" restore --data-dir {data_dir} FILE`"
        )
    return found.st_size == 0


def _special_kind(mode: int) -> str | None:
    """What a file of `mode` is if it is a FIFO, a device or a socket, else None."""
    kinds = (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    )
    return next((name for test, name in kinds if test(mode)), None)


def refuse_lost_store(data_dir: Path, *, init: bool) -> None:
    """A data dir that held a store but whose data file is gone or empty: refused
    unless `init` (the user asked for a new, empty store)."""
    if init or not data_file_absent(data_dir) or not held_a_store(data_dir):
        return
    path = data_dir / DATA_FILE
    what = "is empty (0 bytes)" if path.exists() else "is missing"
    raise StoreDamagedError(
        f"{path} {what}, but {data_dir} held a store ({MARKER_FILE} or "
        f"{LMDB_LOCK_FILE} is there): restore a dump with `raspy-kv restore "
        f"--data-dir {data_dir} FILE`, or start raspyd with --init for an empty store"
    )


def discard_data_file(data_dir: Path, *, lock_file: bool = False) -> None:
    """Remove the data file that a writer made in this open and could not fill (a
    failed `raspyd --init` or `raspy-kv restore`): an empty store left behind would
    pass for the lost one. With `lock_file`, LMDB's lock file too (this open made
    it, in a data dir that never held a store: left behind, it would pass for the
    sign of a lost one). Call it while holding the data dir's lock."""
    (data_dir / DATA_FILE).unlink(missing_ok=True)
    if lock_file:
        (data_dir / LMDB_LOCK_FILE).unlink(missing_ok=True)
    fsync_directory(data_dir)


def write_marker(data_dir: Path) -> None:
    """Mark the data dir as holding a store (written all or nothing)."""
    marker = data_dir / MARKER_FILE
    if marker.exists():
        return
    try:
        write_atomic(marker, _MARKER_TEXT.encode(), mode=0o600)
    except OSError as exc:
        write_errors.raise_if_no_room(data_dir, f"writing {MARKER_FILE}", exc)
        raise


@contextmanager
def _checking(data_dir: Path) -> Iterator[int]:
    """data_dir's data file open for reading; a damaged page found inside raised
    naming the file, with the advice, and a failed read as "cannot read"."""
    path = data_dir / DATA_FILE
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        yield fd
    except StoreDamagedError as exc:
        raise StoreDamagedError(f"{path}: {exc}; {advice(data_dir)}") from None
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc.strerror}") from exc
    finally:
        os.close(fd)


def check_data_file(
    data_dir: Path, *, deep: bool, progress: Progress = no_progress
) -> lmdb_meta.Meta | None:
    """The current meta page of data_dir's data file (None: no file, or empty).

    Raises StoreDamagedError naming the file and what is wrong. `deep` walks every
    page too: only when no other process writes the file (it would change under us);
    `progress` is called at each page it reads (raspyd's start: systemd is asked for
    more time while a big store is walked).
    """
    if data_file_absent(data_dir):
        return None
    with _checking(data_dir) as fd:
        size = os.fstat(fd).st_size
        head = os.pread(fd, lmdb_meta.META_BYTES, 0)
        meta = lmdb_meta.current_meta(head, lambda at, n: os.pread(fd, n, at))
        lmdb_meta.check_length(meta, size)
        if deep:
            _walk(fd, meta, progress=progress)
    return meta


def _walk(
    fd: int,
    meta: lmdb_meta.Meta,
    trees: frozenset[bytes] | None = None,
    progress: Progress = no_progress,
) -> None:
    page = meta.page_bytes
    # no readahead (this fd only): the walk reads each page once. The pages it reads
    # stay cached: the record check and the services' loads read them next (dropping
    # them doubled the disk reads at start-up, docs/PERFORMANCE.md "Issue 15: the
    # page walk's cache")
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)

    def read_page(number: int, count: int) -> bytes:
        progress()
        return os.pread(fd, count * page, number * page)

    lmdb_file.walk(meta, read_page, trees=trees)


def walk_pinned(
    data_dir: Path, txnid: int, trees: frozenset[bytes] | None = None
) -> bool:
    """Every page of the snapshot that a reader's open read txn `txnid` pinned,
    walked beside a writer, before any cursor of that txn runs: LMDB asserts (the
    process aborts) on a damaged page a cursor meets. Safe while a writer commits:
    LMDB reuses a page only once it was freed by a txn older than the oldest reader
    slot's txn (mdb_find_oldest), and a page of snapshot `txnid` is freed only by a
    later txn; the writer writes new pages past the snapshot's last page, or free
    pages no snapshot at or after `txnid` can reach. So while the reader holds its
    slot, the pages walked are the pages its cursors read. `trees`: only the main
    tree and these named ones (lmdb_file.Walker), for a txn that reads no other.

    Returns False when neither meta page holds txn `txnid` any more (the writer
    committed twice since it was pinned, overwriting its meta page, or is writing a
    meta page now): take a new read txn and walk again. StoreDamagedError as
    check_data_file raises it."""
    with _checking(data_dir) as fd:
        meta = _pinned_meta(fd, txnid)
        if meta is None:
            return False
        lmdb_meta.check_length(meta, os.fstat(fd).st_size)
        _walk(fd, meta, trees)
    return True


PIN_TRIES: Final = 5  # read txns a busy writer may overtake before a walk gives up


def overtaken(data_dir: Path) -> StoreError:
    """walk_pinned found no meta page of its txn PIN_TRIES times in a row."""
    return StoreError(
        f"{data_dir / DATA_FILE} was written {PIN_TRIES} times while its pages were"
        " being checked (a busy raspyd); try again"
    )


def _pinned_meta(fd: int, txnid: int) -> lmdb_meta.Meta | None:
    """The meta page of txn `txnid`, or None: its slot now holds a later txn. A meta
    page that does not parse is one the writer is writing (the open checked both)."""
    try:
        first = lmdb_meta.parse_meta(os.pread(fd, lmdb_meta.META_BYTES, 0), 0)
        if first.txnid == txnid:
            return first
        at = first.page_bytes
        second = lmdb_meta.parse_meta(os.pread(fd, lmdb_meta.META_BYTES, at), 1)
    except StoreDamagedError:
        return None
    return second if second.txnid == txnid else None


def _meta_readable(data_dir: Path) -> bool:
    if data_file_absent(data_dir):
        return False
    try:
        check_data_file(data_dir, deep=False)
    except StoreDamagedError:
        return False
    except StoreError:
        return True  # unreadable for another reason: the reader's own check says so
    return True


def wait_while_made(
    data_dir: Path, writer_present: WriterPresent, *, wait_s: float = MADE_WAIT_S
) -> None:
    """A reader (raspy-kv check, dump) that comes while a writer makes the store waits
    up to `wait_s` for its meta pages. LMDB makes lock.mdb first, then an empty
    data.mdb, then writes the meta pages: in between, a data dir that never lost
    anything looks like one whose data.mdb was lost (or is damaged)."""
    deadline = time.monotonic() + wait_s
    waiting = False
    while writer_present() and not _meta_readable(data_dir):
        if not waiting:
            waiting = True
            log.info("store_being_made", path=str(data_dir), wait_s=wait_s)
        if time.monotonic() >= deadline:
            return  # the reader's own checks say what is there
        _PAUSE.wait(0.02)


def check_for_reader(data_dir: Path, writer_present: WriterPresent) -> int | None:
    """check_data_file for a reader: every page is walked only when no writer is
    there. A writer that starts during the walk (raspyd) writes pages the walk then
    reads: damage found then is not trusted, and the file is checked again as beside
    a writer (its meta pages and length). Returns the txn whose snapshot was walked
    (None: none was, or a writer came): a reader that reads another snapshot walks
    it once its read txn pinned it (walk_pinned)."""
    writing = writer_present()
    try:
        meta = check_data_file(data_dir, deep=not writing)
    except StoreDamagedError:
        if writing or not writer_present():
            raise
        log.info("store_walk_overtaken", path=str(data_dir))
        check_data_file(data_dir, deep=False)
        return None
    if writing or meta is None or writer_present():
        return None
    return meta.txnid


def check_records(
    data_dir: Path, records: RecordSource, progress: Progress = no_progress
) -> None:
    """Every record decodes as its table says; the first that does not is named.
    `progress` is called every PROGRESS_EVERY records."""
    found = first_unreadable(data_dir, records, tuple(Table), progress)
    if found is not None:
        # raspyd names the first; check lists them all (the pages are sound: the
        # other dbs may still be dumped, docs/recovery.md)
        raise StoreDamagedError(
            f"{found}; `raspy-kv check --data-dir {data_dir}` lists every such"
            f" record; {advice(data_dir)}"
        )


@frozen
class Unreadable:
    """A record that does not decode as its table says, and why."""

    data_dir: Path
    table: Table
    key: bytes
    why: str

    def __str__(self) -> str:
        return (
            f"{self.data_dir / DATA_FILE}: {self.table} record {quote(self.key)} is"
            f" unreadable: {self.why}"
        )


def first_unreadable(
    data_dir: Path,
    records: RecordSource,
    tables: tuple[Table, ...],
    progress: Progress = no_progress,
) -> Unreadable | None:
    """The first record of `tables` that does not decode as its table says (raspyd
    refuses to start on a store that holds one), or None."""
    for table in tables:
        for number, (key, value) in enumerate(records(table)):
            if number % PROGRESS_EVERY == 0:
                progress()
            try:
                validate_record(table, key, value)
            except StoreError as exc:
                return Unreadable(data_dir, table, key, str(exc))
    return None
