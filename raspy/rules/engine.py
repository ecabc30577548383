"""The engine of one scenario: triggers in; runs, effects and state out (pure).

No sockets, no threads, no clock, no random source of its own: every call takes `mono`
(monotonic s, deadlines) and `wall` (epoch s, what `now()` sees), and `random()` and a
random `wait` draw from the `rng` it is given. Modes behave as Home Assistant's:
`single` ignores a trigger while a run goes on, `restart` stops the run and starts
again, `queued` runs one after another with at most `max` running or waiting,
`parallel` runs up to `max` at once. More than `max_runs_per_minute` starts in a minute disable the scenario.

This module decides; its parts keep: `engine_output` (the status, the outputs, the
history the status tells), `engine_env` (what conditions and runs see), `run_book`
(the mode's answer, the runs, requests, queue and resume checkpoints) and `runaway`
(the guard); `engine_runs` (ScenarioRuns, its base class) carries out what becomes
of the runs. Their public names are re-exported here for the owner's side.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Final

from raspy.devices.template import JsonValue
from raspy.errors import ScenarioError
from raspy.rules import model
from raspy.rules import run as run_mod
from raspy.rules import trigger_match as tm
from raspy.rules.engine_env import EngineSettings, Surroundings
from raspy.rules.engine_output import (
    Checkpoint,
    Disabled,
    History,
    Output,
    Queued,
    Resumable,
    RunEnded,
    Skipped,
    State,
    Status,
    StatusChanged,
)
from raspy.rules.engine_runs import ScenarioRuns
from raspy.rules.manual_run import tried_trigger
from raspy.rules.model import RandomSource, Scenario, SunEvent
from raspy.rules.own_writes import OwnWrites
from raspy.rules.run_book import RunBook, Turn, turn
from raspy.rules.runaway import (
    RUNAWAY_WINDOW_S,
    RunawayGuard,
    runaway_reason,
)
from raspy.rules.when_watch import WhenOutcome, WhenWatch

# the names the owner's side and the tests import from here (`engine.Status`)
__all__ = [
    "RUNAWAY_WINDOW_S",
    "Checkpoint",
    "Disabled",
    "EngineSettings",
    "Output",
    "Queued",
    "Resumable",
    "RunEnded",
    "ScenarioCore",
    "Skipped",
    "State",
    "Status",
    "StatusChanged",
    "runaway_reason",
]

_REASON_CHARS: Final = 300  # a skip's reason, the condition's text included


class ScenarioCore(ScenarioRuns):
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
        kv_size: Callable[[str], int] = model.no_size,
    ) -> None:
        """`kv_size`: the bytes of JSON `kv` decodes to read a key (what an
        expression's kv() is charged, expr_values.Work)."""
        self.scenario = scenario
        self._settings = settings
        # the tree as the owner shows it, under what this turn's runs wrote
        self._own = OwnWrites(kv, kv_size)
        self._watch = tm.KvWatch(scenario.triggers, settings.host)
        book = self._book = RunBook(settings.step_limit)  # runs, requests, records
        self._env = Surroundings(
            settings, scenario.variables, self._own, sun, rng, sun_up, book.request_id
        )
        self._when = WhenWatch(scenario.triggers, self._env)  # `when:` triggers
        self._guard = RunawayGuard(settings.max_runs_per_minute)
        self._disabled = False
        self._draining = False  # _start_queued's loop is under way
        self._history = History.of(status)  # what the status tells of the past
        self._wall = 0.0  # the wall time of the input at hand: a failure's time
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
        gone = new is None if deleted is None else deleted
        for run in list(self._book.runs.values()):
            if isinstance(run.waiting, run_mod.AwaitChange):
                woken = run_mod.Woken(key, None if gone else new)
                self._advance(run, woken, mono, wall, out)
        for data in self._watch.on_change(key, old, new, mono, deleted=gone):
            self._fire(data, mono, wall, out, check=True)
        if self._when.active:  # most scenarios have none: nothing more to do
            now = None if gone else new
            fired = self._when.on_change(key, old, now, mono, wall)
            self._when_fired(fired, mono, wall, out)
        return self._finish(out)

    def on_time(
        self, index: int, scheduled_wall: float, mono: float, wall: float
    ) -> list[Output]:
        """Time trigger `index` (cron, at, every, sun) is due since `scheduled_wall`.
        The status is said whether it changed or not: the owner writes the
        trigger's next fire with it, and a firing that changes nothing else (a
        condition that faults as at the last firing) has moved that on too."""
        trigger = self.scenario.triggers[index]
        kind = tm.kind_of(type(trigger))
        data = tm.trigger_data(kind, getattr(trigger, "id", ""), value=scheduled_wall)
        self._wall = wall
        out: list[Output] = []
        self._fire(data, mono, wall, out, check=True)
        self._shown = None
        return self._finish(out)

    def on_startup(
        self,
        mono: float,
        wall: float,
        current: Iterable[tuple[str, JsonValue]] = (),
        *,
        fire: bool = True,
        resume: Iterable[Checkpoint] = (),
        seen: Iterable[tuple[str, JsonValue]] | None = None,
    ) -> list[Output]:
        """The core started with this scenario loaded (or loaded its new version):
        `for:` holds resume from the tree's `current` values (KvWatch.resume); the
        `when:` tests start from `seen`, the keys they read as the core had them
        then (WhenWatch.start; None: the view now); the runs of `resume` (found in
        the tree at a start) go on where they waited, before any trigger; startup
        triggers fire if `fire` (the daemon's start, not a restart of the core
        within it nor an import)."""
        self._watch.resume(current, mono)
        self._wall = wall
        out: list[Output] = []
        self._when_fired(self._when.start(mono, wall, seen), mono, wall, out)
        for checkpoint in resume:
            self._resume(checkpoint, mono, wall, out)
        if resume:
            # the record found at the start is rewritten (or forgotten) at the end
            # of this turn: it may count runs that are not taken up
            self._book.recorded = Resumable((), -1)
        for trigger in self.scenario.triggers:
            if fire and isinstance(trigger, model.StartupTrigger):
                self._fire(
                    tm.trigger_data("startup", trigger.id), mono, wall, out, check=True
                )
        return self._finish(out)

    def run_now(
        self,
        mono: float,
        wall: float,
        *,
        by: str | None = None,
        trigger: int | None = None,
    ) -> list[Output]:
        """A manual run: the mode applies, the conditions are not checked. `by`: the
        scenario whose `run:` started it, shown as `trigger.by`; `trigger`: the index
        of the trigger it runs as if it fired (`trigger.id`, its kind, ...: a
        time-triggered branch tried before its time)."""
        self._wall = wall
        out: list[Output] = []
        if trigger is None:
            data = tm.trigger_data("manual", "")
        else:
            data = tried_trigger(
                self.scenario.triggers[trigger], wall, self._settings.host, self._own.kv
            )
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
        run = self._book.answered(request_id)
        if run is not None:
            self._advance(run, run_mod.Reply(body), mono, wall, out)
        return self._finish(out)

    def on_tick(self, mono: float, wall: float) -> list[Output]:
        """Deadlines: sleeps, request and wait timeouts, `for:` holds."""
        self._wall = wall
        out: list[Output] = []
        self._due(mono, wall, out)
        return self._finish(out)

    def on_clock_step(self, delta_s: float, mono: float, wall: float) -> list[Output]:
        """The wall clock stepped by `delta_s` (NTP setting a Pi that booted at a
        saved time): the records of the runs in a long wait are written again from
        the clocks as they are now, and a run taken up at this start by the wrong
        clock is judged by the right one (rules.run_retime); then the deadlines,
        as on_tick."""
        self._wall = wall
        out: list[Output] = []
        for run in self._book.stepped(delta_s, mono, wall):
            self._stale(run, mono, out)
        self._start_queued(mono, wall, out)
        self._due(mono, wall, out)
        return self._finish(out)

    def stop(
        self,
        mono: float | None = None,
        wall: float | None = None,
        *,
        shutdown: bool = False,
    ) -> list[Output]:
        """End every run now (at `mono`, for their traces) and forget the queued ones
        (a `stop` request), each counted as dropped (at `wall`: the last input's
        time when not given). `shutdown`: the owner stops, and a run in a long
        wait ends as RunEnded.taken_up_later."""
        if wall is not None:
            self._wall = wall
        out: list[Output] = []
        self._stop_runs(mono, out, shutdown=shutdown)
        self._forget_queue(out)
        return self._finish(out)

    def action_refused(self, reason: str) -> list[Output]:
        """An action that the owner carries out after the run went on could not be
        done (a `run:` of a scenario that is not there or is disabled): the scenario
        shows it as its run's error, where a household looks, not in the log alone.
        A runaway disable that came first keeps its reason."""
        if self._disabled:
            return self._finish([])
        self._history.failure(reason[:500], self._wall)
        return self._finish([])

    # --- what the owner reads --------------------------------------------------------
    def next_deadline(self) -> float | None:
        parts = (self._watch, self._book, self._when)
        deadlines = (part.next_deadline() for part in parts)
        return min((d for d in deadlines if d is not None), default=None)

    @property
    def status(self) -> Status:
        under_way = next(iter(self._book.runs.values()), None)
        busy = bool(self._book.runs or self._book.queue)
        return self._history.status(
            self._disabled, busy, under_way, self._when.faulting
        )

    @property
    def last_run_id(self) -> int:
        """The id of the run started last (0: none yet): a manual run's owner
        tells by it whether this request started one, and how it ended."""
        return self._book.last_id

    @property
    def running(self) -> int:
        return len(self._book.runs)

    @property
    def _requests(self) -> dict[int, int]:
        """The requests whose answers runs wait for (a test waits for none left)."""
        return self._book.requests

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
        scenario, book = self.scenario, self._book
        answer = turn(scenario.mode, scenario.max_runs, len(book.runs), len(book.queue))
        if isinstance(answer, str):
            out.append(self._history.skipped(answer, trigger, wall, True))
            return
        if answer is Turn.RESTART:
            self._stop_runs(mono, out)
        elif answer is Turn.QUEUE:
            book.queue.append(trigger)
            out.append(Queued(len(book.queue)))
            return
        self._start(trigger, mono, wall, out)

    def _when_fired(
        self, outcome: WhenOutcome, mono: float, wall: float, out: list[Output]
    ) -> None:
        """A fault that began is the scenario's error (once), shown while a test
        faults; what fired fires."""
        for reason in outcome.faults:
            if not self._disabled:
                self._history.error(reason, wall)
        for data in outcome.fired:
            self._fire(data, mono, wall, out, check=True)

    def _conditions_hold(
        self, trigger: dict[str, JsonValue], wall: float, out: list[Output]
    ) -> bool:
        context = self._env.context(trigger, wall)
        for number, condition in enumerate(self.scenario.conditions, 1):
            try:
                if not condition.evaluate(context):
                    self._history.condition_fault = False  # tested without one
                    why = f"condition {number} is false: {condition.source}"
                    out.append(
                        self._history.skipped(why[:_REASON_CHARS], trigger, wall)
                    )
                    return False
            except ScenarioError as exc:
                reason = f"condition {number}: {exc}"[:500]
                error = self._history.condition_failed(reason, self._wall)
                out.append(RunEnded(0, error))
                return False
        self._history.condition_fault = False
        return True

    def _due(self, mono: float, wall: float, out: list[Output]) -> None:
        for run, resume in self._book.due(mono):
            self._advance(run, resume, mono, wall, out)
        self._book.recordable(mono, wall)  # a wait_until waited long enough
        for data in self._watch.due(mono, wall):
            self._fire(data, mono, wall, out, check=True)
        self._when_fired(self._when.due(mono, wall), mono, wall, out)

    # --- the turn's end ---------------------------------------------------------------
    def _finish(self, out: list[Output]) -> list[Output]:
        self._own.handed_over()  # the owner sends this turn's writes, then reads
        # one record a turn at most, when it changed: a restart-mode trigger ends
        # a run in its wait and starts the next one into it (one write, not two)
        book = self._book
        if book.checkpoints or book.recorded.runs or book.recorded.lost:
            record = book.record()  # (not on the hot path of a reading)
            if record is not None:
                out.append(record)
        status = self.status
        if status != self._shown:
            self._shown = status
            out.append(StatusChanged(status))
        return out
