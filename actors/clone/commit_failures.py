"""CommitFailures: what a failed write of the Clone server's commit pipeline puts back
or undoes, under CommitPipeline (`commit.py`).

A failed transaction loses its durable updates (counted, logged, their UUIDs forgotten
and their writers told, their expiry as the store has it); the coalesced values a
failed write did not store are pending again while they are still the latest of their
key; coalesced updates no stored mark covers are never published. A base class of
CommitPipeline, so that no call goes through another object.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field

import structlog

from raspy.actors.clone.records import kv_essentials
from raspy.cores import clone as core_mod
from raspy.cores.clone_durability import CoalescingBuffer
from raspy.errors import StoreError
from raspy.stats import Stats
from raspy.storage.ops import Op
from raspy.storage.store import Store
from raspy.storage.tables import Table

log = structlog.get_logger(component="clone")


@dataclass
class Batch:
    """Updates accepted in one loop turn; published once stored (or, for coalesced
    ones only, once their sequence numbers are covered by a stored mark)."""

    entries: list[tuple[core_mod.Update, bool]]  # (update, coalesced)
    mark: int | None = None  # the high-water mark its transaction writes
    # the pending coalesced values its durable updates took out: pending again if
    # its commit fails (else nothing would write the value subscribers have)
    displaced: list[core_mod.Update] = field(default_factory=list)
    done: bool = False
    error: BaseException | None = None
    # records of other tables stored in its transaction (msgs.CommitAlong), each
    # with the future its asker waits on: resolved once, when the batch is written
    along: list[Along] = field(default_factory=list)


@dataclass
class Along:
    """msgs.CommitAlong's records, and the future told when they are stored."""

    ops: tuple[Op, ...]
    done: Future[None]

    def settle(self, error: BaseException | None) -> None:
        """Tell the asker (once: a later call, as at a stop, does nothing)."""
        if self.done.done():
            return
        if error is None:
            self.done.set_result(None)
        else:
            self.done.set_exception(error)


class CommitFailures:
    """_put_back, _lost, _failed, _undo_expiry; CommitPipeline sets the parts they use
    and says which updates are not released yet (`_unsettled`)."""

    _store: Store
    _core: core_mod.CloneCore
    _stats: Stats
    _monotonic: Callable[[], float]
    _on_lost: Callable[[bytes, bytes, str], None] | None
    buffer: CoalescingBuffer

    def _unsettled(self) -> Iterator[core_mod.Update]:
        """CommitPipeline's: accepted updates not released yet, newest first."""
        raise NotImplementedError

    def _put_back(self, updates: list[core_mod.Update]) -> int:
        """Coalesced updates a failed write did not store are pending again, each
        only if it is still the latest this server has of its key (published, or on
        its way to be): a newer value, durable or not, is written instead. How many."""
        kept = 0
        for update in self._latest(updates):
            if self.buffer.restore(update):
                kept += 1
        return kept

    def _latest(self, updates: list[core_mod.Update]) -> list[core_mod.Update]:
        """Those of `updates` that are still the latest this server has of their
        key (published, or on its way to be)."""
        newest: dict[bytes, int] = {}
        for update in self._unsettled():  # newest first; failed durable ones left out
            newest.setdefault(update.key, update.seq)
        live: list[core_mod.Update] = []
        for update in updates:
            latest = newest.get(update.key)
            if latest is None:
                shown = self.buffer.shown(update.key)
                if shown is not None and shown.seq == update.seq:
                    live.append(update)
            elif latest == update.seq:
                live.append(update)
        return live

    def _lost(self, batch: Batch) -> None:
        """Coalesced updates no stored mark covers are never published, so never
        written either: the store keeps what subscribers were last told, which is
        pending again if it was not written yet."""
        self._stats.incr("clone.coalesced.lost", len(batch.entries))
        for update, _ in batch.entries:
            self.buffer.drop(update)
        keys = dict.fromkeys(update.key for update, _ in batch.entries)
        batch.entries = []
        shown = [self.buffer.shown(key) for key in keys]
        self._put_back([update for update in shown if update is not None])

    def _failed(self, batch: Batch) -> None:
        """Drop the durable updates of a failed batch; keep the coalesced ones."""
        durable = [u for u, c in batch.entries if not c]
        coalesced: list[tuple[core_mod.Update, bool]] = [
            (u, c) for u, c in batch.entries if c
        ]
        if durable:
            self._stats.incr("clone.commit_failed", len(durable))
            self._core.forget(u.uuid for u in durable if u.uuid)
            self._undo_expiry(durable)
            if self._on_lost is not None:
                for update in durable:
                    if update.uuid:
                        self._on_lost(update.key, update.uuid, "commit_failed")
            log.error(
                "clone_commit_failed",
                count=len(durable),
                seq=durable[0].seq,
                reason=str(batch.error),
            )
            # what subscribers were last shown of each key is pending again: the
            # reading the set took out, or one in a flush that failed beside it
            keys = dict.fromkeys(update.key for update in durable)
            shown = [s for key in keys if (s := self.buffer.shown(key)) is not None]
            self._put_back([*batch.displaced, *shown])
            # one retry: a mark alone for the coalesced ones, then they are lost
            batch.error = None if coalesced else batch.error
        batch.entries = coalesced

    def _undo_expiry(self, failed: list[core_mod.Update]) -> None:
        """The core set or ended each failed update's expiry when it accepted it: a
        permanent key whose ephemeral set was lost would be deleted at that ttl. The
        key expires again as the store has it, unless an update accepted since
        (still on its way, or published and not yet written) decides it."""
        lost = {update.key: update.seq for update in failed}  # the newest of each
        newer: dict[bytes, int] = {}
        for update in self._unsettled():  # newest first; the failed ones left out
            newer.setdefault(update.key, update.seq)
        now = self._monotonic()
        for key, seq in lost.items():
            shown = self.buffer.shown(key)
            if newer.get(key, 0) > seq or (shown is not None and shown.seq > seq):
                continue
            try:
                value = self._store.get(Table.KV, key)
                ttl_s = None if value is None else kv_essentials(value)[2]
            except StoreError as exc:  # left as it is: the next start reads it
                log.error("clone_expiry_unread", key=key.hex(), reason=str(exc))
                continue
            self._core.restore_expiry(key, ttl_s, now)
