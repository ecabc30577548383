"""Store: the LMDB environment of one data dir, its tables, and durable group commit.

Reads are short read txns (consistent snapshots; they never block the writer). Every
write goes through one writer thread; an acknowledged write is synced to disk. Never
open a Store before fork() and use it in the child: open one in the child instead.
This module opens, reads and closes; the writes are its base class StoreWrites
(raspy.storage.store_writes). A write's operations (Put, Delete) are
raspy.storage.ops; what an opening checks and migrates first, raspy.storage.opening.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Final

import structlog

from raspy.atomic_file import fsync_directory
from raspy.closing import Closing
from raspy.config_messaging import StoreConfig
from raspy.errors import StoreNewerError
from raspy.storage import damage, env_registry, opening, staging
from raspy.storage import env as env_mod
from raspy.storage.lmdb_errors import damage_seen
from raspy.storage.lock import DataDirLock, writer_present
from raspy.storage.ops import Delete, Op, Put
from raspy.storage.read_view import ReadView
from raspy.storage.store_writes import StoreWrites
from raspy.storage.tables import Table
from raspy.storage.writer import GroupWriter

__all__ = ["Delete", "Op", "Put", "Store", "Table"]

log = structlog.get_logger(component="store")

_MB: Final = 1024 * 1024
_DEFAULT_CONFIG: Final = StoreConfig()


class Store(StoreWrites, Closing):
    """One data dir's store; see the module docstring. Thread-safe."""

    def __init__(
        self,
        shared: env_mod.Environment,
        config: StoreConfig,
        *,
        lock: DataDirLock | None,
        schema_version: int,
    ) -> None:
        """Use Store.open()."""
        self._env = shared
        self._lock = lock
        self.config = config
        self.path = shared.path
        self.schema_version = schema_version
        self.readonly = lock is None
        self._writer: GroupWriter | None = None
        if lock is not None:
            self._writer = GroupWriter(shared, group_commit=config.group_commit)
        self._closed = False
        self._left_stuck = False  # close() left the writer in its commit
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
        progress: damage.Progress = damage.no_progress,
        holder: str | None = None,
        lock: DataDirLock | None = None,
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
        `progress` is called as the pages are walked and the records checked, every
        so often (raspyd asks systemd for more time to start, a big store taking
        seconds on a Pi). `holder` says what the writer is (`raspyd`), for the
        refusal of another (storage.lock). `lock`: the data dir's lock, taken by the
        caller already (a restore, which chose under it where to write); the Store
        holds it from then on, and releases it.
        """
        path = Path(data_dir)
        opening.check_path_text(path)
        if readonly and lock is not None:
            raise ValueError("a reader takes no data dir lock")
        created = made_lock_file = False
        walked_txn = None
        if not readonly and lock is None:
            opening.make_data_dir(path)
            lock = DataDirLock(path, holder)
        try:
            if lock is not None:
                staging.check_leftover(path, init=init)
                damage.refuse_lost_store(path, init=init)
                created = damage.data_file_absent(path)
                # LMDB's lock file marks a data dir that held a store: one that a
                # plain first start makes goes again with the data file if the open
                # fails (a full disk), or the next start took the dir for one whose
                # store was lost. An init (--init, a restore) leaves it, as a sign
                # that a store was meant to be here. (No store was here before: the
                # refusal above takes a data file gone from a dir that held one.)
                made_lock_file = created and not init
            else:  # a reader walks the file only while no writer is there
                walked_txn = damage.check_for_reader(path, lambda: writer_present(path))
            shared = env_registry.acquire(
                path,
                readonly=readonly,
                map_bytes=max(1, config.map_size_initial_mb) * _MB,
                max_bytes=max(config.map_size_initial_mb, config.map_size_max_mb) * _MB,
                durable=durable,
                deep_check=lock is not None,  # a reader's walk: check_for_reader
                walked_txn=walked_txn,
                progress=progress,
            )
            if created:
                # LMDB made data.mdb (and lock.mdb): their names must survive a power
                # cut before anything written to them is acknowledged. The marker's
                # write does this too, but it is skipped when the marker is there
                # already (a restore or --init where the store was lost).
                fsync_directory(path)
            try:
                try:
                    version = opening.prepare(
                        shared,
                        readonly=readonly,
                        check_records=check_records,
                        progress=progress,
                    )
                except StoreNewerError as exc:  # which of the stores, for every caller
                    raise StoreNewerError(f"{path}: {exc}") from None
                if lock is not None:
                    damage.write_marker(path)
                return cls(
                    shared,
                    config,
                    lock=lock,
                    schema_version=version,
                )
            except BaseException:
                env_registry.release(shared)
                raise
        except BaseException:
            if lock is not None:
                if created:  # a half-made new store must not pass for a store
                    damage.discard_data_file(path, lock_file=made_lock_file)
                lock.release()
            raise

    # --- reads ------------------------------------------------------------------

    def get(self, table: Table, key: bytes) -> bytes | None:
        """The committed value, or None."""
        with self.read_view() as view:
            return view.get(table, key)

    def scan(
        self, table: Table, prefix: bytes = b"", limit: int | None = None
    ) -> list[tuple[bytes, bytes]]:
        """Items whose key starts with prefix, in key order, at most `limit`."""
        with self.read_view() as view:
            return view.scan(table, prefix, limit)

    def read_view(self) -> ReadView:
        """ONE read txn as a context manager (a snapshot across several reads)."""
        self._check_open()
        return ReadView(self._env)

    def walked_view(self) -> ReadView:
        """read_view() whose snapshot had every page walked before any cursor runs
        (Environment.begin_walked), for a reader that reads the whole store beside
        raspyd (raspy-kv check, dump, backup): the open walks only what it reads,
        and LMDB aborts the process on a damaged page a cursor meets."""
        self._check_open()
        return ReadView(self._env, walked=True)

    # --- lifetime ---------------------------------------------------------------

    def is_alive(self) -> bool:
        """Open, and its writer thread running (the supervisor's liveness check)."""
        return not self._closed and (self._writer is None or self._writer.is_alive())

    def writer_busy_for_s(self) -> float:
        """How long the writer thread has been on one commit (0.0: idle, or none):
        past the hang bound it is stuck, and no durable write gets through."""
        return 0.0 if self._writer is None else self._writer.busy_for_s()

    def growth_waiting(self) -> bool:
        """The map must grow and waits for this process's read views to close: a
        long reader (a Clone snapshot) should close its view now and start again."""
        return self._env.resize_waiting

    def damage(self) -> str | None:
        """The damage LMDB reported at run time in this process, if any: the store
        is then no longer trusted (raspyd stops; see storage.damage)."""
        return damage_seen(self.path)

    @property
    def read_txns(self) -> int:
        """Read transactions begun on this store's environment in this process (each
        writes LMDB's reader slot page); not among stats(), which raspyd publishes."""
        return self._env.read_txns

    def stats(self) -> dict[str, float]:
        """Counters (submits, batches, commits, ops, failed) and map gauges."""
        counts: dict[str, float] = {}
        if self._writer is not None:
            counts.update(self._writer.counts())
        counts["map_size"] = self._env.map_size if not self._closed else 0
        counts["map_grows"] = self._env.map_grows
        return counts

    def close(self) -> None:
        """Flush pending writes, stop the writer, close the env, release the lock."""
        self.close_within(None)

    def close_within(self, timeout_s: float | None) -> bool:
        """close(), and whether all that was done. A writer that has not ended
        within `timeout_s` (None: wait for it) is stuck in a commit: it is left
        running, with the env open under it and the lock held, for the process's
        exit to end (`store_writer_stuck_at_stop`); the store is closed to any
        other use.

        In a child after fork() it only marks the store closed: the environment and
        the lock belong to the parent.
        """
        if self._writer is not None and self._writer.in_writer_thread():
            raise RuntimeError("Store.close() from the writer thread would deadlock")
        with self._close_lock:
            if self._closed:
                return not self._left_stuck
            if self._env.pid != os.getpid():
                self._closed = True
                return True
            writer = self._writer
            if writer is not None and not writer.close(timeout_s):
                self._closed = True  # the LMDB env stays open: its txn is in use
                self._left_stuck = True
                log.error(
                    "store_writer_stuck_at_stop",
                    path=str(self.path),
                    busy_s=round(writer.busy_for_s(), 1),
                    waited_s=timeout_s,
                )
                return False
            self._closed = True
            env_registry.release(self._env)
            if self._lock is not None:
                self._lock.release()
        log.info("store_closed", path=str(self.path))
        return True
