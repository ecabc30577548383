"""The store's single writer thread: group commit, then acknowledge (never the reverse).

Everything queued while one transaction commits goes into the next one. A future is
resolved (and on_done called, on this thread) only after its transaction is synced:
right away when nothing else is queued, else just before the next transaction's
commit, so that the acknowledged threads run while the disk syncs.

A commit stuck (an fsync on a dying SD card) stops every durable write while the
thread lives: `busy_for_s` says how long the commit in hand has taken, for raspyd's
supervisor (actors/runtime_watch.py); an idle writer is never busy. The clock starts
again at each commit, and once a growth of the map returns: a bad group written
again job by job (one fsync each) or a growth's wait for read views (bounded by
itself) is many steps, none of them stuck.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import CancelledError, Future
from dataclasses import dataclass
from typing import Final

import structlog

from raspy.errors import StoreError
from raspy.storage import pins
from raspy.storage.env import Environment
from raspy.storage.txn import WriteTxn

log = structlog.get_logger(component="store")

_READER_CHECK_INTERVAL_S: Final = 60.0

Done = Callable[[BaseException | None], None]


@dataclass(slots=True)  # not frozen: built once per write, on the hot path
class Job:
    """One submit(): its writes, how to report, and whether it may share a txn."""

    apply: Callable[[WriteTxn], None]
    ops: int
    future: Future[None] | None  # None: on_done alone reports (Store.commit)
    on_done: Done | None
    alone: bool = False
    # bytes the map should have free before its txn (Environment.make_room)
    room: int = 0


class GroupWriter:
    """Owns every write transaction of one Environment; see the module docstring."""

    def __init__(self, env: Environment, *, group_commit: bool) -> None:
        self._env = env
        self._group_commit = group_commit
        self._cond = threading.Condition()
        self._queue: deque[Job] = deque()
        self._stopping = False
        self._committed: list[Job] = []  # synced, not yet acknowledged (this thread)
        self._counts = {"submits": 0, "batches": 0, "commits": 0, "ops": 0, "failed": 0}
        self._next_reader_check = time.monotonic() + _READER_CHECK_INTERVAL_S
        # when the commit in hand (its txn and fsync) or a step that writes nothing
        # (acknowledgements, the readers' check) began,
        # time.monotonic(); None while waiting for work. Set on this thread, read on
        # the supervisor's without the lock: one attribute, replaced whole
        self._busy_since: float | None = None
        self._thread = threading.Thread(
            target=self._run, name="raspy-store-writer", daemon=True
        )
        self._thread.start()

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def in_writer_thread(self) -> bool:
        return threading.current_thread() is self._thread

    def submit(self, job: Job) -> None:
        with self._cond:
            if self._stopping:
                raise StoreError(f"store in {self._env.path} is closed")
            self._queue.append(job)
            self._counts["submits"] += 1
            self._cond.notify()

    def close(self, timeout_s: float | None = None) -> bool:
        """Write everything already queued, then stop the thread; whether it ended
        within `timeout_s` (None: wait for it). A thread stuck in a commit cannot be
        stopped: the caller leaves it, and what it holds, to the process's exit."""
        if self.in_writer_thread():
            raise RuntimeError("Store.close() called from the store's writer thread")
        with self._cond:
            self._stopping = True
            self._cond.notify()
        self._thread.join(timeout_s)
        return not self._thread.is_alive()

    def busy_for_s(self) -> float:
        """How long the writer has been on its current commit, or on a step that
        writes nothing (0.0: waiting for work): past the hang bound, its commit is
        stuck. Takes no lock."""
        since = self._busy_since
        return 0.0 if since is None else time.monotonic() - since

    def counts(self) -> dict[str, int]:
        with self._cond:
            return dict(self._counts)

    def _take(self) -> list[Job] | None:
        """The next batch; [] when idle; None when stopped and drained."""
        with self._cond:
            if not self._queue:
                if self._stopping:
                    return None
                if not self._committed:  # acknowledge before waiting, never after
                    self._cond.wait(timeout=_READER_CHECK_INTERVAL_S)
                return []
            if not self._group_commit or self._queue[0].alone:
                return [self._queue.popleft()]
            batch: list[Job] = []
            while self._queue and not self._queue[0].alone:
                batch.append(self._queue.popleft())
            return batch

    def _run(self) -> None:
        while (batch := self._take()) is not None:
            self._busy_since = time.monotonic()
            try:
                self._step(batch)
            finally:
                self._busy_since = None
        self._acknowledge()  # stopped: the last batch

    def _step(self, batch: list[Job]) -> None:
        """One batch written, or the synced ones acknowledged; the readers checked
        when due."""
        if batch:
            self._process(batch)
        else:
            self._acknowledge()
        if time.monotonic() >= self._next_reader_check:
            self._next_reader_check = time.monotonic() + _READER_CHECK_INTERVAL_S
            self._check_readers()

    def _check_readers(self) -> None:
        """Clear the slots of dead readers; warn of a live one that has held one
        snapshot for long (the store grows with each commit while it does)."""
        try:
            cleared = self._env.reader_check()
            pinned = self._env.pinning_readers()
        except Exception:  # the loop must go on; the next check may succeed
            log.exception("store_reader_check_failed", path=str(self._env.path))
            return
        if cleared:
            log.warning(
                "store_stale_readers_cleared", path=str(self._env.path), count=cleared
            )
        for pin in map(pins.named, self._env.pins.newly_long(pinned)):
            log.warning(
                "store_reader_holds_old_snapshot",
                path=str(self._env.path),
                pid=pin.pid,
                command=pin.command,
                held_min=int(pin.held_s // 60),
                commits_behind=pin.behind,
                why="the pages freed since cannot be reused: the store grows until "
                "it ends",
                text=pins.describe(pin),
            )

    def _process(self, batch: list[Job]) -> None:
        live: list[Job] = []
        for job in batch:
            if job.future is None or job.future.set_running_or_notify_cancel():
                live.append(job)
            else:  # cancelled before its txn began: nothing written
                self._notify(job, CancelledError())
        if not live:
            return
        self._bump("batches", 1)
        error = self._write(live)
        if error is None:
            self._committed.extend(live)
            return
        self._acknowledge()
        if len(live) == 1:
            self._finish(live, error)
        else:  # one bad group must not fail the others: write each alone
            for job in live:
                self._finish([job], self._write([job]))

    def _acknowledge(self) -> None:
        """Report every synced job not yet reported (before the next commit)."""
        jobs, self._committed = self._committed, []
        self._finish(jobs, None)

    def _write(self, jobs: list[Job]) -> BaseException | None:
        def apply(txn: WriteTxn) -> None:
            for job in jobs:
                job.apply(txn)

        try:
            room = sum(job.room for job in jobs)
            if room:
                self._restart_clock()
                self._env.make_room(room)
            self._env.write(
                apply, before_commit=self._acknowledge, on_attempt=self._restart_clock
            )
        except StoreError as exc:  # reported to every submitter of the batch
            log.error(
                "store_batch_failed",
                path=str(self._env.path),
                count=len(jobs),
                reason=str(exc),
            )
            return exc
        except Exception as exc:  # a bug; still reported to every submitter
            log.exception(
                "store_batch_failed", path=str(self._env.path), count=len(jobs)
            )
            return exc
        self._bump("commits", 1)
        self._bump("ops", sum(job.ops for job in jobs))
        self._grow_ahead()
        return None

    def _restart_clock(self) -> None:
        """A commit (or a growth before one) begins: busy_for_s counts from now."""
        self._busy_since = time.monotonic()

    def _grow_ahead(self) -> None:
        """Issue 18: grow the map before a write needs it (never waits for readers)."""
        try:
            self._env.grow_ahead()
        except StoreError as exc:  # the next MapFullError grows it, or says why not
            log.error(
                "store_map_growth_failed", path=str(self._env.path), reason=str(exc)
            )

    def _finish(self, jobs: list[Job], error: BaseException | None) -> None:
        if error is not None:
            self._bump("failed", len(jobs))
        for job in jobs:  # on_done first: whoever waits on the future sees its effects
            self._notify(job, error)
            if job.future is None:
                continue
            if error is None:
                job.future.set_result(None)
            else:
                job.future.set_exception(error)

    def _notify(self, job: Job, error: BaseException | None) -> None:
        if job.on_done is None:
            return
        try:
            job.on_done(error)
        except Exception:  # a submitter's callback must not stop the writer
            log.exception("store_callback_failed", path=str(self._env.path))

    def _bump(self, name: str, count: int) -> None:
        with self._cond:
            self._counts[name] += count
