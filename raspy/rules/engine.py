"""The engine of one scenario: triggers in; runs, effects and state out (pure).

No sockets, no threads, no clock, no random source of its own: every call takes `mono`
(monotonic s, deadlines) and `wall` (epoch s, what `now()` sees), and `random()` and a
random `wait` draw from the `rng` it is given. Modes behave as Home Assistant's:
`single` ignores a trigger while a run goes on, `restart` stops the run and starts
again, `queued` runs one after another with at most `max` running or waiting,
`parallel` runs up to `max` at once. More than `max_runs_per_minute` starts in a minute disable the scenario.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, TypeAlias, get_args
from zoneinfo import ZoneInfo

from raspy.devices.template import JsonValue
from raspy.errors import ScenarioError
from raspy.rules import model
from raspy.rules import run as run_mod
from raspy.rules import trigger_match as tm
from raspy.rules.model import EvalContext, Mode, RandomSource, Scenario, SunEvent
from raspy.rules.own_writes import OwnWrites
from raspy.rules.resume_path import Path
from raspy.rules.run import Effect, Run, RunClock, RunEnv, RunScope, SendRequest

RUNAWAY_WINDOW_S: Final = 60.0
_REASON_CHARS: Final = 300  # a skip's reason, the condition's text included
# Starts by these triggers are not counted by the runaway guard: their schedule bounds
# their rate (`every: 1s` is 60 a minute by design), and no action can make them fire
# again, which is what a runaway is (a scenario whose set re-triggers it).
SCHEDULED_KINDS: Final = frozenset(
    tm.kind_of(trigger) for trigger in get_args(model.TimeTrigger)
)


class State(StrEnum):
    IDLE = "idle"
    RUNNING = "running"
    DISABLED = "disabled"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Status:
    """What `/scenario/<name>/…` shows; last_run is epoch seconds."""

    state: State
    runs: int = 0
    last_run: float | None = None
    last_trigger: Mapping[str, JsonValue] | None = None
    last_error: str | None = None
    # the last trigger that started no run, and why (`at`, `reason`, `trigger`):
    # the answer to "why did it not run?"; kept in memory only, never written
    last_skip: Mapping[str, JsonValue] | None = None
    # what the last run that ended did, a line an action (RunScope.trace), and how
    # it ended: the answer to "why did it do that?"; in memory only, as last_skip
    last_trace: tuple[str, ...] = ()
    # what the run under way (the oldest, in parallel mode) did so far: a run in a
    # 20-minute fade showed only `running`, and `last_trace` was the run before it
    run_trace: tuple[str, ...] = ()
    last_error_at: float | None = None  # epoch seconds of the failure last_error tells


@dataclass(frozen=True, slots=True)
class StatusChanged:
    status: Status


@dataclass(frozen=True, slots=True)
class Disabled:
    """The runaway guard stopped the scenario; its owner should store it disabled."""

    reason: str


@dataclass(frozen=True, slots=True)
class RunEnded:
    """A run ended: `error` is None when it finished (or stopped) cleanly. Run id 0:
    no run started because a condition could not be evaluated (`error` says why)."""

    run_id: int
    error: str | None


@dataclass(frozen=True, slots=True)
class Skipped:
    """A trigger started no run: conditions false, or the mode's limit reached
    (`dropped`: a doorbell pressed while its runs were full is not rung)."""

    reason: str
    dropped: bool = False


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A run paused in a long `wait`: enough to take it up after a restart of
    raspyd. `path` is where the wait is (rules.resume_path: the top-level action,
    or the choose branches and repeat passes down to it), `end_wall` when the wait
    ends on the wall clock (epoch s), `seconds` its whole duration."""

    path: Path
    end_wall: float
    seconds: float
    trigger: Mapping[str, JsonValue]

    def left_s(self, wall: float) -> float:
        """What is left of the wait at `wall`: never more than the whole wait (a
        clock set back does not stretch it), nothing once it ended."""
        return min(max(self.end_wall - wall, 0.0), self.seconds)


@dataclass(frozen=True, slots=True)
class Resumable:
    """The runs that a restart would take up changed: the owner keeps `runs` where a
    start finds them (none: it forgets the record). `lost`: the other runs a restart
    would end meanwhile (runs elsewhere, queued turns), which a start names lost."""

    runs: tuple[Checkpoint, ...]
    lost: int = 0


@dataclass(frozen=True, slots=True)
class Queued:
    """A trigger's run waits its turn (mode queued); `waiting` runs wait now."""

    waiting: int


Output: TypeAlias = (
    Effect
    | SendRequest
    | StatusChanged
    | Disabled
    | RunEnded
    | Skipped
    | Queued
    | Resumable
)


@dataclass(frozen=True, slots=True)
class EngineSettings:
    host: str
    tz: ZoneInfo
    max_runs_per_minute: int = 60
    step_limit: int = run_mod.DEFAULT_STEP_LIMIT
    max_value_bytes: int = run_mod.DEFAULT_MAX_VALUE_BYTES
    http_service: bool = True  # raspyd's `<host>.http` is on ([http_client] enabled)


def trace_so_far(run: Run) -> tuple[str, ...]:
    """A run's lines so far, the ones past the limit counted."""
    scope = run.scope
    more = (f"... {scope.untraced} more lines",) if scope.untraced else ()
    return (*scope.trace, *more)


def trace_of(run: Run) -> tuple[str, ...]:
    """A run's trace as shown: its lines, the ones past the limit counted, and how
    it ended."""
    scope = run.scope
    if run.error is not None:
        ended = f"failed: {run.error}"
    elif run.stopped:
        ended = "stopped"
    else:
        ended = "done"
    began = scope.clock.mono if scope.started is None else scope.started
    # when it ended too: a timeout says after how long it failed
    return (*trace_so_far(run), f"+{scope.clock.mono - began:.1f}s {ended}")


def runaway_reason(limit: int, trigger: Mapping[str, JsonValue]) -> str:
    """Why the guard disabled a scenario, with the trigger of the start it refused:
    a loop (a set that triggers its own scenario) and a sensor read every second
    look alike to it, and the two are mended differently."""
    kind = trigger.get("kind")
    key = trigger.get("key")
    by = f"{kind} {key}" if isinstance(key, str) else str(kind)
    return (
        f"runaway: more than {limit} runs in a minute; disabled at a start by {by}"
        " (an action that sets what triggers it loops; a reading this frequent"
        " wants a test such as above:, to: or for:, or a higher [core]"
        " max_runs_per_minute)"
    )


class ScenarioCore:
    """One scenario's triggers, runs and state; see the module docstring."""

    def __init__(
        self,
        scenario: Scenario,
        settings: EngineSettings,
        *,
        kv: Callable[[str], JsonValue],
        sun: Callable[[SunEvent, float], float | None],
        rng: RandomSource,
        status: Status | None = None,
        sun_up: Callable[[float], bool | None] = model.no_place,
    ) -> None:
        self.scenario = scenario
        self._settings = settings
        # the tree as the owner shows it, under what this turn's runs wrote
        self._own = OwnWrites(kv)
        self._kv = self._own.kv
        self._sun = sun
        self._sun_up = sun_up  # sun_up(): None on a hub without a place
        self._rng = rng  # random() and random waits (model.RandomSource)
        self._watch = tm.KvWatch(scenario.triggers, settings.host)
        self._runs: dict[int, Run] = {}
        self._queue: deque[dict[str, JsonValue]] = deque()
        self._requests: dict[int, int] = {}  # request id -> run id
        self._checkpoints: dict[int, Checkpoint] = {}  # run id -> where it waits
        self._recorded = Resumable(())  # the last record said to the owner
        self._starts: deque[float] = deque()
        self._ids = itertools.count(1)
        self._request_ids = itertools.count(1)
        self._disabled = False
        self._draining = False  # _start_queued's loop is under way
        base = status or Status(State.IDLE)
        self._runs_total = base.runs
        self._last_run = base.last_run
        self._last_trigger = base.last_trigger
        self._last_error = base.last_error
        self._last_error_at = base.last_error_at
        self._wall = 0.0  # the wall time of the input at hand: a failure's time
        self._last_skip = base.last_skip
        self._last_trace = base.last_trace
        self._failed = False
        self._shown: Status | None = None

    # --- inputs --------------------------------------------------------------------
    def on_kv(
        self,
        key: str,
        old: JsonValue,
        new: JsonValue,
        mono: float,
        wall: float,
        *,
        deleted: bool | None = None,
    ) -> list[Output]:
        """A Clone key changed; `old` is what the tree held. `deleted` None: a `new`
        of None means deleted (a JSON null is a value when deleted is False)."""
        self._wall = wall
        out: list[Output] = []
        for run in list(self._runs.values()):
            if isinstance(run.waiting, run_mod.AwaitChange):
                self._advance(run, run_mod.Woken(), mono, wall, out)
        gone = new is None if deleted is None else deleted
        for data in self._watch.on_change(key, old, new, mono, wall, deleted=gone):
            self._fire(data, mono, wall, out, check=True)
        return self._finish(out)

    def on_time(
        self, index: int, scheduled_wall: float, mono: float, wall: float
    ) -> list[Output]:
        """Time trigger `index` (cron, at, every, sun) is due since `scheduled_wall`."""
        trigger = self.scenario.triggers[index]
        kind = tm.kind_of(type(trigger))
        data = tm.trigger_data(kind, getattr(trigger, "id", ""), value=scheduled_wall)
        self._wall = wall
        out: list[Output] = []
        self._fire(data, mono, wall, out, check=True)
        return self._finish(out)

    def on_startup(
        self,
        mono: float,
        wall: float,
        current: Iterable[tuple[str, JsonValue]] = (),
        *,
        fire: bool = True,
        resume: Iterable[Checkpoint] = (),
    ) -> list[Output]:
        """The core started with this scenario loaded (or loaded its new version):
        `for:` holds resume from the tree's `current` values (KvWatch.resume); the
        runs of `resume` (found in the tree at a start) go on where they waited,
        before any trigger; startup triggers fire if `fire` (the daemon's start, not
        a restart of the core within it nor an import)."""
        self._watch.resume(current, mono, wall)
        self._wall = wall
        out: list[Output] = []
        for checkpoint in resume:
            self._resume(checkpoint, mono, wall, out)
        if resume:
            # the record found at the start is rewritten (or forgotten) at the end
            # of this turn: it may count runs that are not taken up
            self._recorded = Resumable((), -1)
        for trigger in self.scenario.triggers:
            if fire and isinstance(trigger, model.StartupTrigger):
                self._fire(
                    tm.trigger_data("startup", trigger.id), mono, wall, out, check=True
                )
        return self._finish(out)

    def run_now(
        self, mono: float, wall: float, *, by: str | None = None
    ) -> list[Output]:
        """A manual run: the mode applies, the conditions are not checked. `by`: the
        scenario whose `run:` started it, shown as `trigger.by`."""
        self._wall = wall
        out: list[Output] = []
        data = tm.trigger_data("manual", "")
        if by is not None:
            data["by"] = by
        self._fire(data, mono, wall, out, check=False)
        return self._finish(out)

    def on_reply(
        self, request_id: int, body: tuple[bytes, ...], mono: float, wall: float
    ) -> list[Output]:
        """The answer to a SendRequest; a late one (run gone or timed out) is dropped."""
        self._wall = wall
        out: list[Output] = []
        run = self._runs.get(self._requests.pop(request_id, 0))
        waiting = None if run is None else run.waiting
        if (
            run is not None
            and isinstance(waiting, SendRequest)
            and waiting.request_id == request_id
        ):
            self._advance(run, run_mod.Reply(body), mono, wall, out)
        return self._finish(out)

    def on_tick(self, mono: float, wall: float) -> list[Output]:
        """Deadlines: sleeps, request and wait timeouts, `for:` holds."""
        self._wall = wall
        out: list[Output] = []
        for run in list(self._runs.values()):
            waiting = run.waiting
            if isinstance(waiting, run_mod.Sleep) and waiting.deadline <= mono:
                self._advance(run, None, mono, wall, out)
            elif (
                isinstance(waiting, SendRequest | run_mod.AwaitChange)
                and waiting.deadline is not None
                and waiting.deadline <= mono
            ):
                if isinstance(waiting, SendRequest):
                    self._requests.pop(waiting.request_id, None)
                self._advance(run, run_mod.TimedOut(), mono, wall, out)
        for data in self._watch.due(mono, wall):
            self._fire(data, mono, wall, out, check=True)
        return self._finish(out)

    def stop(self, mono: float | None = None) -> list[Output]:
        """End every run now (at `mono`, for their traces) and forget the queued ones
        (a `stop` request)."""
        out: list[Output] = []
        self._queue.clear()
        for run in list(self._runs.values()):
            run.stop(mono)
            self._end(run, out)
        return self._finish(out)

    def action_refused(self, reason: str) -> list[Output]:
        """An action that the owner carries out after the run went on could not be
        done (a `run:` of a scenario that is not there or is disabled): the scenario
        shows it as its run's error, where a household looks, not in the log alone.
        A runaway disable that came first keeps its reason."""
        if self._disabled:
            return self._finish([])
        self._failed = True
        self._error(reason[:500])
        return self._finish([])

    # --- what the owner reads --------------------------------------------------------
    def next_deadline(self) -> float | None:
        hold = self._watch.next_deadline()
        deadlines = [] if hold is None else [hold]
        for run in self._runs.values():
            if run.waiting is not None and run.waiting.deadline is not None:
                deadlines.append(run.waiting.deadline)
        return min(deadlines, default=None)

    @property
    def status(self) -> Status:
        if self._disabled:
            state = State.DISABLED
        elif self._runs or self._queue:
            state = State.RUNNING
        elif self._failed:
            state = State.ERROR
        else:
            state = State.IDLE
        under_way = next(iter(self._runs.values()), None)
        return Status(
            state,
            self._runs_total,
            self._last_run,
            self._last_trigger,
            self._last_error,
            self._last_skip,
            self._last_trace,
            () if under_way is None else trace_so_far(under_way),
            self._last_error_at,
        )

    @property
    def running(self) -> int:
        return len(self._runs)

    # --- triggers ----------------------------------------------------------------------
    def _fire(
        self,
        trigger: dict[str, JsonValue],
        mono: float,
        wall: float,
        out: list[Output],
        *,
        check: bool,
    ) -> None:
        if self._disabled:
            return
        if check and not self._conditions_hold(trigger, wall, out):
            return
        scenario = self.scenario
        busy = len(self._runs)
        if busy and scenario.mode is Mode.SINGLE:
            self._skip("a run is under way (mode single)", trigger, wall, out, True)
            return
        if busy and scenario.mode is Mode.RESTART:
            for run in list(self._runs.values()):
                run.stop(mono)
                self._end(run, out)
        if busy and scenario.mode is Mode.QUEUED:
            if busy + len(self._queue) >= scenario.max_runs:
                reason = f"queue full (max {scenario.max_runs})"
                self._skip(reason, trigger, wall, out, True)
            else:
                self._queue.append(trigger)
                out.append(Queued(len(self._queue)))
            return
        if scenario.mode is Mode.PARALLEL and busy >= scenario.max_runs:
            reason = f"{busy} runs going (max {scenario.max_runs})"
            self._skip(reason, trigger, wall, out, True)
            return
        self._start(trigger, mono, wall, out)

    def _conditions_hold(
        self, trigger: dict[str, JsonValue], wall: float, out: list[Output]
    ) -> bool:
        context = EvalContext(
            wall_ts=wall,
            tz=self._settings.tz,
            variables=self.scenario.variables,
            trigger=trigger,
            kv=self._kv,
            sun=self._sun,
            rng=self._rng,
            host=self._settings.host,
            sun_up=self._sun_up,
        )
        for number, condition in enumerate(self.scenario.conditions, 1):
            try:
                if not condition.evaluate(context):
                    reason = f"condition {number} is false: {condition.source}"
                    self._skip(reason[:_REASON_CHARS], trigger, wall, out)
                    return False
            except ScenarioError as exc:
                reason = f"condition {number}: {exc}"[:500]
                if not (self._failed and reason == self._last_error):
                    # when this fault began: the same one again at every trigger
                    # (a sensor away all day) is no new status, no write
                    self._error(reason)
                self._failed = True
                # no run: the trace says so, not the run before's `done`
                self._last_trace = (f"+0.0s failed: {self._last_error}",)
                out.append(RunEnded(0, self._last_error))
                return False
        return True

    def _skip(
        self,
        reason: str,
        trigger: dict[str, JsonValue],
        wall: float,
        out: list[Output],
        dropped: bool = False,
    ) -> None:
        self._last_skip = {"at": wall, "reason": reason, "trigger": dict(trigger)}
        out.append(Skipped(reason, dropped=dropped))

    # --- runs ----------------------------------------------------------------------
    def _start(
        self, trigger: dict[str, JsonValue], mono: float, wall: float, out: list[Output]
    ) -> None:
        if trigger.get("kind") not in SCHEDULED_KINDS:
            limit = self._settings.max_runs_per_minute
            starts = self._starts
            while starts and starts[0] <= mono - RUNAWAY_WINDOW_S:
                starts.popleft()
            if len(starts) >= limit:
                reason = runaway_reason(limit, trigger)
                self._disable(reason, mono, out)
                return
            starts.append(mono)
        self._runs_total += 1
        self._last_run = wall
        self._last_trigger = dict(trigger)
        self._failed = False
        scope = self._scope(trigger, mono, wall)
        self._launch(
            scope, run_mod.execute(scope, self.scenario.actions), mono, wall, out
        )

    def _resume(
        self, checkpoint: Checkpoint, mono: float, wall: float, out: list[Output]
    ) -> None:
        """A run recorded in a long wait before a restart goes on: what is left of
        the wait on the wall clock (never more than its whole time, so a clock set
        back does not stretch it; nothing when it ended while raspyd was down), then
        the rest. It is the same run: not counted again, nor by the runaway guard."""
        scope = self._scope(dict(checkpoint.trigger), mono, wall)
        program = run_mod.resumed(
            scope,
            self.scenario.actions,
            checkpoint.path,
            checkpoint.left_s(wall),
            checkpoint.seconds,
        )
        self._launch(scope, program, mono, wall, out)

    def _launch(
        self,
        scope: RunScope,
        program: run_mod.Program,
        mono: float,
        wall: float,
        out: list[Output],
    ) -> None:
        """A new run of `program`, advanced to its first pause."""
        run = Run(next(self._ids), scope, program, step_limit=self._settings.step_limit)
        self._runs[run.run_id] = run
        self._advance(run, None, mono, wall, out)

    def _scope(
        self, trigger: dict[str, JsonValue], mono: float, wall: float
    ) -> RunScope:
        env = RunEnv(
            self._settings.host,
            self._settings.tz,
            self._kv,
            self._sun,
            lambda: next(self._request_ids),
            self._rng,
            self._settings.max_value_bytes,
            self._settings.http_service,
            self._own.wrote,
            sun_up=self._sun_up,
        )
        return RunScope(env, RunClock(mono, wall), trigger, self.scenario.variables)

    def _advance(
        self,
        run: Run,
        resume: run_mod.Resume,
        mono: float,
        wall: float,
        out: list[Output],
    ) -> None:
        out.extend(run.advance(resume, mono, wall))
        waiting = run.waiting
        if isinstance(waiting, SendRequest):
            self._requests[waiting.request_id] = run.run_id
            out.append(waiting)
        if isinstance(waiting, run_mod.Sleep) and waiting.place is not None:
            self._checkpoints[run.run_id] = Checkpoint(
                waiting.place,
                wall + (waiting.deadline - mono),
                waiting.seconds,
                run.scope.trigger,
            )
        else:
            self._checkpoints.pop(run.run_id, None)
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
        try:
            while self._queue and not self._runs and not self._disabled:
                self._start(self._queue.popleft(), mono, wall, out)
        finally:
            self._draining = False

    def _resumable(self) -> Resumable:
        runs = tuple(self._checkpoints[i] for i in sorted(self._checkpoints))
        lost = len(self._runs) - len(runs) + len(self._queue) if runs else 0
        return Resumable(runs, lost)

    def _end(self, run: Run, out: list[Output]) -> None:
        self._runs.pop(run.run_id, None)
        self._checkpoints.pop(run.run_id, None)
        self._requests = {r: i for r, i in self._requests.items() if i != run.run_id}
        self._last_trace = trace_of(run)
        if run.error is not None:
            self._failed = True
            self._error(run.error)
        out.append(RunEnded(run.run_id, run.error))

    def _disable(self, reason: str, mono: float, out: list[Output]) -> None:
        self._queue.clear()
        for run in list(self._runs.values()):
            run.stop(mono)
            self._end(run, out)
        self._watch.clear()
        self._disabled = True
        self._error(reason)
        out.append(Disabled(reason))

    def _error(self, reason: str) -> None:
        """The scenario's last error, and when (the input at hand's wall time)."""
        self._last_error = reason
        self._last_error_at = self._wall

    def _finish(self, out: list[Output]) -> list[Output]:
        self._own.handed_over()  # the owner sends this turn's writes, then reads
        # one record a turn at most, when it changed: a restart-mode trigger ends
        # a run in its wait and starts the next one into it (one write, not two)
        if self._checkpoints or self._recorded.runs or self._recorded.lost:
            resumable = self._resumable()  # (not on the hot path of a reading)
            if resumable != self._recorded:
                self._recorded = resumable
                out.append(resumable)
        status = self.status
        if status != self._shown:
            self._shown = status
            out.append(StatusChanged(status))
        return out
