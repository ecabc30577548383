"""The Clone server's side of the store: durable before published (docs/protocols.md §6.4),
or coalesced: published at once, written latest-per-key once an interval (issue 17).

Everything accepted in one I/O loop turn goes to the store in one submit; the store's
writer thread reports back through a self-pipe (it never touches a ZeroMQ socket), and
the I/O thread publishes batches strictly in sequence order. kv.meta last_seq is a
high-water mark: no number above it was ever given out, so a restart starts past it.
At start-up the stored sequence and ephemeral keys are read back (§6.6).
"""

from __future__ import annotations

import functools
import queue
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future

import structlog
import zmq

from raspy.actors.clone.commit_failures import Along, Batch
from raspy.actors.clone.flushes import CoalescedFlushes, Flush, Round
from raspy.actors.clone.records import (
    forget_volatile,
    kv_essentials,
    load_state,
    store_ops,
)
from raspy.cores import clone as core_mod
from raspy.cores.clone_durability import (
    CoalescingBuffer,
    SequenceBlocks,
    is_volatile,
)
from raspy.errors import StoreError, StoreOutcomeUnknown
from raspy.stats import Stats
from raspy.storage.store import Op, Put, Store
from raspy.storage.tables import LAST_SEQ_KEY, Table, encode_seq
from raspy.transport.wakeup import Wakeup

log = structlog.get_logger(component="clone")


class CommitPipeline(CoalescedFlushes):
    """Accepted -> submitted -> committed -> released in order. I/O thread only,
    except `_committed`, which the writer thread calls.

    Durable updates are stored before they are released; coalesced ones go to the
    CoalescingBuffer and are written, latest per key, by tick() every
    `coalesce_interval_s` and by flush() at a clean stop (issue 17): their base
    class's (`flushes.py`), as what a failed write puts back or undoes is its base's
    (`commit_failures.py`).
    """

    def __init__(
        self,
        store: Store,
        core: core_mod.CloneCore,
        stats: Stats,
        wake: Wakeup,
        monotonic: Callable[[], float] = time.monotonic,
        on_lost: Callable[[bytes, bytes, str], None] | None = None,
    ) -> None:
        """How often coalesced values are written, and the block of sequence numbers
        reserved at a time, come from the store's config (issue 17). `monotonic`
        is the loop's clock (ttl deadlines); `on_lost(key, uuid, reason)`: a durable
        update with a uuid was lost with its commit (its writer is told)."""
        self._store = store
        self._on_lost = on_lost
        self._monotonic = monotonic
        self._core = core
        self._stats = stats
        self._wake = wake
        self._interval_s = store.config.coalesce_interval_s
        self._next_flush: float | None = None
        self._flushing: Round | None = None
        self._flush_failures = 0  # a stop tries no flush again once one failed
        self._refused_keys: set[bytes] = set()
        self.buffer = CoalescingBuffer()
        self.blocks = SequenceBlocks(core.last_seq, store.config.seq_block)
        self.published_seq = core.last_seq  # everything up to here went out
        self._mark_submitted = core.last_seq
        self._accepted: list[tuple[core_mod.Update, bool]] = []
        self.held_back = False  # the last submit() held what was accepted back
        self._displaced: list[core_mod.Update] = []  # by _accepted's durable ones
        self._along: list[Along] = []  # stored with what _accepted holds
        self._batches: deque[Batch] = deque()
        self._results: queue.SimpleQueue[tuple[Batch | Flush, BaseException | None]] = (
            queue.SimpleQueue()
        )

    def load(self, now: float) -> int:
        """Restore the sequence and the ephemeral keys (§6.6: a fresh full ttl from
        `now`) into the core, and start from the stored high-water mark; call once.

        A server started again in this process (its I/O thread failed) reads them
        once what the one before submitted is written: else it would give out again
        the numbers that were waiting in the store's queue. Stored volatile keys
        (an older raspyd's `/stats/`) are deleted here, once."""
        self._store.written()
        loaded = load_state(self._store, self._stats)
        forget_volatile(self._store, loaded, self._stats)
        last_seq = loaded.last_seq
        core = self._core
        core.load(last_seq, loaded.ephemeral, now)
        self.blocks = SequenceBlocks(core.last_seq, self.blocks.block)
        self.published_seq = self._mark_submitted = core.last_seq
        self._stats.gauge("clone.last_seq", last_seq)
        self._stats.gauge("clone.ephemeral_keys", core.ephemeral_count)
        return core.last_seq

    def finish(self, publish: Callable[[], None], limit_s: float) -> None:
        """At a clean stop: store what was accepted and the coalesced values (issue 17:
        nothing is lost), calling `publish` as batches are stored, for up to `limit_s`."""
        self.submit()
        self._settle(publish, limit_s)

    def write_pending(self, limit_s: float) -> None:
        """After the I/O thread failed: store what was accepted and the coalesced
        values (subscribers were told most of them) and publish nothing, for up to
        `limit_s`; a durable update is stored, or its writer told it is lost
        (on_lost). The server started in its place reads the store once they are
        written (load())."""
        self.submit()
        self._settle(None, limit_s)

    def _settle(self, publish: Callable[[], None] | None, limit_s: float) -> None:
        failures = self._flush_failures
        self.flush()
        deadline = time.monotonic() + limit_s
        poller = zmq.Poller()
        poller.register(self._wake.read_fd, zmq.POLLIN)
        while time.monotonic() < deadline:
            # a flush that failed here is not tried again: the values it kept are
            # lost with the process, as they were before the stop
            retry = self._flush_failures == failures
            waiting = bool(
                self._flushing or self._batches or (retry and self.buffer.pending_count)
            )
            if publish is not None:
                waiting = waiting or (retry and self.in_flight)
            if not waiting:
                return
            poller.poll(100)
            self._wake.drain()
            if publish is None:  # settled as released, told to no one
                for _ in self.released(told=False):
                    pass
            else:
                publish()
            if retry:
                self.flush()  # what came in while the last flush was stored

    @property
    def storing(self) -> bool:
        """Something submitted is not released yet: the store may hold an update no
        subscriber was told of, which a snapshot started now would serve (§6.3)."""
        return bool(self._batches)

    @property
    def in_flight(self) -> bool:
        """Something is accepted, being stored, or (coalesced) not yet written."""
        return bool(
            self._batches
            or self._accepted
            or self._along
            or self._flushing
            or self.buffer.pending_count
        )

    def accept(self, update: core_mod.Update, *, coalesced: bool = False) -> None:
        """A volatile key's update, from wherever it came (a client's KVSET, a ttl
        that ran out), goes as a coalesced one: out once a stored mark covers its
        number, so that none is given twice after a kill -9; never written (the
        buffer keeps it)."""
        coalesced = coalesced or is_volatile(update.key)
        self._accepted.append((update, coalesced))
        self.blocks.cover(update.seq, coalesced=coalesced)
        if coalesced:
            self.buffer.accept(update)
        else:
            displaced = self.buffer.supersede(update)
            # no coalesced value of the key to write alone any more: a new one may
            # fit (a delete, say); left remembered, the set only grew
            self._refused_keys.discard(update.key)
            if displaced is not None:
                self._displaced.append(displaced)

    @property
    def unreleased(self) -> int:
        """Accepted updates not released yet: each will be told to the subscribers."""
        return len(self._accepted) + sum(len(b.entries) for b in self._batches)

    def submit(self, *, hold: bool = False) -> None:
        """Group commit: everything accepted since the last call, in one submit.

        A turn of coalesced updates alone stores nothing, unless their numbers
        need a new block (then only the mark is written before they go out).
        `hold`: a snapshot waits to start until nothing is on its way to the store
        (§6.3): what was accepted waits (`held_back`) for a call without it.
        """
        waiting = bool(self._accepted or self._along)
        self.held_back = hold and waiting
        if not waiting or hold:
            return
        batch = Batch(self._accepted, displaced=self._displaced, along=self._along)
        self._accepted, self._displaced, self._along = [], [], []
        self._batches.append(batch)
        durable = [u for u, c in batch.entries if not c]
        if durable or batch.along or self.blocks.wanted > self._mark_submitted:
            self._write(batch, durable)
        else:
            # covered by a stored mark, or by one being stored by an earlier batch
            # (released in order after it; if that one fails, released() writes one)
            batch.done = True

    def _write(self, batch: Batch, durable: list[core_mod.Update]) -> None:
        batch.mark = self._mark_submitted = self.blocks.wanted
        batch.done, batch.error = False, None
        try:
            if durable:
                ops = store_ops(durable, batch.mark)
            else:
                ops = [Put(Table.KV_META, LAST_SEQ_KEY, encode_seq(batch.mark))]
                if not batch.along:
                    self._stats.incr("clone.seq_blocks")
            ops += [op for along in batch.along for op in along.ops]
            self._store.submit_then(ops, functools.partial(self._committed, batch))
        except (StoreError, ValueError) as exc:
            self._committed(batch, exc)

    def accept_along(self, ops: Sequence[Op], done: Future[None]) -> bool:
        """Records of other tables to store in the transaction of what was accepted
        this turn (msgs.CommitAlong: after its own sets); `done` is told once it
        is synced, or fails with its error. Checked against the store's limits
        here (ValueTooLargeError), not in the transaction, which others share.
        False, and nothing taken, when its asker gave up first (cancelled)."""
        frozen = tuple(ops)
        self._store.validate(frozen)
        if not done.set_running_or_notify_cancel():
            return False
        self._along.append(Along(frozen, done))
        return True

    def abandon_along(self, reason: str) -> None:
        """At the server's stop: an asker still waiting is told. Records never
        handed to the store are not stored (StoreError); those in a batch the
        store's queue holds may still land (StoreOutcomeUnknown: the store is not
        the server's, and its writer writes what is queued)."""
        for along in self._along:
            along.settle(StoreError(reason))
        for along in (a for batch in self._batches for a in batch.along):
            along.settle(StoreOutcomeUnknown(f"{reason} before the store ended it"))

    def overlay(self, subtree: bytes) -> list[core_mod.Update]:
        """Published coalesced updates not yet stored, for snapshots (key order)."""
        return self.buffer.overlay(subtree)

    def current_seq(self, key: bytes) -> int:
        """The sequence number of the latest update accepted for `key`: what was
        accepted this turn, then what is being stored, then what is published but
        not yet stored, then the store. 0: none, or a deletion; -1: the store could
        not say (a damaged record, a failed read), which no expectation matches."""
        for update in self._unsettled():
            if update.key == key:
                return 0 if update.is_delete else update.seq
        shown = self.buffer.shown(key)
        if shown is not None:
            return 0 if shown.is_delete else shown.seq
        try:
            value = self._store.get(Table.KV, key)
            return 0 if value is None else kv_essentials(value)[0]
        except StoreError:
            return -1

    def _durable_on_their_way(self) -> set[bytes]:
        """The keys of durable updates submitted and not released yet (a failed
        batch's too, until it is settled): the store's writer takes them before a
        flush submitted now, which must not write an older value of theirs after
        them. What is accepted and not submitted yet goes after the flush."""
        keys: set[bytes] = set()
        for batch in self._batches:
            keys.update(
                update.key for update, coalesced in batch.entries if not coalesced
            )
        return keys

    def _unsettled(self) -> Iterator[core_mod.Update]:
        """Accepted updates not released yet, newest first (a failed batch's
        durable ones left out: they are lost)."""
        for update, _ in reversed(self._accepted):
            yield update
        for batch in reversed(self._batches):
            for update, coalesced in reversed(batch.entries):
                if batch.error is None or coalesced:
                    yield update

    def _committed(self, job: Batch | Flush, error: BaseException | None) -> None:
        """Store.submit's on_done, on the writer thread: hand over, touch nothing."""
        self._results.put((job, error))
        self._wake.notify()

    def _collect(self) -> None:
        while True:
            try:
                job, error = self._results.get_nowait()
            except queue.Empty:
                return
            if isinstance(job, Flush):
                self._flushed(job, error)
                continue
            job.done, job.error = True, error
            for along in job.along:  # stored (or not) with this very transaction
                along.settle(error)
            job.along = []
            if error is None and job.mark is not None:
                self.blocks.confirm(job.mark)
            elif error is not None:
                self._mark_submitted = self.blocks.confirmed

    def released(self, *, told: bool = True) -> Iterator[core_mod.Update]:
        """Stored (or covered) updates in sequence order, each exactly once.

        A failed transaction loses its durable updates: logged, counted, their
        writers told (on_lost) and their UUIDs forgotten so that a resend gets
        through. Its coalesced updates still go out once a mark covers them; if
        storing that mark alone fails, they are lost. `told=False` (after the I/O
        thread failed): the caller publishes nothing, so none is counted published.
        """
        self._collect()
        while self._batches and self._batches[0].done:
            batch = self._batches[0]
            if batch.error is not None:
                self._failed(batch)
            if batch.entries and not self._covered(batch):
                if batch.error is None:
                    self._write(batch, [])  # store a mark for it first
                    return
                self._lost(batch)
            self._batches.popleft()
            if batch.entries:
                yield from self._release(batch, told)

    def _covered(self, batch: Batch) -> bool:
        last = max((u.seq for u, c in batch.entries if c), default=0)
        return self.blocks.covered(last)

    def _release(self, batch: Batch, told: bool) -> Iterator[core_mod.Update]:
        buffer = self.buffer
        for update, coalesced in batch.entries:
            buffer.released(update, coalesced=coalesced)
            yield update
        self.published_seq = batch.entries[-1][0].seq
        if told:
            self._stats.incr("clone.published", len(batch.entries))
        self._stats.gauge("clone.last_seq", self.published_seq)
