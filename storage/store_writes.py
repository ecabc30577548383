"""StoreWrites: a store's write path, under Store (`store.py`).

A write's operations are checked against the limits before anything is queued, then
go to the one writer thread's next group commit (raspy.storage.writer), all in one
txn; the caller learns of it only once that txn is synced. A restore is one txn of
its own. A write that waits for its commit must never be made on the writer thread,
which would wait on itself (commit() refuses it). A base class of Store, not a part
it holds, so that a submit (the actors' hot paths) takes no extra hop; Store sets
the state below, opens, reads and closes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from pathlib import Path

from raspy.config_messaging import StoreConfig
from raspy.errors import StoreError
from raspy.storage import env as env_mod
from raspy.storage import schema
from raspy.storage.ops import Op, apply_ops, validate_ops
from raspy.storage.tables import DATA_TABLES, Table
from raspy.storage.txn import WriteTxn
from raspy.storage.writer import Done, GroupWriter, Job


class StoreWrites:
    """The writes of one data dir's store (`submit`, `commit`, `restore`) and the
    open check its reads share; Store sets the state. Thread-safe."""

    _env: env_mod.Environment
    _writer: GroupWriter | None  # None: opened read-only
    _closed: bool
    config: StoreConfig
    path: Path

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"store in {self.path} is closed")
        self._env.check_process()

    @property
    def max_key_bytes(self) -> int:
        return self._env.max_key_bytes

    @property
    def max_map_bytes(self) -> int:
        """The most the map grows to (store.map_size_max_mb): a value bigger than it
        can never be stored, however much room is made."""
        return self._env.max_bytes

    @property
    def page_bytes(self) -> int:
        """LMDB's page size: the map always holds a few pages besides any value (its
        two meta pages, the roots of the trees), so a value within a few pages of
        max_map_bytes can never be stored either."""
        return self._env.page_bytes

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

    def submit_then(
        self, ops: Sequence[Op], on_done: Done, *, alone: bool = False
    ) -> None:
        """submit() for callers that only need the callback (the actors' hot paths):
        no Future is made, which is a lock and a condition less per write. `alone`:
        in a transaction of its own, never shared with other submits (a write that
        may find no room fails no other's transaction, nor costs it a failed one)."""
        self._submit(ops, None, on_done, alone=alone)

    def _submit(
        self,
        ops: Sequence[Op],
        future: Future[None] | None,
        on_done: Done | None,
        *,
        alone: bool = False,
    ) -> None:
        writer = self._live_writer()
        frozen = tuple(ops)
        self.validate(frozen)
        writer.submit(
            Job(
                lambda txn: apply_ops(txn, frozen),
                len(frozen),
                future,
                on_done,
                alone=alone,
            )
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

        def apply(txn: WriteTxn) -> None:
            for table in cleared:
                txn.clear(table)
            for ops in batches():
                self.validate(ops)
                apply_ops(txn, ops)
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
