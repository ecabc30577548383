"""The scenario model: what a loaded scenario document is (frozen data, no behaviour).

The loader (`rules.document`) builds these from YAML; the engine (`rules.engine`) runs
them. Nothing here parses, evaluates or touches a clock. Times: `*_s` are seconds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import field
from enum import StrEnum
from typing import Final, Protocol, TypeAlias
from zoneinfo import ZoneInfo

from raspy.devices.template import JsonValue
from raspy.records import frozen
from raspy.rules.expr_values import Work


class Mode(StrEnum):
    """What a new trigger does while a run is going (as Home Assistant's modes)."""

    SINGLE = "single"  # ignore it
    RESTART = "restart"  # stop the run, start again
    QUEUED = "queued"  # run after the current one, up to `max` waiting
    PARALLEL = "parallel"  # run beside it, up to `max` at once


class SunEvent(StrEnum):
    SUNRISE = "sunrise"
    SUNSET = "sunset"
    DAWN = "dawn"
    DUSK = "dusk"


# --- expressions ------------------------------------------------------------------------
class RandomSource(Protocol):
    """Where `random()` and a random `wait` take their numbers: passed in as the clock
    is (the engine never makes one), so a test hands a seeded `random.Random`.

    raspyd hands one `random.Random()` (seeded by the OS) to all of a core's
    scenarios. Not a `secrets` source on purpose: a lamp switched at a random moment
    needs numbers that differ from day to day, not numbers nobody can guess, and
    `random.Random` can be seeded for a test. Its `random()` is one call under the
    GIL, so the scenario actors' threads can share it."""

    def random(self) -> float:
        """A float in [0, 1)."""
        ...


def uniform(rng: RandomSource, low: float, high: float) -> float:
    """A float drawn uniformly from [low, high] (low <= high): `random(a, b)` and a
    random `wait`. A mix of the bounds, not low + (high - low) * draw: the difference
    of two large floats of opposite signs is infinite; a rounding past a bound is cut
    back."""
    draw = rng.random()
    return min(max(low * (1.0 - draw) + high * draw, low), high)


def no_place(_wall_ts: float) -> bool | None:
    """sun_up() on a hub without a place ([core] latitude and longitude): unknown."""
    return None


def no_size(_key: str) -> int:
    """kv_size() where no key's body is decoded to read it (a value at hand)."""
    return 0


# `repeat.index` (an expression's or a template's) where no repeat is around it
OUTSIDE_REPEAT: Final = "repeat.index is known only inside a repeat's actions"


@frozen
class EvalContext:
    """What an expression may see. `kv` answers a key's JSON value (None if absent);
    `sun` answers the wall time of a sun event on the day of `wall_ts` (None in polar
    day or night); `rng` gives `random()` its numbers; `repeat_index` is the pass
    of the innermost repeat the expression is in (from 1; None outside one);
    `sun_up` answers whether the sun is above the horizon at a wall time (None
    when the hub has no place); `work` meters what its evaluations do (a run's
    contexts share the run's meter, expr_values.Work); `kv_size` answers the
    bytes of JSON a kv() of the key decodes (what its read costs)."""

    wall_ts: float
    tz: ZoneInfo
    variables: Mapping[str, JsonValue]
    trigger: Mapping[str, JsonValue]
    kv: Callable[[str], JsonValue]
    sun: Callable[[SunEvent, float], float | None]
    rng: RandomSource
    host: str = ""
    repeat_index: int | None = None
    sun_up: Callable[[float], bool | None] = no_place
    work: Work = field(default_factory=Work)
    kv_size: Callable[[str], int] = no_size

    def trigger_field(self, name: str) -> JsonValue:
        """`trigger.<name>`: null when the trigger's data has no such entry, but
        `tried` a boolean, false on a firing (only a run tried as one of the
        triggers, rules.manual_run, has it)."""
        if name == "tried":
            return self.trigger.get(name) is True
        return self.trigger.get(name)


class Expression(Protocol):
    """A compiled, whitelisted expression (rules.expr); never Python's eval."""

    @property
    def source(self) -> str: ...

    def evaluate(self, context: EvalContext) -> JsonValue:
        """The value; raises ExpressionError (a ScenarioError) on a runtime fault."""
        ...

    def kv_keys(self) -> frozenset[str]:
        """The literal keys it reads with kv(...): the engine re-checks on their change."""
        ...


# --- triggers ---------------------------------------------------------------------------
@frozen
class KvTrigger:
    """A Clone key matching `pattern` (fnmatch glob) changed; value tests all optional.

    `to`/`from_` compare the decoded JSON value for equality; `below`/`above` are strict
    numeric bounds (a non-number never matches them). `for_s`: the match must hold that
    long without a break before the trigger fires.
    """

    pattern: str
    below: float | None = None
    above: float | None = None
    to: JsonValue = None
    from_: JsonValue = None
    has_to: bool = False  # `to: null` is a real test, so presence is explicit
    has_from: bool = False
    for_s: float = 0.0
    id: str = ""


@frozen
class EventTrigger:
    """A Clone key under /event/ matching `pattern` was published."""

    pattern: str
    id: str = ""


@frozen
class WhenTrigger:
    """`expression` became true (Python's truth of its value, as a condition's):
    re-tested when a key it reads changes, and each minute when `reads_time` (it
    calls `now()`, `hour()`, `sun_up()`...). `for_s`: it must stay true that long."""

    expression: Expression
    reads_time: bool = False
    for_s: float = 0.0
    id: str = ""


@frozen
class CronTrigger:
    """Five-field cron, local time of the core's timezone."""

    expression: str
    id: str = ""


@frozen
class AtTrigger:
    """Every day at a local time of day, seconds since local midnight (e.g. 23:00)."""

    seconds_of_day: int
    id: str = ""


@frozen
class EveryTrigger:
    interval_s: float
    id: str = ""


@frozen
class SunTrigger:
    event: SunEvent
    offset_s: float = 0.0
    id: str = ""


@frozen
class StartupTrigger:
    """When the scenario is loaded at daemon start (not on import or enable)."""

    id: str = ""


Trigger: TypeAlias = (
    KvTrigger
    | EventTrigger
    | WhenTrigger
    | CronTrigger
    | AtTrigger
    | EveryTrigger
    | SunTrigger
    | StartupTrigger
)
TimeTrigger: TypeAlias = CronTrigger | AtTrigger | EveryTrigger | SunTrigger


# --- actions ----------------------------------------------------------------------------
# Strings in actions are templates: `{host}`, `{trigger.key}`, `{trigger.value}`,
# `{now}` and variables are filled in at run time (rules.template), never str.format.
@frozen
class DeviceAction:
    """A command through `<host>.<svc>.devices`: `device` is `<host>.<svc>.<name>`.
    `expr` (instead of `value`): the value is computed when the action runs."""

    device: str
    action: str
    value: JsonValue = None
    timeout_s: float = 5.0
    expr: Expression | None = None


@frozen
class SetAction:
    """A Clone write; `value` is stored as its JSON text; ttl_s > 0 makes it ephemeral."""

    key: str
    value: JsonValue
    ttl_s: float = 0.0
    expr: Expression | None = None  # instead of `value`: computed when it runs


@frozen
class DeleteAction:
    key: str


@frozen
class CallAction:
    """Any MDP service; `titanic` sends it durably through titanic.request."""

    service: str
    body: tuple[str, ...] = ()
    titanic: bool = False
    timeout_s: float = 5.0


@frozen
class HttpAction:
    """An HTTP request through `<host>.http` (a phone's push service, a webhook).
    `url` and the header values are templates; `body` is a JSON value whose strings
    are templates (a text is sent as text, anything else as JSON), or `expr`
    computes it; `has_body` says whether there is one (`body: null` is JSON null)."""

    url: str
    method: str = "POST"
    body: JsonValue = None
    has_body: bool = False
    headers: tuple[tuple[str, str], ...] = ()
    timeout_s: float = 10.0
    expr: Expression | None = None


@frozen
class WaitAction:
    """A pause of `seconds`; with `max_seconds`, of a length drawn uniformly from
    [seconds, max_seconds] each time the wait starts (`wait: {min: 5m, max: 20m}`)."""

    seconds: float
    max_seconds: float | None = None


@frozen
class WaitUntilAction:
    """Wait until `condition` holds; past `timeout_s` (None: forever) the run fails,
    unless `continue_on_timeout`. Tested again when a key it reads changes, and
    each minute when `reads_time` (as a WhenTrigger's)."""

    condition: Expression
    timeout_s: float | None = None
    continue_on_timeout: bool = False
    reads_time: bool = False


@frozen
class RepeatAction:
    """Exactly one of count / while_ / until is set."""

    actions: tuple[Action, ...]
    count: int | None = None
    while_: Expression | None = None
    until: Expression | None = None


@frozen
class Branch:
    condition: Expression
    actions: tuple[Action, ...]


@frozen
class ChooseAction:
    branches: tuple[Branch, ...]
    otherwise: tuple[Action, ...] = ()


@frozen
class IfAction:
    """`if: EXPR, then: [...], else: [...]`: the plain form of a one-choice choose."""

    condition: Expression
    then: tuple[Action, ...]
    otherwise: tuple[Action, ...] = ()


@frozen
class EventAction:
    """Publish `key` (under /event/) with `value` (JSON, null too; `true` when the
    document gives none), or with what `expr` computes when the action runs."""

    key: str
    value: JsonValue = True
    expr: Expression | None = None


@frozen
class RunAction:
    scenario: str


@frozen
class StopAction:
    scenario: str


@frozen
class LogAction:
    message: str
    level: str = "info"


@frozen
class ConditionAction:
    """Stop the run quietly (not an error) when `condition` is false."""

    condition: Expression


Action: TypeAlias = (
    DeviceAction
    | SetAction
    | DeleteAction
    | CallAction
    | HttpAction
    | WaitAction
    | WaitUntilAction
    | RepeatAction
    | ChooseAction
    | IfAction
    | EventAction
    | RunAction
    | StopAction
    | LogAction
    | ConditionAction
)


# --- the scenario -----------------------------------------------------------------------
@frozen
class Scenario:
    """One loaded document. `source_text` is the document exactly as imported."""

    name: str
    triggers: tuple[Trigger, ...]
    actions: tuple[Action, ...]
    description: str = ""
    enabled: bool = True
    mode: Mode = Mode.SINGLE
    max_runs: int = 10  # `max:` for queued/parallel
    variables: Mapping[str, JsonValue] = field(default_factory=dict)
    conditions: tuple[Expression, ...] = ()
    source_text: str = ""
