"""What raspy-kv's store commands (dump, restore, check, backup) share: the store
opened read-only and read a table at a time, the progress bar, a kill or a hangup
ended as a Ctrl-C, and the closing report line (their statuses and failures, which
the live commands share: raspy.cli.kv_lines)."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Final

from raspy.cli import EXIT_USAGE
from raspy.cli.kv_lines import EXIT_DATA, Failure, command_prog
from raspy.storage import damage
from raspy.storage.lock import ReadLock, writer_present
from raspy.storage.read_view import ReadView
from raspy.storage.store import Store
from raspy.storage.tables import Table

_CHUNK: Final = 1000


class Progress:
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


def report(command: str, message: str, started: float, stream: IO[str]) -> None:
    """COMMAND's closing line: what it did, and in how long."""
    print(
        f"{command_prog(command)}: {message} in {time.monotonic() - started:.2f} s",
        file=stream,
    )


_ENDING: Final = (signal.SIGTERM, signal.SIGHUP)  # signals that end a command as Ctrl-C


def _interrupt(signum: int, frame: object) -> None:
    # the cleanup this starts (a temp file, a begun data.mdb removed) is not cut
    # short by a second one (an ssh hangup, then logind's SIGTERM): ended_as_ctrl_c
    # puts the handlers back once it is done
    for each in _ENDING:
        signal.signal(each, signal.SIG_IGN)
    raise KeyboardInterrupt


@contextmanager
def ended_as_ctrl_c() -> Iterator[None]:
    """A kill (SIGTERM) or a hangup (the ssh session of a command by hand gone) ends
    the command as a Ctrl-C does (exit 130): a restore writes nothing and removes a
    data.mdb it began, so a lost store stays lost (docs/recovery.md); a dump or a
    backup removes its temp file. By default they end the process at once, leaving
    an empty store that raspyd would start on, or a temp file for a day. A signal
    ignored already (nohup) stays ignored, and a second one while the first one's
    cleanup runs is ignored."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signals reach the main thread only: nothing to install
        return
    before = {
        signum: signal.signal(signum, _interrupt)
        for signum in _ENDING
        if signal.getsignal(signum) is not signal.SIG_IGN  # nohup's stays
    }
    try:
        yield
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)


def open_readonly(data_dir: str) -> Store:
    """The store, read-only: its file is checked before it is mapped (storage.damage)."""
    path = Path(data_dir)
    # raspyd making the store right now is not a lost store: wait for it a moment
    damage.wait_while_made(path, lambda: writer_present(path))
    if damage.data_file_absent(path):
        if damage.held_a_store(path):  # it was lost: a data problem, not a typo
            damage.refuse_lost_store(path, init=False)
        raise Failure(f"no store in {data_dir}", EXIT_USAGE)
    guard = _refuse_slotless_read(path)
    try:
        store = _GuardedStore.open(data_dir, readonly=True)
    except BaseException:
        if guard is not None:
            guard.release()
        raise
    assert isinstance(store, _GuardedStore)  # Store.open builds its own class
    store.guard = guard
    return store


class _GuardedStore(Store):
    """A read-only Store that may hold the data dir's lock shared until it closes
    (_refuse_slotless_read)."""

    guard: ReadLock | None = None

    def close(self) -> None:
        try:
            super().close()
        finally:
            if self.guard is not None:
                self.guard.release()


def _refuse_slotless_read(data_dir: Path) -> ReadLock | None:
    """LMDB opens a read-only store on a read-only mount (systemd's ReadOnlyPaths=)
    without its lock file (one that cannot be written, or is missing and cannot be
    made): its reads then hold no reader slot, and a raspyd writing meanwhile may
    reuse the very pages being read. Beside a running raspyd that is refused;
    without one (a card mounted read-only to rescue it, a backup at boot) the data
    dir's lock is held shared for the whole read, so a raspyd that starts meanwhile
    waits for the read to end (raspy.cli.start_wait) instead of writing."""
    lock_file = data_dir / damage.LMDB_LOCK_FILE
    if lock_file.exists():
        if os.access(lock_file, os.R_OK | os.W_OK):
            return None
    elif os.access(data_dir, os.W_OK):
        return None  # LMDB makes it (storage.lmdb_lock): the reads hold a slot
    guard = ReadLock(data_dir)
    if guard.writer is None:
        return guard
    raise Failure(
        f"{lock_file} cannot be written, and raspyd (pid {guard.writer}) writes this"
        " store: LMDB would read it without a reader slot, so raspyd could reuse"
        f" the pages being read; make {lock_file} writable (systemd:"
        " ReadWritePaths=) or stop raspyd",
        EXIT_DATA,
    )


def records(view: ReadView, table: Table) -> Iterator[tuple[bytes, bytes]]:
    """Every record of a table in key order, in chunks, from one read txn."""
    after: bytes | None = None
    for _ in range(view.count(table) // _CHUNK + 1):
        chunk = view.iter_from(table, b"", after, _CHUNK)
        yield from chunk
        if len(chunk) < _CHUNK:
            return
        after = chunk[-1][0]
