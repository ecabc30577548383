"""One run of a scenario's actions: a resumable interpreter (pure: no I/O, no clock).

A run is a generator that yields what it needs done. Effects (set a key, publish an
event, log, run or stop another scenario) are carried out by the owner at once; awaits
(a sleep, an MDP request, a wait for a key change) pause the run until the owner
resumes it with what happened. Time is passed in through `RunClock` before each step.
A run that takes more than `step_limit` steps without a wait (a sleep not over yet,
a wait for a change) fails: a `repeat` with no wait in it cannot hold its actor, nor
click a device through its requests, for ever.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import Final, TypeAlias
from zoneinfo import ZoneInfo

from raspy import json_text
from raspy.devices.template import JsonValue
from raspy.errors import MalformedMessage, ScenarioError, shown
from raspy.protocol import clone
from raspy.rules import model
from raspy.rules.model import EvalContext, Expression, RandomSource, SunEvent
from raspy.rules.resume_path import Path, Place
from raspy.rules.run_http import http_step
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
    RunFailed,
    RunScenario,
    SendRequest,
    SetKey,
    Sleep,
    Step,
    StopScenario,
    TimedOut,
    Woken,
)
from raspy.rules.template import context_names, fill, render

__all__ = [
    "DEFAULT_STEP_LIMIT",
    "RESUME_MIN_WAIT_S",
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
    "RunFailed",
    "RunScenario",
    "RunScope",
    "SendRequest",
    "SetKey",
    "Sleep",
    "Step",
    "StopScenario",
    "TimedOut",
    "Woken",
    "execute",
    "resumed",
]

DEFAULT_MAX_VALUE_BYTES: Final = 64 * 1024  # [clone] max_value_bytes
# a run's trace (what it did, step by step: `raspy scenario show`) keeps this many
# lines, then counts the rest; a value in a line is cut at TRACE_VALUE_CHARS
TRACE_LINES: Final = 50
TRACE_VALUE_CHARS: Final = 60
TRACE_LINE_CHARS: Final = 400  # a line, a key (255 bytes at most) and a value whole
DEFAULT_STEP_LIMIT: Final = 10_000
# a `wait` this long or longer (at any depth) is recorded in the tree while it lasts, and a
# run in it goes on after a restart of raspyd; a shorter one (a blink loop's) is not
# worth two durable writes
RESUME_MIN_WAIT_S: Final = 60.0
TITANIC_SERVICE: Final = "titanic.request"


@dataclass(slots=True)
class RunClock:
    """The time a run sees; the owner sets it before every step."""

    mono: float
    wall: float


@dataclass(frozen=True, slots=True)
class RunEnv:
    """What the run reads outside itself (the owner's tree, sun table, ids, random
    numbers)."""

    host: str
    tz: ZoneInfo
    kv: Callable[[str], JsonValue]
    sun: Callable[[SunEvent, float], float | None]
    next_request_id: Callable[[], int]
    rng: RandomSource  # random() and random waits: passed in, seeded in tests
    max_value_bytes: int = DEFAULT_MAX_VALUE_BYTES  # the tree's ([clone]) limit
    http_service: bool = True  # raspyd's `<host>.http` is on ([http_client] enabled)
    # told each effect as the run yields it: a write reads back at once (own_writes)
    wrote: Callable[[Effect], None] | None = None


@dataclass(slots=True)
class RunScope:
    """One run's inputs: the trigger, the variables, the clock."""

    env: RunEnv
    clock: RunClock
    trigger: Mapping[str, JsonValue]
    variables: Mapping[str, JsonValue] = field(default_factory=dict)
    steps: int = 0  # the steps the run has yielded so far (Run counts them)
    # what the run did, a line an action, each at its time since the run began
    trace: list[str] = field(default_factory=list)
    untraced: int = 0  # lines past TRACE_LINES, counted only
    started: float | None = None  # monotonic, at the first line

    def note(self, line: Callable[[], str]) -> None:
        """One line of the trace, at the run's time now. `line` writes it out, only
        while the trace has room: a note per action is on the engine's hot path,
        and a run of thousands of actions would make each line to count it."""
        if self.started is None:
            self.started = self.clock.mono
        if len(self.trace) >= TRACE_LINES:
            self.untraced += 1
            return
        entry = f"+{self.clock.mono - self.started:.1f}s {line()}"
        if len(entry) > TRACE_LINE_CHARS:  # a name filled from a large value
            entry = entry[: TRACE_LINE_CHARS - 1] + "…"
        self.trace.append(entry)

    def context(self) -> EvalContext:
        return EvalContext(
            wall_ts=self.clock.wall,
            tz=self.env.tz,
            variables=self.variables,
            trigger=self.trigger,
            kv=self.env.kv,
            sun=self.env.sun,
            rng=self.env.rng,
            host=self.env.host,
        )

    def text(self, template: str) -> str:
        return render(template, context_names(self.context()))

    def value(self, value: JsonValue) -> JsonValue:
        """Every string inside the value is a template; a string that is one field
        alone (`"{trigger.value}"`) keeps the JSON type of what it names."""
        return fill(value, context_names(self.context()))

    def value_of(
        self, value: JsonValue, expr: Expression | None, action: Callable[[], str]
    ) -> JsonValue:
        """An action's value: its `value:` filled in, or what its `expr:` computes
        (a fault fails the run naming the `action`, `set /house/rings`, as `holds`
        does)."""
        if expr is None:
            return self.value(value)
        try:
            return expr.evaluate(self.context())
        except ScenarioError as exc:
            raise RunFailed(f"{action()}: {exc}") from None

    def holds(self, expression: Expression, action: str) -> bool:
        """Whether `expression` holds; a fault fails the run naming the `action`
        whose expression it is (`choose`, `wait_until`, ...), not the text alone."""
        try:
            return bool(expression.evaluate(self.context()))
        except ScenarioError as exc:
            raise RunFailed(f"{action}: {exc}") from None


Program: TypeAlias = Generator[Step, Resume, None]


def execute(scope: RunScope, actions: tuple[model.Action, ...]) -> Program:
    """The run's body: the actions in order (ScenarioError ends it)."""
    yield from _block(scope, actions, ())


def resumed(
    scope: RunScope,
    actions: tuple[model.Action, ...],
    path: Path,
    left_s: float,
    seconds: float,
) -> Program:
    """A run taken up after a restart of raspyd in the `wait` of `seconds` at `path`
    (from the top, through the choose branches and repeat passes it was in): what
    is left of it (`left_s`, from the wall clock), then the rest of each block
    around it, innermost first, as if the run had never stopped. A choose is not
    tested again (its branch is in the path); a repeat goes on from the pass it was
    in. The wait left is kept as the first was, so a second restart within it takes
    the run up again."""
    scope.note(
        lambda: f"resumed after a restart: wait {left_s:g}s left of {seconds:g}s"
    )
    yield from _block(scope, actions, (), _TakeUp(path, left_s, seconds))


@dataclass(frozen=True, slots=True)
class _TakeUp:
    """Where a resumed run goes on: the wait at `path` with `left_s` of its `seconds`
    left; `depth`, the level of `path` of the block at hand."""

    path: Path
    left_s: float
    seconds: float
    depth: int = 0

    @property
    def place(self) -> Place:
        return self.path[self.depth]

    def inner(self) -> _TakeUp:
        return _TakeUp(self.path, self.left_s, self.seconds, self.depth + 1)


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
        if not isinstance(action, model.WaitAction):
            raise _unfit()
        yield Sleep(scope.clock.mono + take_up.left_s, here, take_up.seconds)
        return None
    match action:
        case model.ChooseAction(branches=branches, otherwise=otherwise) if (
            place.choice is not None and place.choice <= len(branches)
        ):
            chosen = branches[place.choice - 1].actions if place.choice else otherwise
            return (yield from _block(scope, chosen, here, take_up.inner()))
        case model.RepeatAction() if place.pass_ is not None:
            return (yield from _repeat(scope, action, here[:-1], place.index, take_up))
    raise _unfit()


def _wait(
    scope: RunScope, action: model.WaitAction, where: Path, index: int
) -> Generator[Step, Resume, None]:
    """A `wait`, its length drawn now when it is a random one; `where` and `index`:
    its block's path and its place in it. A wait whose length (the drawn one: what
    the run really waits) is at least RESUME_MIN_WAIT_S is taken up after a restart
    (Sleep.place), for what is left of that same length."""
    seconds, bounds = action.seconds, ""
    if action.max_seconds is not None:
        low, high = action.seconds, action.max_seconds
        seconds = model.uniform(scope.env.rng, low, high)
        bounds = f" (random, {low:g}s to {high:g}s)"
    place = (*where, Place(index)) if seconds >= RESUME_MIN_WAIT_S else None
    scope.note(lambda: f"wait {seconds:g}s{bounds}")
    yield Sleep(scope.clock.mono + seconds, place, seconds)


def _one(
    scope: RunScope, action: model.Action, where: Path, index: int
) -> Generator[Step, Resume, object]:
    """The action at `index` of the block at `where`."""
    match action:
        case model.SetAction(key=key, value=value, ttl_s=ttl_s, expr=expr):
            target = _key(scope, key)
            given = scope.value_of(value, expr, lambda: f"set {target}")
            filled = _fitting(scope, target, given)
            scope.note(lambda: f"set {target} = {_short(filled)}")
            yield SetKey(target, filled, ttl_s)
        case model.DeleteAction(key=key):
            target = _key(scope, key)
            scope.note(lambda: f"delete {target}")
            yield DeleteKey(target)
        case model.EventAction(key=key, value=value, expr=expr):
            target = _key(scope, key)
            given = scope.value_of(value, expr, lambda: f"event {target}")
            event = _fitting(scope, target, given)
            scope.note(lambda: f"event {target} = {_short(event)}")
            yield PublishEvent(target, event)
        case model.LogAction(message=message, level=level):
            text = scope.text(message)
            scope.note(lambda: f"log {level}: {_short(text)}")
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
            yield from _device(scope, action)
        case model.CallAction():
            yield from _call(scope, action)
        case model.HttpAction():
            yield from http_step(scope, action)
        case model.WaitUntilAction():
            yield from _wait_until(scope, action)
        case model.ConditionAction(condition=condition):
            if not scope.holds(condition, "condition"):
                scope.note(
                    lambda: f"condition {_short(condition.source)}: false, the run ends"
                )
                return _QUIET_STOP
        case model.ChooseAction(branches=branches, otherwise=otherwise):
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
                (0, otherwise),
            )
            scope.note(
                lambda: f"choose: choice {chosen[0]}" if chosen[0] else "choose: else"
            )
            here = (*where, Place(index, choice=chosen[0]))
            return (yield from _block(scope, chosen[1], here))
        case model.RepeatAction():
            return (yield from _repeat(scope, action, where, index))
    return None


def _short(value: JsonValue) -> str:
    """A value in a trace line: its JSON (a text as it is), cut short."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    if len(text) > TRACE_VALUE_CHARS:
        return text[: TRACE_VALUE_CHARS - 1] + "…"
    return text


def _asked(request: Mapping[str, JsonValue]) -> str:
    """A device request in a trace line: its action, and the value sent if any."""
    given = f" {_short(request['value'])}" if "value" in request else ""
    return f"{request['action']}{given}"


def _fitting(scope: RunScope, key: str, value: JsonValue) -> JsonValue:
    """`value`, or RunFailed when the tree would drop it as too large (the server
    refuses it after the fact, and the run would look successful)."""
    limit = scope.env.max_value_bytes
    if not isinstance(value, str | list | dict):
        return value  # a number, true, false or null: a few bytes
    if isinstance(value, str) and 6 * len(value) + 2 <= limit:
        return value  # even all \uXXXX escapes fit: no need to encode it here
    size = len(json.dumps(value, ensure_ascii=False).encode("utf-8"))
    if size > limit:
        raise RunFailed(
            f"key {shown(key)}: a value of {size} bytes is over [clone] "
            f"max_value_bytes ({limit})"
        )
    return value


def _key(scope: RunScope, template: str) -> str:
    """A Clone key filled in; RunFailed when the tree would refuse it (§6.2)."""
    key = scope.text(template)
    try:
        clone.check_path_key(key.encode("utf-8"))
    except MalformedMessage as exc:
        raise RunFailed(f"key {shown(key)}: {exc.detail}") from None
    return key


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
    while True:
        inner = None
        if take_up is not None:
            number, inner, take_up = take_up.place.pass_ or 0, take_up.inner(), None
        elif _another_pass(scope, action, number):
            number += 1
        else:
            return None
        before = scope.steps
        here = (*where, Place(index, pass_=number))
        if (yield from _block(scope, action.actions, here, inner)) is _QUIET_STOP:
            return _QUIET_STOP
        if scope.steps == before:  # a pass that yielded nothing still counts
            yield Idle()
        if action.until is not None and scope.holds(action.until, "repeat until"):
            return None


def _another_pass(scope: RunScope, action: model.RepeatAction, done: int) -> bool:
    """Whether a repeat makes a pass after `done` of them (`count:`, `while:`)."""
    if action.count is not None and done >= action.count:
        return False
    return action.while_ is None or scope.holds(action.while_, "repeat while")


def _device(
    scope: RunScope, action: model.DeviceAction
) -> Generator[Step, Resume, None]:
    fullname = scope.text(action.device)
    host, _, rest = fullname.partition(".")
    service, _, device = rest.partition(".")
    if not (host and service and device):
        raise RunFailed(f"device {shown(fullname)}: expected <host>.<service>.<device>")
    command = scope.text(action.action)
    if not command:  # `action: "{trigger.id}"` in a run without one (a manual run)
        raise RunFailed(
            f"device {fullname}: action {shown(action.action)} gave no command in "
            f"this run (its trigger: {_started(scope.trigger)}): nothing sent"
        )
    request: dict[str, JsonValue] = {"v": 1, "action": command, "device": device}
    if action.expr is not None:
        value = scope.value_of(
            None, action.expr, lambda: f"device {fullname} {command}"
        )
        if value is not None:  # null is no value to a device, as `value: null` is
            request["value"] = value
    elif action.value is not None:
        request["value"] = scope.value(action.value)
    body = (json.dumps(request).encode("utf-8"),)
    scope.note(lambda: f"device {fullname} {_asked(request)}")
    reply = yield from _request(
        scope, f"{host}.{service}.devices", body, action.timeout_s
    )
    status = reply[0] if reply else b""
    scope.note(lambda: f"device {fullname}: {_describe(reply)}")
    if status != b"200":
        raise RunFailed(f"device {fullname}: {command} answered {_describe(reply)}")


def _call(scope: RunScope, action: model.CallAction) -> Generator[Step, Resume, None]:
    service = scope.text(action.service)
    body = tuple(scope.text(frame).encode("utf-8") for frame in action.body)
    scope.note(lambda: f"call {service}" + (" (titanic)" if action.titanic else ""))
    if action.titanic:
        reply = yield from _request(
            scope, TITANIC_SERVICE, (service.encode("utf-8"), *body), action.timeout_s
        )
        scope.note(lambda: f"call {service} (titanic): {_describe(reply)}")
        if not reply or reply[0] != b"200":
            raise RunFailed(
                f"titanic refused the call to {service}: {_describe(reply)}"
            )
        return
    reply = yield from _request(scope, service, body, action.timeout_s)
    scope.note(lambda: f"call {service}: {_describe(reply)}")
    # a reply whose first frame is an error status (4xx/5xx) is a failure
    if (
        reply
        and len(reply[0]) == 3
        and reply[0][:1] in (b"4", b"5")
        and reply[0].isdigit()
    ):
        raise RunFailed(f"call {service} answered {_describe(reply)}")


def _request(
    scope: RunScope, service: str, body: tuple[bytes, ...], timeout_s: float
) -> Generator[Step, Resume, tuple[bytes, ...]]:
    deadline = scope.clock.mono + timeout_s
    answer = yield SendRequest(scope.env.next_request_id(), service, body, deadline)
    if isinstance(answer, Reply):
        return answer.body
    raise RunFailed(f"{service} did not answer within {timeout_s:g}s")


def _wait_until(
    scope: RunScope, action: model.WaitUntilAction
) -> Generator[Step, Resume, None]:
    deadline = None if action.timeout_s is None else scope.clock.mono + action.timeout_s
    scope.note(lambda: f"wait_until {_short(action.condition.source)}")
    while not scope.holds(action.condition, "wait_until"):
        if isinstance((yield AwaitChange(deadline)), TimedOut):
            if action.continue_on_timeout:
                scope.note(lambda: "wait_until: timed out, the run goes on")
                return
            raise RunFailed(
                f"wait_until {shown(action.condition.source)} timed out after {action.timeout_s:g}s"
            )
    scope.note(lambda: "wait_until: holds")


def _started(trigger: Mapping[str, JsonValue]) -> str:
    """What started a run, as `raspy scenario show` says it: `manual`, `kv`, ...,
    and `manual by NAME` for a run another scenario's `run:` started."""
    kind, by = trigger.get("kind") or "manual", trigger.get("by")
    return f"{kind} by {by}" if by else str(kind)


def _describe(reply: tuple[bytes, ...]) -> str:
    """A reply shown in a reason: its status and, for JSON errors, the token; for
    a change a device holds (a GPIO switch's min_off_s), what it holds."""
    if not reply:
        return "an empty reply"
    status = reply[0].decode("utf-8", "replace")[:16]
    if len(reply) > 1:
        try:
            detail = json_text.loads(reply[1])
        except ValueError:
            return status
        if isinstance(detail, dict) and "error" in detail:
            extra = f" ({detail['detail']})" if detail.get("detail") else ""
            return f"{status} {detail['error']}{extra}"[:160]
        pending = detail.get("pending") if isinstance(detail, dict) else None
        if isinstance(pending, dict) and isinstance(pending.get("detail"), str):
            return f"{status} held ({pending['detail']})"[:160]
    return status


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
                    self.waiting = step
                    return effects
                if self._unpaused == self._step_limit:  # one more than allowed
                    break
                self._unpaused += 1
                if isinstance(step, SendRequest):
                    self.waiting = step
                    return effects
                if not isinstance(step, Idle | Sleep):
                    effects.append(step)
                    if self.scope.env.wrote is not None:
                        self.scope.env.wrote(step)
            self._fail(f"more than {self._step_limit} steps without a wait; stopped")
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
