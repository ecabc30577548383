"""A scenario's runs, under ScenarioCore (engine.py): started (the runaway guard
first), resumed after a restart, advanced, ended, stopped, the queue drained, the
scenario disabled.

A base class of ScenarioCore, so that no call goes through another object (the
path of every reading); ScenarioCore's __init__ sets the state declared here. Pure,
as the engine: the times are passed in.
"""

from __future__ import annotations

from typing import Final

from raspy.devices.template import JsonValue
from raspy.rules import run as run_mod
from raspy.rules import trigger_match as tm
from raspy.rules.engine_env import Surroundings
from raspy.rules.engine_output import Checkpoint, Disabled, History, Output, RunEnded
from raspy.rules.model import Scenario
from raspy.rules.run import Run
from raspy.rules.run_book import RunBook
from raspy.rules.run_retime import STALE_RUN_ERROR
from raspy.rules.runaway import RunawayGuard
from raspy.rules.when_watch import WhenWatch

# why a turn queued behind a run started no run: its scenario's runs were stopped
QUEUE_STOPPED: Final = "stopped while it waited its turn (mode queued)"


class ScenarioRuns:
    """_start, _resume, _advance, _end, _stop_runs, _stale, _disable: what becomes of the
    runs once the triggers and the mode have decided."""

    # set by ScenarioCore.__init__
    scenario: Scenario
    _book: RunBook  # the runs going, the queue, the requests
    _env: Surroundings
    _guard: RunawayGuard
    _history: History
    _watch: tm.KvWatch
    _when: WhenWatch
    _disabled: bool
    _draining: bool  # _start_queued's loop is under way
    _wall: float  # the wall time of the input at hand: a failure's time

    def _start(
        self, trigger: dict[str, JsonValue], mono: float, wall: float, out: list[Output]
    ) -> None:
        refused = self._guard.refused(trigger, mono)
        if refused is not None:
            # a trigger that starts no run is a drop, this one too: the books of
            # `scenario.dropped` balance (every trigger a run or a drop)
            out.append(self._history.skipped(refused, trigger, wall, True))
            self._disable(refused, mono, out)
            return
        self._history.started(trigger, wall)
        scope = self._env.scope(trigger, mono, wall)
        program = run_mod.execute(scope, self.scenario.actions)
        self._advance(self._book.add(scope, program), None, mono, wall, out)

    def _resume(
        self, checkpoint: Checkpoint, mono: float, wall: float, out: list[Output]
    ) -> None:
        """A run recorded in a long wait (or a wait_until) before a restart goes
        on: what is left of the wait (of a wait_until's timeout) on the wall clock
        (never more than its whole time, so a clock set back does not stretch it;
        nothing when it ended while raspyd was down), then the rest. It is the same
        run: not counted again, nor by the runaway guard."""
        scope = self._env.scope(dict(checkpoint.trigger), mono, wall)
        program = run_mod.resumed(
            scope,
            self.scenario.actions,
            checkpoint.path,
            checkpoint.left_s(wall),
            checkpoint.seconds,
            until=checkpoint.until,
        )
        run = self._book.add(scope, program)
        # a clock set right later judges the wait by this record's end again,
        # and the record keeps that end until then
        self._book.taken_up(run, checkpoint)
        self._advance(run, None, mono, wall, out)

    def _advance(
        self,
        run: Run,
        resume: run_mod.Resume,
        mono: float,
        wall: float,
        out: list[Output],
    ) -> None:
        out.extend(run.advance(resume, mono, wall))
        waiting = run.waiting  # a wait_until's fault, said as it begins
        if isinstance(waiting, run_mod.AwaitChange) and waiting.fault is not None:
            self._history.error(waiting.fault, wall)
        request = self._book.paused(run, mono, wall)
        if request is not None:
            out.append(request)
        if run.done:
            self._end(run, out)
            self._start_queued(mono, wall, out)

    def _start_queued(self, mono: float, wall: float, out: list[Output]) -> None:
        """The queued runs' turns, in a loop: a run that ends at once comes back
        here through _start, and a queue of up to `max` (1000) such runs, one call
        inside the other, went past Python's stack."""
        if self._draining:
            return  # the loop below starts the next one
        self._draining = True
        book = self._book
        try:
            while book.queue and not book.runs and not self._disabled:
                self._start(book.queue.popleft(), mono, wall, out)
        finally:
            self._draining = False

    def _end(
        self, run: Run, out: list[Output], *, taken_up_later: bool = False
    ) -> None:
        self._book.forget(run)
        self._history.ended(run, self._wall)
        out.append(RunEnded(run.run_id, run.error, taken_up_later))

    def _stop_runs(
        self, mono: float | None, out: list[Output], *, shutdown: bool = False
    ) -> None:
        """Every run going ends now (a stop, the mode restart, a disable, the
        owner's `shutdown`: a run in a long wait is then to be taken up)."""
        for run in list(self._book.runs.values()):
            later = shutdown and run.run_id in self._book.checkpoints
            run.stop(mono)
            self._end(run, out, taken_up_later=later)

    def _stale(self, run: Run, mono: float, out: list[Output]) -> None:
        """A run taken up at a start that a step of the clock showed stale: it ends,
        and the scenario says why (as a start names a stale record's run lost)."""
        run.stop(mono)
        run.error = STALE_RUN_ERROR
        self._end(run, out)

    def _forget_queue(self, out: list[Output]) -> None:
        """The turns still queued when the runs stop (a stop, a disable) go with
        them: each is a trigger that started no run, counted as dropped as one the
        mode turned away, and the last skip says why."""
        queue = self._book.queue
        while queue:
            trigger = queue.popleft()
            out.append(self._history.skipped(QUEUE_STOPPED, trigger, self._wall, True))

    def _disable(self, reason: str, mono: float, out: list[Output]) -> None:
        self._stop_runs(mono, out)
        self._forget_queue(out)
        self._watch.clear()
        self._when.clear()
        self._disabled = True
        self._history.error(reason, self._wall)
        out.append(Disabled(reason))
