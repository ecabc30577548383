"""LMDB environments: one a data dir in this process, its reads, writes, map growth.

Every Store on a data dir in this process shares one Environment (storage.env_registry
opens it and counts its users). Resizing the map needs no live read txn in this
process: readers pass a gate that the resize closes (docs/architecture.md pitfalls).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

import lmdb
import structlog

from raspy.errors import StoreError, StoreFullError
from raspy.storage import damage, pins
from raspy.storage.lmdb_errors import store_error
from raspy.storage.tables import Table
from raspy.storage.txn import ReadTxn, WriteTxn

log = structlog.get_logger(component="store")

_MB: Final = 1024 * 1024
_MAX_ATTEMPTS: Final = 64  # doublings from 1 MB exceed any map long before this
_RESIZE_WAIT_S: Final = 30.0
# Issue 18: the map doubles ahead of need once this share of it is used, at a moment
# when no read txn is open, so a write seldom meets MapFullError (and its wait).
GROW_AHEAD_AT: Final = 0.75

_forks = [0]  # bumped in every child after fork(): cheaper than getpid() per call


def _after_fork_in_child() -> None:
    _forks[0] += 1


os.register_at_fork(after_in_child=_after_fork_in_child)


class Environment:
    """One LMDB environment for a data dir, shared by the Stores of this process."""

    def __init__(self, path: Path, env: Any, *, writable: bool, max_bytes: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.writable = writable
        self.pid = os.getpid()
        self._fork = _forks[0]
        self.map_grows = 0
        self.pins = pins.PinWatch(self.pid)  # other processes' old snapshots
        self._env = env
        self._dbs: dict[Table, Any] = {}
        self.refs = 0  # Stores of this process sharing it (env_registry)
        self._gate = threading.Condition()
        self._readers = 0
        self._resizing = False
        self._depth: dict[int, int] = {}  # open read txns per thread ident
        # read txns begun: each writes its reader slot in lock.mdb, a page of the card
        self.read_txns = 0
        self.max_key_bytes: int = env.max_key_size()
        self._page_bytes: int = env.stat()["psize"]
        # the txn whose snapshot had every page walked (None: none yet)
        self.walked_txn: int | None = None
        self._opening = threading.Lock()
        # lock.mdb, open until LMDB's is closed (lmdb_lock.reserve)
        self.lock_fd: int | None = None

    # --- opening -----------------------------------------------------------------

    def open_tables(self, *, create: bool) -> None:
        """A writer's named databases, env-wide: those that exist (and, with create,
        the others). A reader's are opened by each read txn in its own snapshot
        (tables_in)."""
        assert self.writable
        with self.reading() as txn, txn.cursor() as cursor:
            names = {bytes(key) for key in cursor.iternext(keys=True, values=False)}
        wanted = [t for t in Table if create or t.value.encode() in names]

        def open_all(txn: Any) -> None:
            for table in wanted:
                self._dbs[table] = self._env.open_db(
                    table.value.encode(), txn=txn, create=create
                )

        self._write_raw(open_all)

    def tables_in(self, txn: Any) -> dict[Table, Any]:
        """A reader's handles of the tables that exist, opened in read txn `txn`:
        LMDB looks their names up in that txn's main tree, the one its walk checked
        (begin_walked). A handle opened in a read txn ends with it (py-lmdb resets a
        read txn, never commits it), so each read txn opens its own, in Table order.
        For single-threaded readers with txns that do not overlap (raspy-kv): two
        overlapping ones share LMDB's handle slots, which holds only while every
        table keeps LMDB's default key order and flags."""
        if self.writable:
            return self._dbs
        found: dict[Table, Any] = {}
        with self._opening:  # LMDB does not lock a read txn's mdb_dbi_open
            for table in Table:
                try:
                    found[table] = self._env.open_db(
                        table.value.encode(), txn=txn, create=False
                    )
                except lmdb.NotFoundError:
                    continue
                except lmdb.Error as exc:
                    raise store_error(exc, self.path) from exc
        return found

    def create_tables(self) -> None:
        """Make every named database that is missing (writers only), in one txn."""
        if len(self._dbs) < len(Table):
            self.open_tables(create=True)

    def handles(self) -> dict[Table, Any]:
        return self._dbs

    @property
    def page_bytes(self) -> int:
        return self._page_bytes

    @property
    def map_size(self) -> int:
        size: int = self._env.info()["map_size"]
        return size

    def reader_check(self) -> int:
        """Clear reader slots of dead processes; returns how many were cleared."""
        cleared: int = self._env.reader_check()
        return cleared

    def pinning_readers(self) -> list[pins.Pin]:
        """Read txns of other processes on a snapshot older than the last commit:
        the pages freed since cannot be reused while they last (storage.pins)."""
        last: int = self._env.info()["last_txnid"]
        return self.pins.update(self._env.readers(), last)

    # --- reads ------------------------------------------------------------------

    def _enter_read(self) -> int:
        thread = threading.get_ident()
        with self._gate:
            # A thread that already reads must not wait for a resize that waits for it.
            if not self._depth.get(thread):
                self._gate.wait_for(lambda: not self._resizing)
            self._depth[thread] = self._depth.get(thread, 0) + 1
            self._readers += 1
            self.read_txns += 1
        return thread

    def _leave_read(self, thread: int) -> None:
        with self._gate:
            self._depth[thread] -= 1
            if not self._depth[thread]:
                del self._depth[thread]
            self._readers -= 1
            self._gate.notify_all()

    def begin_read(self) -> ReadTxn:
        """A read txn inside the gate; end_read() it. Adopts a map grown elsewhere."""
        for _ in range(3):
            thread = self._enter_read()
            try:
                return ReadTxn(self, self._env.begin(write=False), thread)
            except lmdb.MapResizedError:
                self._leave_read(thread)
                self.resize(0)  # another process grew the map: adopt its size
            except lmdb.Error as exc:
                self._leave_read(thread)
                raise store_error(exc, self.path) from exc
            except BaseException:
                self._leave_read(thread)
                raise
        raise StoreError(f"store in {self.path}: map keeps being resized; retry")

    def end_read(self, txn: ReadTxn) -> None:
        """Close a txn from begin_read(), from any thread."""
        try:
            txn.close()
        finally:
            self._leave_read(txn.thread)

    def begin_walked(self, trees: frozenset[bytes] | None = None) -> ReadTxn:
        """A read txn whose snapshot had its pages walked (damage.walk_pinned) while
        it was pinned, before any cursor of it runs: LMDB aborts the process on a
        damaged page a cursor meets. `trees`: only the main tree and the named ones
        given (what the txn will read); None: every tree. A full walk of the same
        txn (walked_txn) is not done again. Beside a busy writer the snapshot may be
        overwritten during the walk: a new txn is taken, PIN_TRIES times."""
        for _ in range(damage.PIN_TRIES):
            txn = self.begin_read()
            try:
                txnid = txn.txn_id()
                if txnid == self.walked_txn or damage.walk_pinned(
                    self.path, txnid, trees
                ):
                    if trees is None:
                        self.walked_txn = txnid
                    return txn
            except BaseException:
                self.end_read(txn)
                raise
            self.end_read(txn)
        raise damage.overtaken(self.path)

    @contextmanager
    def reading(self) -> Iterator[Any]:
        """The raw read txn, for this module only."""
        txn = self.begin_read()
        try:
            yield txn._txn
        finally:
            self.end_read(txn)

    # --- writes -----------------------------------------------------------------

    @property
    def resize_waiting(self) -> bool:
        """A resize waits for the read txns of this process to close."""
        return self._resizing

    def grow_ahead(self) -> bool:
        """Double the map now if GROW_AHEAD_AT of it is used and no read txn is open
        (never waits: else the next call tries again). Writer thread, between txns."""
        info = self._env.info()
        current: int = info["map_size"]
        used = (info["last_pgno"] + 1) * self._page_bytes
        if used < current * GROW_AHEAD_AT or current >= self.max_bytes:
            return False
        with self._gate:  # held: no read txn can begin while the map changes
            if self._readers:
                return False
            new_size = min(current * 2, self.max_bytes)
            try:
                self._env.set_mapsize(new_size)
            except lmdb.Error as exc:
                raise store_error(exc, self.path) from exc
        self._note_grown(current, new_size, "ahead")
        return True

    def make_room(self, extra_bytes: int) -> None:
        """Grow the map (doubling, up to max_bytes) until `extra_bytes` more than is
        used now fit, before one big txn (a restore), which would otherwise fill the
        map and be written again after each doubling. Writer thread, between txns."""
        info = self._env.info()
        current: int = info["map_size"]
        wanted = (info["last_pgno"] + 1) * self._page_bytes + extra_bytes
        new_size = current
        while new_size < wanted and new_size < self.max_bytes:
            new_size = min(new_size * 2, self.max_bytes)
        if new_size == current:
            return
        self._resize_to(current, new_size, "room")

    def resize(self, new_size: int) -> None:
        """set_mapsize once no read txn of this process is open (0: adopt the file)."""
        with self._gate:
            self._resizing = True
            try:
                if not self._gate.wait_for(
                    lambda: self._readers == 0, timeout=_RESIZE_WAIT_S
                ):
                    raise StoreError(
                        f"store in {self.path}: cannot grow the map while a read view "
                        f"stays open for over {_RESIZE_WAIT_S:.0f} s"
                    )
                try:
                    self._env.set_mapsize(new_size)
                except lmdb.Error as exc:
                    raise store_error(exc, self.path) from exc
            finally:
                self._resizing = False
                self._gate.notify_all()

    def _resize_to(self, current: int, new_size: int, reason: str) -> None:
        """Grow the map from `current` to `new_size`, counted and logged."""
        self.resize(new_size)
        self._note_grown(current, new_size, reason)

    def _note_grown(self, current: int, new_size: int, reason: str) -> None:
        self.map_grows += 1
        log.info(
            "store_map_grown",
            path=str(self.path),
            size=new_size,
            previous=current,
            reason=reason,
        )

    def _grow(self) -> None:
        max_bytes = self.max_bytes
        current = self.map_size
        if current >= max_bytes:
            try:
                if self.reader_check():  # a dead reader's snapshot held the room:
                    return  # the write is tried again
                pinned = pins.blame(self.pinning_readers())
            except Exception:  # noqa: BLE001  # a failed write says it is full all the
                pinned = ""  # same: reading the readers never changes what it raises
            raise StoreFullError(
                f"store in {self.path} is full: the map reached its maximum of "
                f"{max_bytes // _MB} MB (store.map_size_max_mb){pinned}"
            )
        new_size = min(current * 2, max_bytes)
        self._resize_to(current, new_size, "full")

    def _write_raw(
        self,
        apply: Callable[[Any], None],
        before_commit: Callable[[], None] | None = None,
        on_attempt: Callable[[], None] | None = None,
    ) -> None:
        for _ in range(_MAX_ATTEMPTS):
            if on_attempt is not None:  # again after a growth of the map
                on_attempt()
            try:
                txn = self._env.begin(write=True)
            except lmdb.Error as exc:
                raise store_error(exc, self.path) from exc
            try:
                apply(txn)
                if before_commit is not None:
                    before_commit()
                txn.commit()
            except lmdb.MapFullError:
                txn.abort()
                self._grow()
                continue
            except lmdb.Error as exc:
                txn.abort()
                raise store_error(exc, self.path) from exc
            except BaseException:
                txn.abort()
                raise
            return
        raise StoreFullError(f"store in {self.path}: the map could not grow enough")

    def write(
        self,
        apply: Callable[[WriteTxn], None],
        *,
        before_commit: Callable[[], None] | None = None,
        on_attempt: Callable[[], None] | None = None,
    ) -> None:
        """Run `apply` in ONE write txn and commit it (synced unless not durable).

        On MapFullError the map doubles (up to max_bytes) and the same apply runs again,
        so `apply` must be a pure function of the txn. Raises StoreFullError past max.
        `before_commit` runs (on this thread) after apply, before the blocking commit;
        `on_attempt` before each txn begins (the first, and each after a growth).
        """
        self._write_raw(
            lambda txn: apply(WriteTxn(self, txn)), before_commit, on_attempt
        )

    # --- lifetime ---------------------------------------------------------------

    def check_process(self) -> None:
        if self._fork != _forks[0]:
            raise StoreError(
                f"store in {self.path} was opened in process {self.pid} and used after "
                "fork(); open it again in the child"
            )

    def close(self) -> None:
        self._env.close()
        if self.lock_fd is not None:  # LMDB's locks went with its own descriptor
            fd, self.lock_fd = self.lock_fd, None
            os.close(fd)
