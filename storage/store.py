"""Store: the LMDB environment of one data dir, its tables, and durable group commit.

Reads are short read txns (consistent snapshots; they never block the writer). Every
write goes through one writer thread; an acknowledged write is synced to disk. Never
open a Store before fork() and use it in the child: open one in the child instead.
"""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import structlog

from raspy.atomic_file import fsync_directory
from raspy.closing import Closing
from raspy.config import StoreConfig
from raspy.errors import (
    DataDirError,
    StoreError,
    StoreNewerError,
    ValueTooLargeError,
    quote,
)
from raspy.storage import damage, schema
from raspy.storage import env as env_mod
from raspy.storage.lock import DataDirLock, writer_present
from raspy.storage.tables import (
    DATA_TABLES,
    SCHEMA_VERSION_KEY,
    Table,
    decode_schema_version,
    encode_schema_version,
)
from raspy.storage.writer import Done, GroupWriter, Job

__all__ = ["Delete", "Op", "Put", "ReadView", "Store", "Table"]

log = structlog.get_logger(component="store")

_MB: Final = 1024 * 1024
_DEFAULT_CONFIG: Final = StoreConfig()
_ALL: Final = 2**62  # "no limit" for scans: bounded by the table's size
_CHECK_CHUNK: Final = 1000


@dataclass(frozen=True, slots=True)
class Put:
    table: Table
    key: bytes
    value: bytes


@dataclass(frozen=True, slots=True)
class Delete:
    table: Table
    key: bytes


Op = Put | Delete
_OP_TYPES: Final = (Put, Delete)


def _apply_ops(txn: env_mod.WriteTxn, ops: Sequence[Op]) -> None:
    for op in ops:
        if isinstance(op, Put):
            txn.put(op.table, op.key, op.value)
        else:
            txn.delete(op.table, op.key)


class ReadView(Closing):
    """ONE read transaction (a consistent snapshot); use from one thread at a time and
    close it soon (it may be closed from another thread).

    Do not commit() from the thread that holds a view: growing the map waits for it.
    """

    def __init__(self, shared: env_mod.Environment) -> None:
        self._env = shared
        self._txn: env_mod.ReadTxn | None = shared.begin_read()

    def _open_txn(self) -> env_mod.ReadTxn:
        if self._txn is None:
            raise StoreError("read view is closed")
        return self._txn

    def get(self, table: Table, key: bytes) -> bytes | None:
        return self._open_txn().get(table, key)

    def iter_from(
        self, table: Table, prefix: bytes, after: bytes | None, limit: int
    ) -> list[tuple[bytes, bytes]]:
        """The next `limit` items whose key starts with prefix and is > after."""
        start = prefix if after is None else max(prefix, after)
        return self._open_txn().range(table, start, prefix, after, limit)

    def count(self, table: Table) -> int:
        """Number of records in the table, in this snapshot."""
        return self._open_txn().count(table)

    def close(self) -> None:
        if self._txn is not None:
            txn, self._txn = self._txn, None
            self._env.end_read(txn)


class Store(Closing):
    """One data dir's store; see the module docstring. Thread-safe."""

    def __init__(
        self,
        shared: env_mod.Environment,
        config: StoreConfig,
        *,
        lock: DataDirLock | None,
        schema_version: int,
        created: bool = False,
    ) -> None:
        """Use Store.open()."""
        self._env = shared
        # the data file was made by this open (it was missing or empty): a restore
        # that fails removes it again (see discard_created)
        self.created = created
        self._lock = lock
        self.config = config
        self.path = shared.path
        self.schema_version = schema_version
        self.readonly = lock is None
        self._writer: GroupWriter | None = None
        if lock is not None:
            self._writer = GroupWriter(shared, group_commit=config.group_commit)
        self._closed = False
        self._close_lock = threading.Lock()

    @classmethod
    def open(
        cls,
        data_dir: str | Path,
        config: StoreConfig = _DEFAULT_CONFIG,
        *,
        readonly: bool = False,
        durable: bool = True,
        init: bool = False,
        check_records: bool = False,
    ) -> Store:
        """Open (and for a writer create, 0700) the store in data_dir.

        A writer takes the data-dir lock (StoreLockedError if another process holds
        it), migrates an older schema and starts the writer thread. A reader takes no
        lock and works beside a running raspyd. A newer schema raises StoreError.
        `durable=False` turns off fsync: for benchmarks only, never in raspyd.

        Nothing is mapped or written before the file passes storage.damage's checks
        (every page is walked unless another process writes it), and a writer
        refuses a data dir whose store is gone unless `init` (StoreDamagedError).
        `check_records` (raspyd) also decodes every record before any write.
        """
        path = Path(data_dir)
        _check_path_text(path)
        lock = None
        created = False
        if not readonly:
            _make_data_dir(path)
            lock = DataDirLock(path)
        try:
            if lock is not None:
                damage.refuse_lost_store(path, init=init)
                created = damage.data_file_absent(path)
            else:  # a reader walks the file only while no writer is there
                damage.check_for_reader(path, lambda: writer_present(path))
            shared = env_mod.acquire(
                path,
                readonly=readonly,
                map_bytes=max(1, config.map_size_initial_mb) * _MB,
                max_bytes=max(config.map_size_initial_mb, config.map_size_max_mb) * _MB,
                durable=durable,
                deep_check=lock is not None,  # a reader's walk: check_for_reader
            )
            if created:
                # LMDB made data.mdb (and lock.mdb): their names must survive a power
                # cut before anything written to them is acknowledged. The marker's
                # write does this too, but it is skipped when the marker is there
                # already (a restore or --init where the store was lost).
                fsync_directory(path)
            try:
                try:
                    version = _prepare(
                        shared, readonly=readonly, check_records=check_records
                    )
                except StoreNewerError as exc:  # which of the stores, for every caller
                    raise StoreNewerError(f"{path}: {exc}") from None
                if lock is not None:
                    damage.write_marker(path)
                return cls(
                    shared, config, lock=lock, schema_version=version, created=created
                )
            except BaseException:
                env_mod.release(shared)
                raise
        except BaseException:
            if lock is not None:
                if created:  # a half-made new store must not pass for a store
                    damage.discard_data_file(path)
                lock.release()
            raise

    # --- reads ------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"store in {self.path} is closed")
        self._env.check_process()

    def get(self, table: Table, key: bytes) -> bytes | None:
        """The committed value, or None."""
        with self.read_view() as view:
            return view.get(table, key)

    def scan(
        self, table: Table, prefix: bytes = b"", limit: int | None = None
    ) -> list[tuple[bytes, bytes]]:
        """Items whose key starts with prefix, in key order, at most `limit`."""
        with self.read_view() as view:
            return view.iter_from(table, prefix, None, _ALL if limit is None else limit)

    def read_view(self) -> ReadView:
        """ONE read txn as a context manager (a snapshot across several reads)."""
        self._check_open()
        return ReadView(self._env)

    # --- writes -----------------------------------------------------------------

    @property
    def max_key_bytes(self) -> int:
        return self._env.max_key_bytes

    def validate(self, ops: Sequence[Op]) -> None:
        """Raise ValueTooLargeError for a key or value over the limits."""
        validate_ops(ops, self.max_key_bytes, self.config.max_value_bytes)

    def _live_writer(self) -> GroupWriter:
        self._check_open()
        if self._writer is None:
            raise StoreError(f"store in {self.path} was opened read-only")
        return self._writer

    def submit(self, ops: Sequence[Op], on_done: Done | None = None) -> Future[None]:
        """Queue ops for the next group commit, all in one txn.

        The future resolves (and on_done(None) runs, on the writer thread) only after
        the txn is synced; on failure both get the exception. Raises
        ValueTooLargeError before queuing anything.
        """
        future: Future[None] = Future()
        self._submit(ops, future, on_done)
        return future

    def submit_then(self, ops: Sequence[Op], on_done: Done) -> None:
        """submit() for callers that only need the callback (the actors' hot paths):
        no Future is made, which is a lock and a condition less per write."""
        self._submit(ops, None, on_done)

    def _submit(
        self, ops: Sequence[Op], future: Future[None] | None, on_done: Done | None
    ) -> None:
        writer = self._live_writer()
        frozen = tuple(ops)
        self.validate(frozen)
        writer.submit(
            Job(lambda txn: _apply_ops(txn, frozen), len(frozen), future, on_done)
        )

    def commit(self, ops: Sequence[Op]) -> None:
        """Write ops in one txn, durable on return. Never from the writer thread."""
        if self._live_writer().in_writer_thread():
            raise RuntimeError("Store.commit() from the writer thread would deadlock")
        # A bare lock instead of a Future: one wake-up per blocked caller.
        done = threading.Lock()
        done.acquire()
        outcome: list[BaseException | None] = []

        def on_done(error: BaseException | None) -> None:
            outcome.append(error)
            done.release()

        self._submit(ops, None, on_done)
        done.acquire()
        if outcome[0] is not None:
            raise outcome[0]

    def written(self) -> None:
        """Return once everything submitted before this call is written (the writer
        works in order; an empty commit writes and syncs nothing): a part started
        again reads the store only after the writes of the one it replaces."""
        self.commit([])

    def restore(
        self,
        batches: Callable[[], Iterable[Sequence[Op]]],
        *,
        clear: Sequence[Table] = (),
        schema_version: int = schema.SCHEMA_VERSION,
        room: int = 0,
        stop: threading.Event | None = None,
    ) -> None:
        """Clear tables, write every batch and migrate from schema_version: ONE txn.

        For raspy-kv restore; blocks until durable. Either all of it or nothing: an
        error from `batches` (or a batch over the limits) aborts the txn. `batches` is
        called again if the map must grow and the txn runs again, so a restore can
        stream its records instead of holding them; `room` (bytes, a guess at what
        they take in the map) grows the map once, ahead, so that seldom happens.

        An interrupt (Ctrl-C) before the writer began the txn cancels it: nothing is
        written. One while the writer runs it sets `stop`, on which `batches` must
        raise, and waits for the writer: raised again once the txn aborted, but past
        the last batch the txn commits all the same, and the restore then returns, done.
        """
        writer = self._live_writer()
        schema.check_supported(schema_version)
        if any(table not in DATA_TABLES for table in clear):
            raise ValueError("restore clears data tables only, never meta")
        cleared = tuple(clear)

        def apply(txn: env_mod.WriteTxn) -> None:
            for table in cleared:
                txn.clear(table)
            for ops in batches():
                self.validate(ops)
                _apply_ops(txn, ops)
            schema.migrate(txn, schema_version)

        future: Future[None] = Future()
        try:  # the submit inside: an interrupt may land as it returns
            writer.submit(Job(apply, 0, future, None, alone=True, room=room))
            future.result()
        except BaseException:
            if future.cancel() or stop is None:
                raise  # not begun (the writer skips it): nothing is written
            stop.set()  # the writer may be mid-txn: `batches` aborts it
            if future.exception() is not None:  # waits for the writer
                raise  # nothing written (or an error of its own): the interrupt

    def discard_created(self) -> None:
        """Close, and remove the data file if this open created it (Store.created):
        after a failed restore into a data dir whose store was lost, no empty store
        is left for raspyd to take (docs/recovery.md)."""
        if self.created and self._lock is not None and not self._closed:
            damage.discard_data_file(self.path)  # under the lock, before close
        self.close()

    # --- lifetime ---------------------------------------------------------------

    def is_alive(self) -> bool:
        """Open, and its writer thread running (the supervisor's liveness check)."""
        return not self._closed and (self._writer is None or self._writer.is_alive())

    def growth_waiting(self) -> bool:
        """The map must grow and waits for this process's read views to close: a
        long reader (a Clone snapshot) should close its view now and start again."""
        return self._env.resize_waiting

    def damage(self) -> str | None:
        """The damage LMDB reported at run time in this process, if any: the store
        is then no longer trusted (raspyd stops; see storage.damage)."""
        return env_mod.damage_seen(self.path)

    def stats(self) -> dict[str, float]:
        """Counters (submits, batches, commits, ops, failed) and map gauges."""
        counts: dict[str, float] = {}
        if self._writer is not None:
            counts.update(self._writer.counts())
        counts["map_size"] = self._env.map_size if not self._closed else 0
        counts["map_grows"] = self._env.map_grows
        return counts

    def close(self) -> None:
        """Flush pending writes, stop the writer, close the env, release the lock.

        In a child after fork() it only marks the store closed: the environment and
        the lock belong to the parent.
        """
        if self._writer is not None and self._writer.in_writer_thread():
            raise RuntimeError("Store.close() from the writer thread would deadlock")
        with self._close_lock:
            if self._closed:
                return
            if self._env.pid != os.getpid():
                self._closed = True
                return
            if self._writer is not None:
                self._writer.close()  # callbacks of the last batches may still read
            self._closed = True
            env_mod.release(self._env)
            if self._lock is not None:
                self._lock.release()
        log.info("store_closed", path=str(self.path))


def validate_ops(ops: Sequence[Op], max_key_bytes: int, max_value_bytes: int) -> None:
    """Raise ValueTooLargeError for a key or value over the limits (TypeError: misuse)."""
    for op in ops:
        if not isinstance(op, _OP_TYPES):
            raise TypeError(f"expected Put or Delete, got {type(op).__name__}")
        table: object = op.table  # checked at run time: callers may be untyped
        key: object = op.key
        if not isinstance(table, Table) or not isinstance(key, bytes):
            raise TypeError("an op needs a Table and a bytes key")
        if not 0 < len(key) <= max_key_bytes:
            raise ValueTooLargeError(
                f"key of {len(key)} bytes for {table}: LMDB keys are 1 to "
                f"{max_key_bytes} bytes"
            )
        if isinstance(op, Put):
            value: object = op.value
            if not isinstance(value, bytes):
                raise TypeError("a Put needs a bytes value")
            if len(value) > max_value_bytes:
                raise ValueTooLargeError(
                    f"value of {len(value)} bytes for {table} key {quote(key)} is "
                    f"over store.max_value_bytes ({max_value_bytes})"
                )


def _check_path_text(path: Path) -> None:
    """LMDB takes its path as UTF-8: a name made of other bytes (a surrogate escape
    in Python) is refused before anything is made."""
    try:
        os.fspath(path).encode()
    except UnicodeEncodeError:
        raise DataDirError(
            f"data dir {os.fspath(path)!a}: the name is not UTF-8 text, which the"
            " store needs"
        ) from None


def _make_data_dir(path: Path) -> None:
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


def _every_record(txn: env_mod.ReadTxn, table: Table) -> Iterator[tuple[bytes, bytes]]:
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


def _prepare(
    shared: env_mod.Environment, *, readonly: bool, check_records: bool
) -> int:
    """Clear stale readers, check the schema version (and every record if asked),
    all read-only; only then create tables and migrate."""
    cleared = shared.reader_check()
    if cleared:
        log.warning("store_stale_readers_cleared", path=str(shared.path), count=cleared)
    txn = shared.begin_read()
    try:
        stamp = txn.get(Table.META, SCHEMA_VERSION_KEY)
        empty = all(txn.count(table) == 0 for table in Table)
        # a newer raspy's store is refused as that, before the record check takes
        # its stamp for damage (and advises a restore, not the upgrade)
        schema.check_supported(_stamped_version(stamp))
        if check_records:
            damage.check_records(shared.path, lambda t: _every_record(txn, t))
    finally:
        shared.end_read(txn)
    version = 0 if stamp is None else decode_schema_version(stamp)
    schema.check_supported(version)
    if not readonly:
        shared.create_tables()
    if readonly or version == schema.SCHEMA_VERSION:
        log.info("store_opened", path=str(shared.path), schema_version=version)
        return version

    def migrate(txn: env_mod.WriteTxn) -> None:
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
