"""The Clone server's side of the store: durable before published (protocols.md §6.4).

Everything accepted in one I/O loop turn goes to the store in one submit; the store's
writer thread reports back through a self-pipe (it never touches a ZeroMQ socket), and
the I/O thread publishes committed batches strictly in sequence order. At start-up the
stored sequence and ephemeral keys are read back (§6.6).
"""

from __future__ import annotations

import functools
import queue
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

import structlog

from raspy import packing
from raspy.cores import clone as core_mod
from raspy.errors import PackingError, StoreError
from raspy.protocol import clone
from raspy.stats import Stats
from raspy.storage.store import Delete, Op, Put, Store
from raspy.storage.tables import (
    LAST_SEQ_KEY,
    Table,
    decode_kv,
    decode_seq,
    encode_kv,
    encode_seq,
)
from raspy.transport.wakeup import Wakeup

log = structlog.get_logger(component="clone")

_LOAD_CHUNK: Final = 1000


def kv_essentials(value: bytes) -> tuple[int, bytes, float | None]:
    """(seq, body, ttl) of a kv record: a quick check of the fields the Clone server
    needs (a snapshot reads every record); anything unusual goes through decode_kv,
    which raises StoreError naming the problem."""
    try:
        record = packing.unpack(value)
    except PackingError:
        record = None
    if isinstance(record, dict) and len(record) == 4:
        seq, body, ttl = record.get("seq"), record.get("body"), record.get("ttl")
        if (
            type(seq) is int
            and 0 <= seq <= clone.MAX_SEQ
            and type(body) is bytes
            and (ttl is None or type(ttl) is float)
        ):
            return seq, body, ttl
    full = decode_kv(value)
    return full.seq, full.body, full.ttl


def load_state(store: Store, stats: Stats) -> tuple[int, list[tuple[bytes, float]]]:
    """The last sequence given out (kv.meta, or higher in kv) and every ephemeral key
    with its ttl; unreadable records are logged, counted and skipped."""
    last_seq = 0
    ephemeral: list[tuple[bytes, float]] = []
    with store.read_view() as view:
        raw = view.get(Table.KV_META, LAST_SEQ_KEY)
        if raw is not None:
            last_seq = decode_seq(raw)
        after: bytes | None = None
        while True:
            items = view.iter_from(Table.KV, b"", after, _LOAD_CHUNK)
            for key, value in items:
                try:
                    seq, _, ttl_s = kv_essentials(value)
                except StoreError as exc:
                    stats.incr("clone.load.bad_record")
                    log.error("clone_record_unreadable", key=key.hex(), reason=str(exc))
                    continue
                last_seq = max(last_seq, seq)
                if ttl_s:
                    ephemeral.append((key, ttl_s))
            if len(items) < _LOAD_CHUNK:
                return last_seq, ephemeral
            after = items[-1][0]


@dataclass
class _Batch:
    """Updates submitted to the store in one call; published once committed."""

    updates: list[core_mod.Update]
    done: bool = False
    error: BaseException | None = None


def store_ops(updates: list[core_mod.Update]) -> list[Op]:
    """Put (or Delete) each key, then kv.meta last_seq: one transaction, §6.2 raspy."""
    ops: list[Op] = []
    for update in updates:
        if update.is_delete:
            ops.append(Delete(Table.KV, update.key))
        else:
            value = encode_kv(update.seq, update.body, dict(update.props), update.ttl_s)
            ops.append(Put(Table.KV, update.key, value))
    ops.append(Put(Table.KV_META, LAST_SEQ_KEY, encode_seq(updates[-1].seq)))
    return ops


class CommitPipeline:
    """Accepted -> submitted -> committed -> released in order. I/O thread only,
    except `_committed`, which the writer thread calls."""

    def __init__(
        self, store: Store, core: core_mod.CloneCore, stats: Stats, wake: Wakeup
    ) -> None:
        self._store = store
        self._core = core
        self._stats = stats
        self._wake = wake
        self._accepted: list[core_mod.Update] = []
        self._batches: deque[_Batch] = deque()
        self._results: queue.SimpleQueue[tuple[_Batch, BaseException | None]] = (
            queue.SimpleQueue()
        )

    @property
    def in_flight(self) -> bool:
        return bool(self._batches or self._accepted)

    def accept(self, update: core_mod.Update) -> None:
        self._accepted.append(update)

    def submit(self) -> None:
        """Group commit: everything accepted since the last call, in one submit."""
        if not self._accepted:
            return
        updates, self._accepted = self._accepted, []
        batch = _Batch(updates)
        self._batches.append(batch)
        try:
            ops = store_ops(updates)
            self._store.submit_then(ops, functools.partial(self._committed, batch))
        except (StoreError, ValueError) as exc:
            self._committed(batch, exc)

    def _committed(self, batch: _Batch, error: BaseException | None) -> None:
        """Store.submit's on_done, on the writer thread: hand over, touch nothing."""
        self._results.put((batch, error))
        self._wake.notify()

    def released(self) -> Iterator[core_mod.Update]:
        """Committed updates in sequence order, each exactly once; failed batches are
        logged, counted and their UUIDs forgotten so that a resend gets through."""
        while True:
            try:
                batch, error = self._results.get_nowait()
            except queue.Empty:
                break
            batch.done, batch.error = True, error
        while self._batches and self._batches[0].done:
            batch = self._batches.popleft()
            if batch.error is None:
                yield from batch.updates
                self._stats.incr("clone.published", len(batch.updates))
                self._stats.gauge("clone.last_seq", batch.updates[-1].seq)
                continue
            self._stats.incr("clone.commit_failed", len(batch.updates))
            self._core.forget(u.uuid for u in batch.updates if u.uuid)
            log.error(
                "clone_commit_failed",
                count=len(batch.updates),
                seq=batch.updates[0].seq,
                reason=str(batch.error),
            )
