"""The ScenarioActor's messages (`scenario.py`): what the core tells or asks it, with
the answers, and what the actor tells the core; frozen dataclasses, tell unless said.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pykka

from raspy.devices.template import JsonValue
from raspy.records import frozen
from raspy.rules import engine


# --- told to the actor (tell unless said) ------------------------------------------------
@frozen
class KvChanged:
    """A key the scenario reads changed; values are the decoded JSON (None: absent
    or null; `deleted` tells them apart)."""

    key: str
    old: JsonValue
    new: JsonValue
    deleted: bool = False


@frozen
class TimeFired:
    index: int
    scheduled_wall: float


@frozen
class ClockStepped:
    """The wall clock stepped by `delta_s` (NTP set it): ScenarioCore.on_clock_step."""

    delta_s: float


@frozen
class RunNow:
    """Ask: a manual run; answers a RunAnswer (raspy.rules.manual_run). `by`: the
    scenario whose `run:` asked for it (None: a `core.scenario` request, the CLI or
    the web face). `trigger`: the index of the trigger the run is tried as (None:
    a manual run)."""

    by: str | None = None
    trigger: int | None = None


@frozen
class StopRuns:
    """Ask: end every run now; answers RunsStopped. `shutdown`: the core stops (raspyd
    stops, or the core is restarted inside it): the record of the runs in a long
    wait stays in the tree for the next start to take them up. `last`: the core
    stops the actor next (a disable, a new version, a delete, its own stop): it
    takes no input after this one, so that no `for:` hold or `when:` test due
    before its stop starts a run that nothing would end. `keep_record`: the record
    stays too, its runs ending as any stop ends them: the core deletes it in the
    transaction that stores what ended them (a disable, a delete)."""

    shutdown: bool = False
    last: bool = False
    keep_record: bool = False


@frozen
class RunsStopped:
    """The Status after a StopRuns, and how many runs it ended (the actor knows;
    the core's view of the state may lag it)."""

    status: engine.Status
    ended: int = 0


@frozen
class Startup:
    """Resume `for:` holds from `current`, the tree's values of the keys the
    scenario's `for:` triggers watch, start the `when:` tests from `seen`, the keys
    they read as the core had them when it told this (the shared view may be ahead
    by the time it is taken; None: the view), and fire the startup triggers if
    `fire` (told once when the core starts, and to the new version of a replaced
    scenario; `fire` only at the daemon's start)."""

    current: tuple[tuple[str, JsonValue], ...] = ()
    fire: bool = True
    resume: tuple[engine.Checkpoint, ...] = ()  # runs recorded before a restart
    seen: tuple[tuple[str, JsonValue], ...] | None = None


@frozen
class NewText:
    """The scenario's stored text changed, not the scenario (an `enabled:` line
    added or dropped that says what it was already): its runs go on, and the
    record of those in a long wait names this text's `version` from now on, as
    the start that takes them up looks for it (rules.resume_start).

    `store` (an ask, then, or a tell from an import of several, whose `store`
    hands the record to the import's one commit and waits for it): stores the new
    text with that record, given the record's key and body (an empty body
    deletes), in one transaction, on the actor's thread, so that no record of its
    own comes between; as two writes a kill between them left a record naming the
    other text, and its runs were lost at the next start. Answers TextStored."""

    version: str
    store: Callable[[Sequence[tuple[bytes, bytes]]], None] | None = None


@frozen
class TextStored:
    """NewText's answer: `error` when its store raised (nothing stored, or, with
    `unknown`, a write that may still land), else None."""

    error: str | None = None
    unknown: bool = False


# --- told to the core --------------------------------------------------------------------
@frozen
class StatusReported:
    """The scenario's state changed; the core writes it (from `ref`, still its actor)."""

    name: str
    status: engine.Status
    ref: pykka.ActorRef[Any]


@frozen
class RunRequested:
    """A `run:` or `stop:` action of scenario `by` names scenario `name`."""

    name: str
    by: str
    stop: bool = False


@frozen
class ActionRefused:
    """The core could not do a `run:` or `stop:` that this scenario's run asked for;
    `reason` names the action and why (it becomes the scenario's last_error)."""

    reason: str


@frozen
class RunawayDisabled:
    """The runaway guard disabled the scenario; from `ref`, which must still be its
    actor (a late one from a version just replaced must not disable the new one)."""

    name: str
    reason: str
    ref: pykka.ActorRef[Any]
