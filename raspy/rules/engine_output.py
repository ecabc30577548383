"""What a scenario's engine says and shows: its status, its outputs, a run's trace.

Apart from `rules.engine` so that the owner's side (the scenario actor, the core's
tree view and service, the resume record) reads these types without the machinery
that makes them, and so that the engine stays one job (style.md §1). Pure data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, TypeAlias

from raspy.devices.template import JsonValue
from raspy.records import frozen
from raspy.rules.resume_path import Path
from raspy.rules.run import Effect, Run, SendRequest
from raspy.rules.run_failures import failure_kind
from raspy.rules.run_scope import trace_line


class State(StrEnum):
    IDLE = "idle"
    RUNNING = "running"
    DISABLED = "disabled"
    ERROR = "error"


class ErrorFrom(StrEnum):
    """Where a state `error` came from, stored beside it: a start keeps a run's
    until the next run starts, and judges again one of the text or of the start."""

    RUN = "run"  # a run that failed, a request it made refused, a fault going on
    LOAD = "load"  # the stored text no longer loads
    START = "start"  # the scenario's actor did not start


@frozen
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
    # where the state `error` came from (meaningless in another state): the engine
    # says only a run's, the core a load's or a start's
    error_from: ErrorFrom = ErrorFrom.RUN


@frozen
class StatusChanged:
    status: Status


@frozen
class Disabled:
    """The runaway guard stopped the scenario; its owner should store it disabled."""

    reason: str


@frozen
class RunEnded:
    """A run ended: `error` is None when it finished (or stopped) cleanly. Run id 0:
    no run started because a condition could not be evaluated (`error` says why).
    `taken_up_later`: the owner stopped with the run in a long wait, whose record
    the next start takes it up from; it ends there, not here (counted once)."""

    run_id: int
    error: str | None
    taken_up_later: bool = False


@frozen
class Skipped:
    """A trigger started no run: conditions false, or the mode's limit reached
    (`dropped`: a doorbell pressed while its runs were full is not rung)."""

    reason: str
    dropped: bool = False


# a recorded run whose wait ended longer ago than this is not taken up but named
# lost: a record from a restored backup, or a hub off for days
STALE_AFTER_S: Final = 24 * 3600.0


@frozen
class Checkpoint:
    """A run paused in a long `wait`, or in a `wait_until` (`until`) that has waited
    long enough: enough to take it up after a restart of raspyd. `path` is where
    the wait is (rules.resume_path: the top-level action, or the choose branches and
    repeat passes down to it), `end_wall` when the wait (a wait_until's timeout)
    ends on the wall clock (epoch s), `seconds` its whole duration; both infinite
    for a wait_until without a timeout."""

    path: Path
    end_wall: float
    seconds: float
    trigger: Mapping[str, JsonValue]
    until: bool = False

    def left_s(self, wall: float) -> float:
        """What is left of the wait at `wall`: never more than the whole wait (a
        clock set back does not stretch it), nothing once it ended."""
        return min(max(self.end_wall - wall, 0.0), self.seconds)

    def stale(self, wall: float) -> bool:
        """Whether the wait ended over STALE_AFTER_S before `wall`."""
        return wall - self.end_wall > STALE_AFTER_S


@frozen
class Resumable:
    """The runs that a restart would take up changed: the owner keeps `runs` where a
    start finds them (none: it forgets the record). `lost`: the other runs a restart
    would end meanwhile (runs elsewhere, queued turns), which a start names lost."""

    runs: tuple[Checkpoint, ...]
    lost: int = 0


@frozen
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


@dataclass(slots=True)
class History:
    """What a scenario's status tells of its past, kept by its engine as it goes;
    from the status stored, so that a restart keeps the count and the last run."""

    runs: int = 0
    last_run: float | None = None
    last_trigger: Mapping[str, JsonValue] | None = None
    last_error: str | None = None
    last_skip: Mapping[str, JsonValue] | None = None
    last_trace: tuple[str, ...] = ()
    last_error_at: float | None = None
    failed: bool = False  # the last run failed: the state `error` until the next
    # a fault going on: a `when:` trigger's test, or the conditions at their last
    # test; the state `error` only while it lasts (a sensor away a minute), the
    # last error and its time kept when it ends
    condition_fault: bool = False

    @classmethod
    def of(cls, status: Status | None) -> History:
        """From the status its owner kept; `error` stays until the next run starts
        (a restart, a new version of the scenario)."""
        if status is None:
            return cls()
        return cls(
            status.runs,
            status.last_run,
            status.last_trigger,
            status.last_error,
            status.last_skip,
            status.last_trace,
            status.last_error_at,
            failed=status.state is State.ERROR,
        )

    def started(self, trigger: Mapping[str, JsonValue], wall: float) -> None:
        self.runs += 1
        self.last_run = wall
        self.last_trigger = dict(trigger)
        self.failed = self.condition_fault = False

    def status(
        self, disabled: bool, busy: bool, under_way: Run | None, faulting: bool
    ) -> Status:
        """The status now: `busy` with runs going or queued, `under_way` the oldest
        run going (its trace so far)."""
        if disabled:
            state = State.DISABLED
        elif busy:
            state = State.RUNNING
        elif self.failed or faulting or self.condition_fault:
            state = State.ERROR
        else:
            state = State.IDLE
        return Status(
            state,
            self.runs,
            self.last_run,
            self.last_trigger,
            self.last_error,
            self.last_skip,
            self.last_trace,
            () if under_way is None else trace_so_far(under_way),
            self.last_error_at,
        )

    def error(self, reason: str, wall: float) -> None:
        """The scenario's last error, and when (the input at hand's wall time)."""
        self.last_error = reason
        self.last_error_at = wall

    def failure(self, reason: str, wall: float) -> None:
        """A run (or what it asked for) failed: the state `error`, and why."""
        self.failed = True
        self.error(reason, wall)

    def condition_failed(self, reason: str, wall: float) -> str | None:
        """A condition could not be evaluated, so no run started; the error shown."""
        if not (self.condition_fault and self._same_error(reason)):
            # when this fault began: the same one again at every trigger (a sensor
            # away all day, a reading its text holds) is no new status, no write
            self.error(reason, wall)
        self.condition_fault = True
        # no run: the trace says so, not the run before's `done`
        self.last_trace = (f"+0.0s failed: {self.last_error}",)
        return self.last_error

    def _same_error(self, reason: str) -> bool:
        """`reason` is the last error with other numbers, or the same text."""
        last = self.last_error
        return last is not None and failure_kind(reason) == failure_kind(last)

    def skipped(
        self,
        reason: str,
        trigger: Mapping[str, JsonValue],
        wall: float,
        dropped: bool = False,
    ) -> Skipped:
        """A trigger started no run: noted (`last_skip`); the output that says so."""
        self.last_skip = {"at": wall, "reason": reason, "trigger": dict(trigger)}
        return Skipped(reason, dropped=dropped)

    def ended(self, run: Run, wall: float) -> None:
        self.last_trace = trace_of(run)
        if run.error is not None:
            self.failure(run.error, wall)


def trace_so_far(run: Run) -> tuple[str, ...]:
    """A run under way's lines so far, the ones past the limit counted but the
    last: what it does or waits for now (a long loop's show says its wait)."""
    scope = run.scope
    if scope.latest is None:
        return tuple(scope.trace)
    skipped = scope.untraced - 1
    more = (f"... {skipped} more lines",) if skipped else ()
    return (*scope.trace, *more, trace_line(*scope.latest))


def _counted(run: Run) -> tuple[str, ...]:
    """A run's lines, the ones past the limit counted."""
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
    # cut as every line is: a reason may name a key or a device filled from a
    # large value
    return (*_counted(run), trace_line(scope.clock.mono - began, lambda: ended))
