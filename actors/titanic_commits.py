"""TitanicCommits: the way Titanic's writes reach the store and their results come
back, and Titanic's stop, which must answer the commits still running.

One turn's writes go to the Store in one submit_then(); the store's callback (on the
writer thread) only queues the result and tells the actor, and a stop takes the
results still to come itself. Nothing is acknowledged before its commit. A stopper
asks PrepareStop first (prepare_stop), so that the stop's answers go out while the
edge can still reach the actor. A base class of TitanicActor (`titanic.py`), not a
part it holds, so that the accept path reaches these methods with no extra hop
(tools/bench_titanic.py).
"""

from __future__ import annotations

import contextlib
import queue
import time
from typing import Any, Final

import pykka
import structlog

from raspy.actors import messages as msgs
from raspy.actors.worker import LocalWorker
from raspy.cores import titanic as core_mod
from raspy.cores.titanic import TitanicCore
from raspy.errors import PackingError, StoreError
from raspy.protocol import titanic as tsp
from raspy.records import frozen
from raspy.stats import Stats
from raspy.storage import titanic_records as records
from raspy.storage.store import Store
from raspy.storage.turn_writes import TurnWrites
from raspy.ticker import DeadlineTicker

log = structlog.get_logger(component="titanic")

# how long a stop waits for the commits still running (the supervisor waits 3 s)
_STOP_COMMITS_S: Final = 2.0
# how long the edge may take to drop the handlers as a stop begins (each service)
_HANDLERS_ASK_S: Final = 1.0
# how long a stopper waits for PrepareStop: the commits' wait and a little more
PREPARE_STOP_S: Final = _STOP_COMMITS_S + 1.0


@frozen
class Flush:
    """Submit the writes gathered in this turn (told to self after the first one)."""


@frozen
class PrepareStop:
    """Ask, before stop(): do the stop's work while the edge can still reach the
    actor (prepare_stop)."""


def prepare_stop(ref: pykka.ActorRef[Any]) -> None:
    """What a stopper of Titanic asks before ref.stop() (raspy.child_set's
    prepare_stop: raspyd's stop, a reload of [titanic]). Bounded by PREPARE_STOP_S;
    raises pykka's ActorDeadError or Timeout, which the stop that follows outlives."""
    ref.ask(PrepareStop(), timeout=PREPARE_STOP_S)


class TitanicCommits(pykka.ThreadingActor):
    """The turn's writes (`_writes`), the store's results (`_results`), and the stop
    that answers the commits still running. TitanicActor sets `_core` and the parts
    the stop lets go, and carries out what the core returns (`_run`)."""

    _core: TitanicCore
    _edge: pykka.ActorRef[Any]
    _owner: bytes  # its route at the edge
    _workers: dict[bytes, LocalWorker]
    _ticker: DeadlineTicker
    _stats: Stats

    def __init__(self, store: Store) -> None:
        super().__init__()
        # Group commit, first stage: one turn's writes become one submit. The
        # store's results wait here until the actor takes them (a Committed tells
        # it to; a stop takes them itself, as no tell reaches it then).
        self._writes = TurnWrites(
            store,
            self._tell_committed,
            request_flush=lambda: self.actor_ref.tell(Flush()),
        )
        self._results: queue.SimpleQueue[tuple[int, BaseException | None]] = (
            queue.SimpleQueue()
        )
        self._stopping = False  # no dispatch goes out: the next instance sends them
        self._left = False  # the workers DISCONNECTed, detached from the edge

    def _run(self, outputs: list[core_mod.Output]) -> None:
        """TitanicActor's: carry out the core's outputs."""
        raise NotImplementedError

    def _now(self) -> float:
        """TitanicActor's: its clock's monotonic time."""
        raise NotImplementedError

    def _prepare_stop(self) -> None:
        """PrepareStop: the stop's work while the edge can still tell this actor
        anything (pykka marks it stopped before on_stop: a tell of the edge then
        fails, and the edge forgets its workers, their answers refused and the
        stored requests they held queued again, to be stored twice). The handlers
        go first (asked, so that the answers written after it hand it nothing
        more), then the commits are answered through workers the broker still
        knows, then the workers leave. A request handed to it since is still
        stored and answered (the broker no longer holds it; on_stop waits for its
        commit); one for a worker is dropped: its DISCONNECT queued it again."""
        log.info("titanic_stopping", workers=len(self._workers))
        self._ticker.stop()
        with contextlib.suppress(pykka.ActorDeadError, pykka.Timeout):
            for service in tsp.SERVICES:
                handle = msgs.HandleLocally(service, None)
                self._edge.ask(handle, timeout=_HANDLERS_ASK_S)
        self._leave()

    def _leave(self) -> int:
        """Stop the ticker, answer the commits still running, DISCONNECT the
        workers, and detach from the edge (once: after PrepareStop, the stop only
        answers the commits begun since); how many batches stayed unacknowledged."""
        self._ticker.stop()
        try:
            unacknowledged = self._finish_commits()
        except Exception:  # the edge must still hear of the stop below
            self._stats.incr("titanic.errors")
            log.exception("titanic_stop_commits_failed")
            unacknowledged = self._writes.running()
        if self._left:
            return unacknowledged
        self._left = True
        for worker in self._workers.values():
            worker.disconnect()
        with contextlib.suppress(pykka.ActorDeadError):
            for service in tsp.SERVICES:
                self._edge.tell(msgs.HandleLocally(service, None))
            self._edge.tell(msgs.DetachLocal(self._owner))
            self._edge.tell(msgs.UnwatchServices(self.actor_ref))
        return unacknowledged

    def _finish_commits(self) -> int:
        """At a stop (a reload of [titanic], raspyd's stop): submit what is gathered
        and take the results of the commits still running, up to _STOP_COMMITS_S, so
        that a request stored is answered, not left to its client's retry (stored
        and run twice). Their dispatches are left to the next instance, which finds
        them queued in the store. The edge is still up: it stops after its parts.
        Returns how many batches stayed unacknowledged."""
        self._stopping = True
        self._writes.flush()
        deadline = time.monotonic() + _STOP_COMMITS_S
        while self._writes.running():
            left = max(0.0, deadline - time.monotonic())
            try:
                result = self._results.get(timeout=left)
            except queue.Empty:
                break
            self._writes.covered()  # no Flush can be told now: flushed below
            try:
                self._on_batch_committed(*result)
            finally:
                self._writes.flush()
        running = self._writes.running()
        if running:
            log.warning("titanic_commits_unacknowledged", batches=running)
        return running

    def _persist(
        self, token: int, writes: tuple[core_mod.Write, ...]
    ) -> list[core_mod.Output]:
        """Gather one Persist for this turn's submit; refuse it alone if invalid."""
        try:
            self._writes.add(token, [records.store_op(write) for write in writes])
        except (StoreError, PackingError, ValueError) as exc:
            log.error("titanic_commit_failed", reason=str(exc))
            return self._core.on_committed(token, False, self._now())
        return []

    def _on_batch_committed(self, batch: int, error: BaseException | None) -> None:
        if error is not None:
            log.error("titanic_commit_failed", reason=str(error))
        tokens = self._writes.tokens_of(batch)
        self._run(self._core.on_batch_committed(tokens, error is None, self._now()))

    def _take_results(self) -> None:
        """Every commit result waiting (a Committed may find those of later ones,
        and the later Committed then none)."""
        results = self._results
        while True:
            try:
                batch, error = results.get_nowait()
            except queue.Empty:
                return
            self._on_batch_committed(batch, error)

    def _tell_committed(self, batch: int, error: BaseException | None) -> None:
        """On the store's writer thread: keep the result, tell the actor; once it
        is stopping no tell reaches it, and on_stop takes the result itself."""
        self._results.put((batch, error))
        with contextlib.suppress(pykka.ActorDeadError):
            self.actor_ref.tell(msgs.Committed(batch, error))
