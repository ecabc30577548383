"""What a manual run did, as the answer to its request says: started, queued or kept
from starting (and why), and, for a run over within the request, done or failed; and
what `trigger.*` a run tried as if one of its triggers fired sees
(`raspy scenario run NAME --trigger ID`).

Pure: read from the outputs of the engine's `run_now` (actors/scenario.py asks it).
"""

from __future__ import annotations

from collections.abc import Callable

from raspy.devices.template import JsonValue
from raspy.records import frozen
from raspy.rules import model
from raspy.rules import trigger_match as tm
from raspy.rules.engine_output import (
    Disabled,
    Output,
    Queued,
    RunEnded,
    Skipped,
    Status,
)
from raspy.rules.template import render


@frozen
class RunAnswer:
    """The Status after a manual run, and why no run started when the mode (or the
    runaway guard) kept it from starting (None: it started, or was queued). A run
    that ended within the request (nothing in it waited) says how: `done`, or
    `failed` with its reason; the state alone may be another run's, or left from
    an earlier one."""

    status: Status
    not_started: str | None = None
    queued: int | None = None  # mode queued: the run waits, this many waiting
    done: bool = False
    failed: str | None = None


def run_answer(status: Status, outputs: list[Output], before: int) -> RunAnswer:
    """What a manual run did, from the outputs of its request: `before` the id of
    the run started last before it (the run it started, if any, is `before + 1`,
    ids coming from one counter: a mode restart ends the runs going first)."""
    not_started = [o.reason for o in outputs if isinstance(o, Skipped)]
    # the runaway guard refused the start (and disables the scenario)
    not_started += [o.reason for o in outputs if isinstance(o, Disabled)]
    queued = [o.waiting for o in outputs if isinstance(o, Queued)]
    ended = [o for o in outputs if isinstance(o, RunEnded) and o.run_id == before + 1]
    return RunAnswer(
        status,
        not_started[0] if not_started else None,
        queued[0] if queued else None,
        done=bool(ended) and ended[0].error is None,
        failed=ended[0].error if ended else None,
    )


def tried_trigger(
    trigger: model.Trigger,
    wall: float,
    host: str,
    kv: Callable[[str], JsonValue],
) -> tm.TriggerData:
    """`trigger.*` of a run tried as if `trigger` fired now: its kind and id; a time
    trigger's value is now (its scheduled time, had it been due); a `kv` or `event`
    trigger on one key (no wildcard) has that key and its value in the tree now
    (`from` null: nothing changed). Anything else is null, as nothing happened.
    `tried` is true: the status, its history and `show` tell it from a firing."""
    data = _as_fired(trigger, wall, host, kv)
    data["tried"] = True
    return data


def _as_fired(
    trigger: model.Trigger,
    wall: float,
    host: str,
    kv: Callable[[str], JsonValue],
) -> tm.TriggerData:
    kind = tm.kind_of(type(trigger))
    if isinstance(trigger, model.TimeTrigger):
        return tm.trigger_data(kind, trigger.id, value=wall)
    if isinstance(trigger, model.KvTrigger | model.EventTrigger):
        pattern = render(trigger.pattern, {"host": host})
        if not tm.is_glob(pattern):  # one key, maybe escaped (`/x/[[]1]`)
            key = tm.glob_key(pattern)
            return tm.trigger_data(kind, trigger.id, key=key, value=kv(key))
    return tm.trigger_data(kind, getattr(trigger, "id", ""))
