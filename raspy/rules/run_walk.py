"""The walk of a run through a scenario's actions (rules.run drives it): each block
in order, a `choose`'s branch, an `if`'s side and a `repeat`'s passes, a resumed
run's way back to the wait it was in (`resumed`), and each action's step
(rules.run_waits for the waits, rules.run_calls for those that go out,
rules.run_http for `http:`).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Final

from raspy.rules import model
from raspy.rules.resume_path import Path, Place
from raspy.rules.run_calls import call_step, checked_key, device_step, fitting
from raspy.rules.run_http import http_step
from raspy.rules.run_scope import Program, RunScope, short
from raspy.rules.run_steps import (
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
)
from raspy.rules.run_waits import (
    TakeUp,
    wait_step,
    wait_until_begins,
    wait_until_step,
)


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
    yield from _block(scope, actions, (), TakeUp(path, left_s, seconds, until))


def _unfit() -> RunFailed:
    """A place that is not in the actions: rules.resume_record checks a record against
    its document before a run is taken up from it, so this is a guard only."""
    return RunFailed("the place the run waited in is not in the scenario's actions")


_QUIET_STOP: Final = object()  # a `condition` action that did not hold


def _block(
    scope: RunScope,
    actions: tuple[model.Action, ...],
    where: Path,
    take_up: TakeUp | None = None,
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
    scope: RunScope, action: model.Action, here: Path, take_up: TakeUp
) -> Generator[Step, Resume, object]:
    """The action at `here` in a resumed run: the rest of the wait, or of the block
    of the choose branch or repeat pass the path goes into."""
    place = take_up.place
    if take_up.depth == len(take_up.path) - 1:
        if take_up.until and isinstance(action, model.WaitUntilAction):
            line = take_up.said(scope.source(action.condition))
            scope.note(lambda: line)
            yield from wait_until_step(scope, action, here[:-1], place.index, take_up)
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


def _one(
    scope: RunScope, action: model.Action, where: Path, index: int
) -> Generator[Step, Resume, object]:
    """The action at `index` of the block at `where`."""
    match action:
        case model.SetAction(key=key, value=value, ttl_s=ttl_s, expr=expr):
            target = checked_key(scope, key, "set")
            given = scope.value_of(value, expr, lambda: f"set {target}")
            filled = fitting(scope, "set", target, given)
            scope.note(lambda: f"set {target} = {short(filled)}")
            yield SetKey(target, filled, ttl_s)
        case model.DeleteAction(key=key):
            target = checked_key(scope, key, "delete")
            scope.note(lambda: f"delete {target}")
            yield DeleteKey(target)
        case model.EventAction(key=key, value=value, expr=expr):
            target = checked_key(scope, key, "event")
            given = scope.value_of(value, expr, lambda: f"event {target}")
            event = fitting(scope, "event", target, given)
            scope.note(lambda: f"event {target} = {short(event)}")
            yield PublishEvent(target, event)
        case model.LogAction(message=message, level=level):
            text = scope.text(message, lambda: "log")
            scope.note(lambda: f"log {level}: {short(text)}")
            yield Log(level, text)
        case model.RunAction(scenario=name):
            target = scope.text(name, lambda: "run")
            scope.note(lambda: f"run {target}")
            yield RunScenario(target)
        case model.StopAction(scenario=name):
            target = scope.text(name, lambda: "stop")
            scope.note(lambda: f"stop {target}")
            yield StopScenario(target)
        case model.WaitAction():
            yield from wait_step(scope, action, where, index)
        case model.DeviceAction():
            yield from device_step(scope, action)
        case model.CallAction():
            yield from call_step(scope, action)
        case model.HttpAction():
            yield from http_step(scope, action)
        case model.WaitUntilAction():
            scope.note(
                lambda: wait_until_begins(action, scope.source(action.condition))
            )
            yield from wait_until_step(scope, action, where, index)
        case model.ConditionAction(condition=condition):
            if not scope.holds(condition, "condition"):
                scope.note(
                    lambda: (
                        f"condition {short(scope.source(condition))}: false, "
                        "the run ends"
                    )
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
    take_up: TakeUp | None = None,
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
