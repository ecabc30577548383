"""A scenario's runs under way: the mode's answer to a trigger, and the bookkeeping.

Apart from `rules.engine`, which decides when runs start and end, this keeps who they
are: the runs going, the triggers waiting their turn (mode queued), which run each
request belongs to, where a run waits long enough to outlive a restart, and the
record of those that the owner last heard. Pure; the engine's thread only.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterator
from enum import Enum

from raspy.devices.template import JsonValue
from raspy.rules import run as run_mod
from raspy.rules.engine_output import Checkpoint, Resumable
from raspy.rules.model import Mode
from raspy.rules.run import Run, RunScope, SendRequest
from raspy.rules.run_retime import Retime


class Turn(Enum):
    """What the mode does with a trigger whose conditions hold."""

    START = "start"  # a new run now
    RESTART = "restart"  # the runs going stop, then a new run
    QUEUE = "queue"  # a run once the ones before it ended


def turn(mode: Mode, max_runs: int, busy: int, queued: int) -> Turn | str:
    """The mode's answer with `busy` runs going and `queued` triggers waiting: a
    Turn, or why the trigger is dropped (its limit is reached)."""
    if busy and mode is Mode.SINGLE:
        return "a run is under way (mode single)"
    if busy and mode is Mode.RESTART:
        return Turn.RESTART
    if busy and mode is Mode.QUEUED:
        if busy + queued >= max_runs:
            return f"queue full (max {max_runs})"
        return Turn.QUEUE
    if mode is Mode.PARALLEL and busy >= max_runs:
        return f"{busy} runs going (max {max_runs})"
    return Turn.START


class RunBook:
    """The runs of one scenario and what each waits for. The engine reads `runs`,
    `queue`, `requests` and `checkpoints` directly on its hot paths."""

    def __init__(self, step_limit: int) -> None:
        self.runs: dict[int, Run] = {}
        self.queue: deque[dict[str, JsonValue]] = deque()
        self.requests: dict[int, int] = {}  # request id -> run id
        self.checkpoints: dict[int, Checkpoint] = {}  # run id -> where it waits
        self.recorded = Resumable(())  # the last record said to the owner
        self.last_id = 0  # the run added last (0: none yet)
        self.retime = Retime()  # what a step of the wall clock did to the waits
        self._step_limit = step_limit
        self._ids = itertools.count(1)
        self._request_ids = itertools.count(1)

    def request_id(self) -> int:
        return next(self._request_ids)

    def add(self, scope: RunScope, program: run_mod.Program) -> Run:
        """A new run of `program`, not started yet."""
        run = Run(next(self._ids), scope, program, step_limit=self._step_limit)
        self.runs[run.run_id] = run
        self.last_id = run.run_id
        return run

    def paused(self, run: Run, mono: float, wall: float) -> SendRequest | None:
        """`run` went on as far as it could at (`mono`, `wall`): what it waits for is
        noted (a request's run, a long wait's checkpoint); the request to send."""
        self.retime.laid_over(run)  # a wait_until's wake: what a step changed
        waiting = run.waiting
        checkpoint = _checkpoint(run, mono, wall)
        if checkpoint is not None:
            self.checkpoints[run.run_id] = self.retime.recorded(run, checkpoint)
        else:
            self.checkpoints.pop(run.run_id, None)
        if isinstance(waiting, SendRequest):
            self.requests[waiting.request_id] = run.run_id
            return waiting
        return None

    def taken_up(self, run: Run, checkpoint: Checkpoint) -> None:
        """`run` is taken up at a start from `checkpoint`, before its first
        advance: while it waits there, its record says the end `checkpoint` said
        (Retime.recorded, when paused() records it)."""
        self.retime.taken_up(run, checkpoint)

    def forget(self, run: Run) -> None:
        """`run` ended: it, its requests and its checkpoint go."""
        self.runs.pop(run.run_id, None)
        self.checkpoints.pop(run.run_id, None)
        self.retime.forget(run.run_id)
        self.requests = {r: i for r, i in self.requests.items() if i != run.run_id}

    def answered(self, request_id: int) -> Run | None:
        """The run that waits for the answer to `request_id`; None for a late one
        (its run gone, or it timed out)."""
        run = self.runs.get(self.requests.pop(request_id, 0))
        waiting = None if run is None else run.waiting
        if isinstance(waiting, SendRequest) and waiting.request_id == request_id:
            return run
        return None

    def due(self, mono: float) -> Iterator[tuple[Run, run_mod.Resume]]:
        """The runs whose sleep ended or whose request or wait timed out by `mono`,
        or whose wait_until reads the time and its minute turned, with what resumes
        each. Lazy: each run is looked at once the ones before it went on (their
        ends may have stopped it)."""
        for run in list(self.runs.values()):
            waiting = run.waiting
            if isinstance(waiting, run_mod.Sleep) and waiting.deadline <= mono:
                yield run, None
            elif (
                isinstance(waiting, SendRequest | run_mod.AwaitChange)
                and waiting.deadline is not None
                and waiting.deadline <= mono
            ):
                if isinstance(waiting, SendRequest):
                    self.requests.pop(waiting.request_id, None)
                yield run, run_mod.TimedOut()
            elif (
                isinstance(waiting, run_mod.AwaitChange)
                and waiting.retest_at is not None
                and waiting.retest_at <= mono
            ):
                yield run, run_mod.Woken()  # tested again as the tree is

    def stepped(self, delta_s: float, mono: float, wall: float) -> list[Run]:
        """The wall clock stepped by `delta_s`: each long wait's checkpoint is made
        again from the clocks as they are now (Retime.after_step), so that the next
        record says when it really ends. The runs taken up at a start that the step
        shows stale, to drop."""
        stale: list[Run] = []
        for run in list(self.runs.values()):
            if not self.retime.after_step(run, delta_s, mono, wall):
                stale.append(run)
            elif run.run_id in self.checkpoints:
                self.paused(run, mono, wall)
        return stale

    def recordable(self, mono: float, wall: float) -> None:
        """The runs in a `wait_until` that have waited long enough by `mono` get
        their checkpoint (the timer of AwaitChange.record_at; a wake may have
        given it already)."""
        for run in self._unrecorded():
            self.paused(run, mono, wall)  # no checkpoint yet for one not due

    def next_deadline(self) -> float | None:
        """The earliest deadline a run waits for, a wait_until's record's time
        and the next minute of one that reads the time among them."""
        deadlines = [
            run.waiting.deadline
            for run in self.runs.values()
            if run.waiting is not None and run.waiting.deadline is not None
        ]
        deadlines += [
            run.waiting.record_at
            for run in self._unrecorded()
            if isinstance(run.waiting, run_mod.AwaitChange)  # (mypy)
        ]
        deadlines += [
            run.waiting.retest_at
            for run in self.runs.values()
            if isinstance(run.waiting, run_mod.AwaitChange)
            and run.waiting.retest_at is not None
        ]
        return min(deadlines, default=None)

    def _unrecorded(self) -> list[Run]:
        """The runs in a wait_until that will be recorded and is not yet."""
        return [
            run
            for run in self.runs.values()
            if isinstance(run.waiting, run_mod.AwaitChange)
            and run.waiting.place is not None
            and run.run_id not in self.checkpoints
        ]

    def record(self) -> Resumable | None:
        """The runs a restart would take up, when they changed since the owner last
        heard (then it hears this); None when they did not."""
        runs = tuple(self.checkpoints[i] for i in sorted(self.checkpoints))
        lost = len(self.runs) - len(runs) + len(self.queue) if runs else 0
        resumable = Resumable(runs, lost)
        if resumable == self.recorded:
            return None
        self.recorded = resumable
        return resumable


def _checkpoint(run: Run, mono: float, wall: float) -> Checkpoint | None:
    """Where `run` waits, if a restart would take it up there: a long `wait`, or a
    `wait_until` that has waited until its `record_at`."""
    waiting = run.waiting
    if isinstance(waiting, run_mod.Sleep) and waiting.place is not None:
        end = wall + (waiting.deadline - mono)
        return Checkpoint(waiting.place, end, waiting.seconds, run.scope.trigger)
    if (
        isinstance(waiting, run_mod.AwaitChange)
        and waiting.place is not None
        and waiting.record_at <= mono
    ):
        return Checkpoint(
            waiting.place,
            waiting.end_wall,
            waiting.seconds,
            run.scope.trigger,
            until=True,
        )
    return None
