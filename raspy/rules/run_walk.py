"""The walk of a run through a scenario's actions (rules.run drives it): each block
in order, a `choose`'s branch and a `repeat`'s passes, the waits (a long one says
where it is, so that a restart can take the run up there: `resumed`), and each
action's step (rules.run_calls for those that go out, rules.run_http for `http:`).
"""

from __future__ import annotations

import math
from collections.abc import Generator
from dataclasses import dataclass, replace
from typing import Final

from raspy.devices.template import JsonValue
from raspy.errors import shown
from raspy.rules import model
from raspy.rules.expr_values import truthy
from raspy.rules.resume_path import Path, Place
from raspy.rules.retest import Fault, Retested, next_minute
from raspy.rules.run_calls import call_step, checked_key, device_step, fitting
from raspy.rules.run_http import http_step
from raspy.rules.run_scope import Program, RunScope, short
from raspy.rules.run_steps import (
    AwaitChange,
    DeleteKey,
    Idle,
    Log,
    PublishEvent,
    Resume,
    RunFailed,
    RunScenario,
    SetKey,
    Sleep,
    Step,
    StopScenario,
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


def execute(scope: RunScope, actions: tuple[model.Action, ...]) -> Program:
    """The run's body: the actions in order (ScenarioError ends it)."""
    yield from _block(scope, actions, ())


def resumed(
    scope: RunScope,
    actions: tuple[model.Action, ...],
    path: Path,
    left_s: float,
    seconds: float,
    *,
    until: bool = False,
) -> Program:
    """A run taken up after a restart of raspyd in the `wait` of `seconds` at `path`
    (from the top, through the choose branches and repeat passes it was in): what
    is left of it (`left_s`, from the wall clock), then the rest of each block
    around it, innermost first, as if the run had never stopped. A choose is not
    tested again (its branch is in the path); a repeat goes on from the pass it was
    in. The wait left is kept as the first was, so a second restart within it takes
    the run up again. `until`: the place is a `wait_until`, whose test is made at
    once; `seconds` its timeout then (infinite: none)."""
    yield from _block(scope, actions, (), _TakeUp(path, left_s, seconds, until))


def _resume_floor(where: Path) -> float:
    """How long a wait must last (a wait_until must have waited) to be recorded:
    longer inside a repeat, where each pass's wait is a record of its own."""
    in_repeat = any(level.pass_ is not None for level in where)
    return RESUME_MIN_REPEAT_WAIT_S if in_repeat else RESUME_MIN_WAIT_S


def _tenths(seconds: float) -> str:
    """A time the run drew or the wall clock measured, as the trace's step times
    are written: to a tenth of a second (`431.9`, `300`), not six digits."""
    return f"{seconds:.1f}".removesuffix(".0")


@dataclass(frozen=True, slots=True)
class _TakeUp:
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

    def inner(self) -> _TakeUp:
        return _TakeUp(self.path, self.left_s, self.seconds, self.until, self.depth + 1)

    def said(self, action: model.WaitUntilAction | None) -> str:
        """The trace's first line: `wait 554.2s left of 600s`, or for a wait_until
        its test and `554.2s left of 600s` or `no timeout`."""
        left = f"{_tenths(self.left_s)}s left of {_tenths(self.seconds)}s"
        if action is None:
            return f"resumed after a restart: wait {left}"
        timeout = left if math.isfinite(self.seconds) else "no timeout"
        source = short(action.condition.source)
        return f"resumed after a restart: wait_until {source}, {timeout}"


def _waits_until(action: model.WaitUntilAction) -> str:
    """The trace's line as a wait_until begins: its test and how long it may last,
    as the line of one resumed after a restart says what is left."""
    timeout = action.timeout_s
    limit = "no timeout" if timeout is None else f"timeout {_tenths(timeout)}s"
    return f"wait_until {short(action.condition.source)} ({limit})"


def _unfit() -> RunFailed:
    """A place that is not in the actions: rules.resume_record checks a record against
    its document before a run is taken up from it, so this is a guard only."""
    return RunFailed("the place the run waited in is not in the scenario's actions")


_QUIET_STOP: Final = object()  # a `condition` action that did not hold


def _block(
    scope: RunScope,
    actions: tuple[model.Action, ...],
    where: Path,
    take_up: _TakeUp | None = None,
) -> Generator[Step, Resume, object]:
    """A block's actions in order; `where`: the path to the block (a long `wait` in
    it says where it is); `take_up`: go on from a resumed run's place in it."""
    first = 0
    if take_up is not None:
        place = take_up.place
        if not 0 <= place.index < len(actions):
            raise _unfit()
        here = (*where, place)
        action = actions[place.index]
        if (yield from _taken_up(scope, action, here, take_up)) is _QUIET_STOP:
            return _QUIET_STOP
        first = place.index + 1
    for index in range(first, len(actions)):
        if (yield from _one(scope, actions[index], where, index)) is _QUIET_STOP:
            return _QUIET_STOP
    return None


def _taken_up(
    scope: RunScope, action: model.Action, here: Path, take_up: _TakeUp
) -> Generator[Step, Resume, object]:
    """The action at `here` in a resumed run: the rest of the wait, or of the block
    of the choose branch or repeat pass the path goes into."""
    place = take_up.place
    if take_up.depth == len(take_up.path) - 1:
        if take_up.until and isinstance(action, model.WaitUntilAction):
            line = take_up.said(action)
            scope.note(lambda: line)
            yield from _wait_until(scope, action, here[:-1], place.index, take_up)
            return None
        if take_up.until or not isinstance(action, model.WaitAction):
            raise _unfit()
        scope.note(lambda: take_up.said(None))
        yield Sleep(scope.clock.mono + take_up.left_s, here, take_up.seconds)
        return None
    match action:
        case model.ChooseAction(branches=branches, otherwise=otherwise) if (
            place.choice is not None and place.choice <= len(branches)
        ):
            chosen = branches[place.choice - 1].actions if place.choice else otherwise
            return (yield from _block(scope, chosen, here, take_up.inner()))
        case model.IfAction(then=then, otherwise=otherwise) if place.choice in (0, 1):
            chosen = then if place.choice else otherwise
            return (yield from _block(scope, chosen, here, take_up.inner()))
        case model.RepeatAction() if place.pass_ is not None:
            return (yield from _repeat(scope, action, here[:-1], place.index, take_up))
    raise _unfit()


def _wait(
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


def _one(
    scope: RunScope, action: model.Action, where: Path, index: int
) -> Generator[Step, Resume, object]:
    """The action at `index` of the block at `where`."""
    match action:
        case model.SetAction(key=key, value=value, ttl_s=ttl_s, expr=expr):
            target = checked_key(scope, key)
            given = scope.value_of(value, expr, lambda: f"set {target}")
            filled = fitting(scope, target, given)
            scope.note(lambda: f"set {target} = {short(filled)}")
            yield SetKey(target, filled, ttl_s)
        case model.DeleteAction(key=key):
            target = checked_key(scope, key)
            scope.note(lambda: f"delete {target}")
            yield DeleteKey(target)
        case model.EventAction(key=key, value=value, expr=expr):
            target = checked_key(scope, key)
            given = scope.value_of(value, expr, lambda: f"event {target}")
            event = fitting(scope, target, given)
            scope.note(lambda: f"event {target} = {short(event)}")
            yield PublishEvent(target, event)
        case model.LogAction(message=message, level=level):
            text = scope.text(message)
            scope.note(lambda: f"log {level}: {short(text)}")
            yield Log(level, text)
        case model.RunAction(scenario=name):
            target = scope.text(name)
            scope.note(lambda: f"run {target}")
            yield RunScenario(target)
        case model.StopAction(scenario=name):
            target = scope.text(name)
            scope.note(lambda: f"stop {target}")
            yield StopScenario(target)
        case model.WaitAction():
            yield from _wait(scope, action, where, index)
        case model.DeviceAction():
            yield from device_step(scope, action)
        case model.CallAction():
            yield from call_step(scope, action)
        case model.HttpAction():
            yield from http_step(scope, action)
        case model.WaitUntilAction():
            scope.note(lambda: _waits_until(action))
            yield from _wait_until(scope, action, where, index)
        case model.ConditionAction(condition=condition):
            if not scope.holds(condition, "condition"):
                scope.note(
                    lambda: f"condition {short(condition.source)}: false, the run ends"
                )
                return _QUIET_STOP
        case model.ChooseAction():
            return (yield from _choose(scope, action, where, index))
        case model.IfAction():
            return (yield from _if(scope, action, where, index))
        case model.RepeatAction():
            return (yield from _repeat(scope, action, where, index))
    return None


def _choose(
    scope: RunScope, action: model.ChooseAction, where: Path, index: int
) -> Generator[Step, Resume, object]:
    """The first choice whose test holds, else the `else:` (choice 0 in a path)."""
    branches = action.branches
    chosen = next(
        (
            (number, b.actions)
            for number, b in enumerate(branches, 1)
            # of several choices, the one whose test failed
            if scope.holds(
                b.condition,
                f"choose choice {number}" if len(branches) > 1 else "choose",
            )
        ),
        (0, action.otherwise),
    )
    scope.note(lambda: f"choose: choice {chosen[0]}" if chosen[0] else "choose: else")
    here = (*where, Place(index, choice=chosen[0]))
    return (yield from _block(scope, chosen[1], here))


def _if(
    scope: RunScope, action: model.IfAction, where: Path, index: int
) -> Generator[Step, Resume, object]:
    """`then:` or `else:`; in a path, `then` is choice 1 and `else` 0, as a
    one-choice choose's are."""
    held = scope.holds(action.condition, "if")
    scope.note(lambda: "if: then" if held else "if: else")
    here = (*where, Place(index, choice=1 if held else 0))
    return (yield from _block(scope, action.then if held else action.otherwise, here))


def _repeat(
    scope: RunScope,
    action: model.RepeatAction,
    where: Path,
    index: int,
    take_up: _TakeUp | None = None,
) -> Generator[Step, Resume, object]:
    """The repeat at `index` of the block at `where`; `take_up`: a resumed run goes on
    in the pass it was in (the rest of it, then `until:` and the next passes, as
    ever; `count:` and `while:` are not tested again before that pass)."""
    number = 0
    scope.passes.append(0)  # repeat.index: the pass, in its actions and tests
    try:
        while True:
            inner = None
            if take_up is not None:
                number, inner, take_up = take_up.place.pass_ or 0, take_up.inner(), None
            else:
                scope.passes[-1] = number + 1  # `while:` sees the pass it would make
                if not _another_pass(scope, action, number):
                    return None
                number += 1
            scope.passes[-1] = number
            before = scope.steps
            here = (*where, Place(index, pass_=number))
            if (yield from _block(scope, action.actions, here, inner)) is _QUIET_STOP:
                return _QUIET_STOP
            if scope.steps == before:  # a pass that yielded nothing still counts
                yield Idle()
            if action.until is not None and scope.holds(action.until, "repeat until"):
                return None
    finally:
        scope.passes.pop()


def _another_pass(scope: RunScope, action: model.RepeatAction, done: int) -> bool:
    """Whether a repeat makes a pass after `done` of them (`count:`, `while:`)."""
    if action.count is not None and done >= action.count:
        return False
    return action.while_ is None or scope.holds(action.while_, "repeat while")


def _wait_until(
    scope: RunScope,
    action: model.WaitUntilAction,
    where: Path,
    index: int,
    take_up: _TakeUp | None = None,
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
    while not _holds(tested, scope, said, changed):
        fault = _fault_began(scope, said)
        woken = None if expired else (yield _awaiting(awaited, action, scope, fault))
        changed = None
        if isinstance(woken, Woken) and woken.key is not None:
            changed = (woken.key, woken.value)
        elif expired or isinstance(woken, TimedOut):
            if action.continue_on_timeout:
                scope.note(lambda: "wait_until: timed out, the run goes on")
                return
            raise RunFailed(
                f"wait_until {shown(action.condition.source)} timed out after {action.timeout_s:g}s"
            )
    scope.note(lambda: "wait_until: holds")


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


def _fault_began(scope: RunScope, said: list[str]) -> str | None:
    """The fault that began with a wait_until's test, if one did: a line of the
    trace now (the engine shows it as the scenario's last_error)."""
    if not said:
        return None
    fault = said.pop()
    scope.note(lambda: f"{fault}; no value, it waits on")
    return fault
