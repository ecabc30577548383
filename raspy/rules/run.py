"""One run of a scenario's actions: a resumable interpreter (pure: no I/O, no clock).

A run is a generator that yields what it needs done. Effects (set a key, publish an
event, log, run or stop another scenario) are carried out by the owner at once; awaits
(a sleep, an MDP request, a wait for a key change) pause the run until the owner
resumes it with what happened. Time is passed in through `RunClock` before each step.
A run that takes more than `step_limit` steps without a wait (a sleep not over yet,
a wait for a change) fails: a `repeat` with no wait in it cannot hold its actor, nor
click a device through its requests, for ever. Its expressions' work counts too
(WORK_PER_STEP units a step): a loop of conditions on long lists is bounded by
what it does, not by its steps alone.

The parts: rules.run_scope (what a run sees, its trace), rules.run_walk (the walk
through the actions, `execute` and `resumed`), rules.run_waits (a `wait` and a
`wait_until`), rules.run_calls and rules.run_http (the steps that go out); this
module drives a program (`Run`) and is what the engine imports.
"""

from __future__ import annotations

from typing import Final

from raspy.errors import ScenarioError
from raspy.rules.run_scope import (
    DEFAULT_MAX_KEY_BYTES,
    DEFAULT_MAX_VALUE_BYTES,
    TRACE_LINE_CHARS,
    TRACE_LINES,
    Program,
    RunClock,
    RunEnv,
    RunScope,
)
from raspy.rules.run_steps import (
    Await,
    AwaitChange,
    DeleteKey,
    Effect,
    Idle,
    Log,
    PublishEvent,
    Reply,
    Resume,
    RunScenario,
    SendRequest,
    SetKey,
    Sleep,
    StopScenario,
    TimedOut,
    Woken,
)
from raspy.rules.run_waits import RESUME_MIN_WAIT_S
from raspy.rules.run_walk import execute, resumed

__all__ = [
    "DEFAULT_MAX_KEY_BYTES",
    "DEFAULT_MAX_VALUE_BYTES",
    "DEFAULT_STEP_LIMIT",
    "RESUME_MIN_WAIT_S",
    "TRACE_LINES",
    "TRACE_LINE_CHARS",
    "Await",
    "AwaitChange",
    "DeleteKey",
    "Effect",
    "Idle",
    "Log",
    "Program",
    "PublishEvent",
    "Reply",
    "Resume",
    "Run",
    "RunClock",
    "RunEnv",
    "RunScenario",
    "RunScope",
    "SendRequest",
    "SetKey",
    "Sleep",
    "StopScenario",
    "TimedOut",
    "Woken",
    "execute",
    "resumed",
]

DEFAULT_STEP_LIMIT: Final = 10_000
# units of an expression's work (expr_values.Work) that count as one step: about
# what an action's step costs (50 µs); the 10,000 steps are about a second's work
WORK_PER_STEP: Final = 100
WORKED: Final = " (counting its expressions' work as steps)"


class Run:
    """Drives one program: steps it until it awaits, ends or fails.

    `waiting` is what the run waits for; `done` says it ended, `error` why it failed.
    """

    def __init__(
        self, run_id: int, scope: RunScope, program: Program, *, step_limit: int
    ) -> None:
        self.run_id = run_id
        self.scope = scope
        self.waiting: Await | None = None
        self.done = False
        self.stopped = False  # ended by stop() (a stop:, the mode, a disable)
        self.error: str | None = None
        self._program = program
        self._step_limit = step_limit
        # steps since the run last paused for time or a change (a wait, a
        # wait_until): a request's reply is no such pause, so a loop of requests
        # alone (a relay toggled as fast as it answers) meets the limit too
        self._unpaused = 0

    def advance(self, resume: Resume, mono: float, wall: float) -> list[Effect]:
        """Resume the run (None to start it); the effects it asked for meanwhile."""
        self.scope.clock.mono, self.scope.clock.wall = mono, wall
        self.waiting = None
        effects: list[Effect] = []
        try:
            while True:
                step = self._program.send(resume)
                resume = None
                self.scope.steps += 1
                # a wait that is over already (`wait: 0`) is no pause: a loop of
                # them is cut off by the step limit as one without any wait
                if isinstance(step, AwaitChange) or (
                    isinstance(step, Sleep) and step.deadline > mono
                ):
                    self._unpaused = 0
                    self.scope.work.spent = 0
                    self.waiting = step
                    return effects
                worked = self.scope.work.spent // WORK_PER_STEP
                if self._unpaused + worked >= self._step_limit:  # one more than allowed
                    break
                self._unpaused += 1
                if isinstance(step, SendRequest):
                    self.waiting = step
                    return effects
                if not isinstance(step, Idle | Sleep):
                    effects.append(step)
                    if self.scope.env.wrote is not None:
                        self.scope.env.wrote(step)
            self._fail(
                f"more than {self._step_limit} steps without a wait"
                f"{WORKED if worked else ''}; stopped"
            )
        except StopIteration:
            self.done = True
        except ScenarioError as exc:
            self._fail(str(exc))
        except (ArithmeticError, ValueError, TypeError, RecursionError) as exc:
            # a value the actions could not handle (bad JSON value, overflow)
            self._fail(f"{type(exc).__name__}: {exc}")
        return effects

    def stop(self, mono: float | None = None) -> None:
        """End the run where it is (GeneratorExit in the program), at `mono` if told
        (its trace's `stopped` line is at that time, not at its last step's)."""
        if mono is not None:
            self.scope.clock.mono = mono
        self._program.close()
        self.done = True
        self.stopped = True
        self.waiting = None

    def _fail(self, reason: str) -> None:
        self._program.close()
        self.done = True
        self.waiting = None
        self.error = reason[:500]
