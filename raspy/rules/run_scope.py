"""What one run of a scenario sees and keeps (rules.run drives it): its clock, the
hub's tree and sun table through RunEnv, the trigger and variables, the templates and
expressions filled from them, and its trace (a line an action, `raspy scenario show`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import Final, TypeAlias
from zoneinfo import ZoneInfo

from raspy.devices.template import JsonValue
from raspy.errors import ScenarioError
from raspy.protocol import clone
from raspy.records import frozen
from raspy.rules.expr_keys import filled
from raspy.rules.expr_values import Work
from raspy.rules.model import (
    EvalContext,
    Expression,
    RandomSource,
    SunEvent,
    no_place,
    no_size,
)
from raspy.rules.run_steps import Effect, Resume, RunFailed, Step
from raspy.rules.template import (
    SECRET_PREFIX,
    TemplateError,
    context_names,
    fill,
    render_in,
)
from raspy.secrets_file import Loaded

DEFAULT_MAX_VALUE_BYTES: Final = 64 * 1024  # [clone] max_value_bytes
DEFAULT_MAX_KEY_BYTES: Final = clone.MAX_KEY_BYTES  # [clone] max_key_bytes
# a run's trace (what it did, step by step: `raspy scenario show`) keeps this many
# lines, then counts the rest; a value in a line is cut at TRACE_VALUE_CHARS
TRACE_LINES: Final = 50
TRACE_VALUE_CHARS: Final = 60
TRACE_LINE_CHARS: Final = 400  # a line, a key (255 bytes at most) and a value whole


NO_SECRETS: Final = Loaded("", problem="this hub has no secrets file")


def trace_line(since: float, line: Callable[[], str]) -> str:
    """A line of a trace, `since` seconds into the run, cut at TRACE_LINE_CHARS."""
    entry = f"+{since:.1f}s {line()}"
    if len(entry) > TRACE_LINE_CHARS:  # a name filled from a large value
        entry = entry[: TRACE_LINE_CHARS - 1] + "…"
    return entry


@dataclass(slots=True)
class RunClock:
    """The time a run sees; the owner sets it before every step."""

    mono: float
    wall: float


@frozen
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
    max_key_bytes: int = DEFAULT_MAX_KEY_BYTES  # the tree's ([clone]) limit
    sun_up: Callable[[float], bool | None] = no_place  # None: the hub has no place
    # the secrets file as it is now (raspy.secrets_file.SecretsFile.load): what
    # `{secret.NAME}` fills in an `http:` action
    secrets: Callable[[], Loaded] = lambda: NO_SECRETS
    kv_size: Callable[[str], int] = no_size  # the bytes of JSON kv() decodes


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
    # the last of those, at its time since the run began: written out only when a
    # run under way is shown, whose last line says what it waits for now
    latest: tuple[float, Callable[[], str]] | None = None
    started: float | None = None  # monotonic, at the first line
    # the pass of each repeat the run is in, outermost first: repeat.index is the last
    passes: list[int] = field(default_factory=list)
    # what its expressions did since the run last paused (Run counts it as steps)
    work: Work = field(default_factory=Work)

    def note(self, line: Callable[[], str]) -> None:
        """One line of the trace, at the run's time now. `line` writes it out, only
        while the trace has room: a note per action is on the engine's hot path,
        and a run of thousands of actions would make each line to count it."""
        if self.started is None:
            self.started = self.clock.mono
        since = self.clock.mono - self.started
        if len(self.trace) >= TRACE_LINES:
            self.untraced += 1
            self.latest = (since, line)
            return
        self.trace.append(trace_line(since, line))

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
            repeat_index=self.passes[-1] if self.passes else None,
            sun_up=self.env.sun_up,
            work=self.work,
            kv_size=self.env.kv_size,
        )

    def text(
        self,
        template: str,
        where: Callable[[], str] | str,
        secrets: Mapping[str, str] | None = None,
        *,
        quoted: bool = True,
    ) -> str:
        """`template` filled in; `{secret.NAME}` from `secrets` (an `http:`
        action's: the import allows them nowhere else). A field it cannot write (a
        number JSON has not: a tree value `1e400`) fails the run naming `where`,
        the action and its field (`set: key`, `log`; a callable is called only
        then); not `quoted`: the reason leaves the template out (an http URL's
        path, a header's value)."""
        try:
            return render_in(template, self.context(), secrets)
        except TemplateError as exc:
            said = str(exc) if quoted else f"{exc.reason} (at offset {exc.offset})"
            action = where if isinstance(where, str) else where()
            raise RunFailed(f"{action}: {said}") from None

    def value(
        self,
        value: JsonValue,
        where: Callable[[], str],
        secrets: Mapping[str, str] | None = None,
    ) -> JsonValue:
        """Every string inside the value is a template; a string that is one field
        alone (`"{trigger.value}"`) keeps the JSON type of what it names. A text
        that cannot be written fails the run naming `where` (`set /x: value`)."""
        names = context_names(self.context())
        for name, secret in (secrets or {}).items():
            names[f"{SECRET_PREFIX}{name}"] = secret
        try:
            return fill(value, names)
        except TemplateError as exc:
            raise RunFailed(f"{where()}: {exc}") from None

    def value_of(
        self,
        value: JsonValue,
        expr: Expression | None,
        action: Callable[[], str],
        secrets: Mapping[str, str] | None = None,
        field: str = "value",
    ) -> JsonValue:
        """An action's value: its `value:` filled in, or what its `expr:` computes
        (a fault fails the run naming the `action`, `set /house/rings`, as `holds`
        does; a text of its `value:` that cannot be written, the action and the
        `field`)."""
        if expr is None:
            return self.value(value, lambda: f"{action()}: {field}", secrets)
        try:
            return expr.evaluate(self.context())
        except ScenarioError as exc:
            raise RunFailed(f"{action()}: {exc}") from None

    def source(self, expression: Expression) -> str:
        """The expression's text for the trace, its kv() keys filled in as the run
        reads them (`kv('/device/pi.fake.bath/value')`, not `{host}`); a key made
        of names the run does not have is left as written."""
        text = expression.source
        templated = [key for key in expression.kv_keys() if "{" in key]
        if not templated:
            return text
        names = context_names(self.context())
        for key in sorted(templated, key=len, reverse=True):
            shown = filled(key, names)
            if shown is not None:
                text = text.replace(key, shown)
        return text

    def holds(self, expression: Expression, action: str) -> bool:
        """Whether `expression` holds; a fault fails the run naming the `action`
        whose expression it is (`choose`, `if`, `repeat while`, ...), not the text
        alone. A `wait_until` takes a fault as no value instead (raspy.rules.retest)."""
        try:
            return bool(expression.evaluate(self.context()))
        except ScenarioError as exc:
            raise RunFailed(f"{action}: {exc}") from None


Program: TypeAlias = Generator[Step, Resume, None]


def short(value: JsonValue) -> str:
    """A value in a trace line: its JSON (a text as it is), cut short."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    if len(text) > TRACE_VALUE_CHARS:
        return text[: TRACE_VALUE_CHARS - 1] + "…"
    return text
