"""What a run yields, what resumes it (frozen data; rules.run drives them), and how
an action fails it (RunFailed).

Effects are carried out at once and the run goes on; awaits pause the run until the
owner resumes it with a Reply, TimedOut or Woken (None resumes an effect or a Sleep).
"""

from __future__ import annotations

import math
from typing import TypeAlias

from raspy.devices.template import JsonValue
from raspy.errors import ScenarioError
from raspy.records import frozen
from raspy.rules.resume_path import Path


class RunFailed(ScenarioError):
    """An action failed: the run stops and the scenario shows `reason`."""


# --- effects: carried out at once, the run goes on ----------------------------------------
@frozen
class SetKey:
    key: str
    value: JsonValue
    ttl_s: float = 0.0


@frozen
class DeleteKey:
    key: str


@frozen
class PublishEvent:
    key: str
    value: JsonValue


@frozen
class Log:
    level: str
    message: str


@frozen
class RunScenario:
    name: str


@frozen
class StopScenario:
    name: str


Effect: TypeAlias = SetKey | DeleteKey | PublishEvent | Log | RunScenario | StopScenario


# --- awaits: the run pauses until resumed ------------------------------------------------
@frozen
class Sleep:
    """`place`: for a `wait` long enough to outlive a restart of raspyd, where it is
    in the actions (rules.resume_path; the engine keeps a record of the run there);
    `seconds` is the wait's whole duration then (a random wait's as drawn)."""

    deadline: float  # monotonic s
    place: Path | None = None
    seconds: float = 0.0


@frozen
class SendRequest:
    """An MDP request; resumed with Reply, or TimedOut once `deadline` passes."""

    request_id: int
    service: str
    body: tuple[bytes, ...]
    deadline: float


@frozen
class AwaitChange:
    """Resumed with Woken when a watched key changes, TimedOut at `deadline`.

    `place`: for a `wait_until` that may outlive a restart of raspyd, where it is in
    the actions; the engine records the run there once it has waited until
    `record_at` (monotonic s: a door that closes within the minute costs no write),
    with `end_wall` (epoch s its timeout ends) and `seconds` (its whole timeout),
    both infinite when it has none. The same for every wake of one wait_until, so
    that a wake writes nothing new. `fault`: the fault of its test that began with
    this test (no value: it waits on), which the scenario shows once as its
    last_error; None at the next wakes. `retest_at`: for a test that reads the
    time, when the wall clock's minute turns next (monotonic s): it is woken then
    (Woken without a key)."""

    deadline: float | None
    place: Path | None = None
    record_at: float = 0.0
    end_wall: float = math.inf
    seconds: float = math.inf
    fault: str | None = None
    retest_at: float | None = None


Await: TypeAlias = Sleep | SendRequest | AwaitChange


@frozen
class Idle:
    """A pass of a `repeat` that did nothing (a condition that held, no branch
    chosen): counted against the step limit, never shown, so such a loop ends."""


Step: TypeAlias = Effect | Await | Idle


# --- what resumes a run ------------------------------------------------------------------
@frozen
class Reply:
    body: tuple[bytes, ...]


@frozen
class TimedOut:
    pass


@frozen
class Woken:
    """A key a wait_until may read changed: `key` and the `value` its change left
    (None: deleted), which the test reads though the tree has moved on since (a
    bell's 0, 1, 0 heard after the tree says 0 again); `key` None: nothing
    changed, test again as the tree is."""

    key: str | None = None
    value: JsonValue = None


Resume: TypeAlias = Reply | TimedOut | Woken | None
