"""The waits of a run (rules.run_walk walks to them): a `wait`, its length drawn
when it is a random one, and a `wait_until`, tested again as the keys it reads
change; either one long enough says where it is, so that a restart can take the run
up there, and what is left of it when it is (TakeUp).
"""

from __future__ import annotations

import math
from collections.abc import Generator
from dataclasses import replace
from typing import Final

from raspy.devices.template import JsonValue
from raspy.errors import shown
from raspy.records import frozen
from raspy.rules import model
from raspy.rules.expr_values import TOO_MUCH_WORK, truthy
from raspy.rules.resume_path import Path, Place
from raspy.rules.retest import Fault, Retested, next_minute
from raspy.rules.run_scope import RunScope, short
from raspy.rules.run_steps import (
    AwaitChange,
    Resume,
    RunFailed,
    Sleep,
    Step,
    TimedOut,
    Woken,
)

# a `wait` this long or longer (at any depth) is recorded in the tree while it lasts, and a
# run in it goes on after a restart of raspyd; a shorter one (a blink loop's) is not
# worth two durable writes. A `wait_until` is recorded once it has waited this long
# (a timer, so that a door closed within the minute costs no write at all)
RESUME_MIN_WAIT_S: Final = 60.0
# inside a repeat, each pass's wait is a new record (one durable write a pass): a
# loop that checks every couple of minutes would write all day (the SD card's
# budget), so there only waits this long are recorded
RESUME_MIN_REPEAT_WAIT_S: Final = 600.0


def _resume_floor(where: Path) -> float:
    """How long a wait must last (a wait_until must have waited) to be recorded:
    longer inside a repeat, where each pass's wait is a record of its own."""
    in_repeat = any(level.pass_ is not None for level in where)
    return RESUME_MIN_REPEAT_WAIT_S if in_repeat else RESUME_MIN_WAIT_S


def _tenths(seconds: float) -> str:
    """A time the run drew or the wall clock measured, as the trace's step times
    are written: to a tenth of a second (`431.9`, `300`), not six digits."""
    return f"{seconds:.1f}".removesuffix(".0")


@frozen
class TakeUp:
    """Where a resumed run goes on: the wait at `path` with `left_s` of its `seconds`
    left; `depth`, the level of `path` of the block at hand."""

    path: Path
    left_s: float
    seconds: float
    until: bool = False
    depth: int = 0

    @property
    def place(self) -> Place:
        return self.path[self.depth]

    def inner(self) -> TakeUp:
        return TakeUp(self.path, self.left_s, self.seconds, self.until, self.depth + 1)

    def said(self, test: str | None) -> str:
        """The trace's first line: `wait 554.2s left of 600s`, or for a wait_until
        its `test` (as the run reads it: RunScope.source) and `554.2s left of 600s`
        or `no timeout`."""
        left = f"{_tenths(self.left_s)}s left of {_tenths(self.seconds)}s"
        if test is None:
            return f"resumed after a restart: wait {left}"
        timeout = left if math.isfinite(self.seconds) else "no timeout"
        return f"resumed after a restart: wait_until {short(test)}, {timeout}"


def wait_until_begins(action: model.WaitUntilAction, test: str) -> str:
    """The trace's line as a wait_until begins: its `test` (as the run reads it:
    RunScope.source) and how long it may last, as the line of one resumed after a
    restart says what is left."""
    timeout = action.timeout_s
    limit = "no timeout" if timeout is None else f"timeout {_tenths(timeout)}s"
    return f"wait_until {short(test)} ({limit})"


def wait_step(
    scope: RunScope, action: model.WaitAction, where: Path, index: int
) -> Generator[Step, Resume, None]:
    """A `wait`, its length drawn now when it is a random one; `where` and `index`:
    its block's path and its place in it. A wait whose length (the drawn one: what
    the run really waits) is at least RESUME_MIN_WAIT_S (RESUME_MIN_REPEAT_WAIT_S
    inside a repeat) is taken up after a restart (Sleep.place), for what is left
    of that same length."""
    seconds, bounds, shown = action.seconds, "", f"{action.seconds:g}"
    if action.max_seconds is not None:
        low, high = action.seconds, action.max_seconds
        seconds = model.uniform(scope.env.rng, low, high)
        bounds, shown = f" (random, {low:g}s to {high:g}s)", _tenths(seconds)
    place = (*where, Place(index)) if seconds >= _resume_floor(where) else None
    scope.note(lambda: f"wait {shown}s{bounds}")
    yield Sleep(scope.clock.mono + seconds, place, seconds)


def wait_until_step(
    scope: RunScope,
    action: model.WaitUntilAction,
    where: Path,
    index: int,
    take_up: TakeUp | None = None,
) -> Generator[Step, Resume, None]:
    """A `wait_until` at `index` of the block at `where`; `take_up`: a resumed run's,
    with what was left of its timeout (none left: it acts as its timeout at once,
    unless its test holds now). One that may outlive a restart (no timeout, or one
    past the floor of a `wait`) is recorded once it has waited that floor
    (AwaitChange.record_at): a resumed one at once, as it was before."""
    mono = scope.clock.mono
    if take_up is None:
        left = seconds = math.inf if action.timeout_s is None else action.timeout_s
        record_at = mono + _resume_floor(where)
    else:
        left, seconds, record_at = take_up.left_s, take_up.seconds, mono
    deadline = mono + left if math.isfinite(left) else None
    place = (*where, Place(index)) if deadline is None or deadline > record_at else None
    awaited = AwaitChange(deadline, place, record_at, scope.clock.wall + left, seconds)
    expired = deadline is not None and deadline <= mono and take_up is not None
    tested = Retested(action.condition, "wait_until")
    said: list[str] = []
    changed: tuple[str, JsonValue] | None = None  # a wake's key, as it left it
    holds = _first_holds(tested, scope, said)
    while not holds:
        fault = _fault_began(scope, said, waits=not expired)
        woken = None if expired else (yield _awaiting(awaited, action, scope, fault))
        changed = None
        if isinstance(woken, Woken) and woken.key is not None:
            changed = (woken.key, woken.value)
        elif expired or isinstance(woken, TimedOut):
            if action.continue_on_timeout:
                scope.note(lambda: "wait_until: timed out, the run goes on")
                return
            raise RunFailed(
                f"wait_until {shown(scope.source(action.condition))} timed out after "
                f"{action.timeout_s:g}s"
            )
        # after a pause: the run's meter starts again (Run), the test's own budget
        holds = _holds(tested, scope, said, changed)
    scope.note(lambda: "wait_until: holds")


def _first_holds(tested: Retested, scope: RunScope, said: list[str]) -> bool:
    """The wait_until's first test, the last of the run's work since it last
    paused: running out of the run's budget there fails the run, as in any other
    action. Taken as no value yet, a test that holds waited until a key changed,
    for ever if none did."""
    holds = _holds(tested, scope, said, None)
    if scope.work.spent > scope.work.limit:  # the meter ran out: Work.charge
        raise RunFailed(said.pop() if said else f"wait_until: {TOO_MUCH_WORK}")
    return holds


def _holds(
    tested: Retested,
    scope: RunScope,
    said: list[str],
    changed: tuple[str, JsonValue] | None,
) -> bool:
    """Whether a wait_until's test holds now (`changed`: that key read as its
    change left it); a fault is no value, so not yet (a board's failed reading, as
    a `when:` trigger takes it)."""
    value = tested.value(scope.context(), said, changed)
    return not isinstance(value, Fault) and truthy(value)


def _awaiting(
    awaited: AwaitChange,
    action: model.WaitUntilAction,
    scope: RunScope,
    fault: str | None,
) -> AwaitChange:
    """What a wait_until waits for until its next test: a fault that began with
    this test, and when the minute turns for a test that reads the time."""
    if fault is None and not action.reads_time:
        return awaited  # the same each wake: nothing new to make
    clock = scope.clock
    retest_at = next_minute(clock.mono, clock.wall) if action.reads_time else None
    return replace(awaited, fault=fault, retest_at=retest_at)


def _fault_began(scope: RunScope, said: list[str], *, waits: bool) -> str | None:
    """The fault that began with a wait_until's test, if one did: a line of the
    trace now (the engine shows it as the scenario's last_error). `waits`: false
    for a resumed wait whose timeout ended while raspyd was down (its timeout acts
    at once: the line does not say that it waits on)."""
    if not said:
        return None
    fault = said.pop()
    scope.note(lambda: f"{fault}; no value" + (", it waits on" if waits else ""))
    return fault
