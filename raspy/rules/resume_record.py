"""The record of runs paused in a long top-level `wait`, kept at
`/scenario/<name>/resume` so that a restart of raspyd takes them up (pure).

The record names the exact stored version of the scenario (a hash of its document):
a run is taken up only by the version whose actions it was running. Anything else in
the key (another version, text that is not such a record, an index past the actions
or not after such a wait) is no record: the run is lost, as before.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from typing import Final

from raspy.devices.template import JsonValue
from raspy.rules import model
from raspy.rules.engine import Checkpoint
from raspy.rules.run import RESUME_MIN_WAIT_S

ENTRY: Final = "resume"  # /scenario/<name>/resume
FORMAT: Final = 1
# runs whose waits all ended longer ago than this are not taken up but named lost: a
# record from a restored backup, or a hub off for days
STALE_AFTER_S: Final = 24 * 3600.0


def resume_key(name: str) -> str:
    return f"/scenario/{name}/{ENTRY}"


def fingerprint(code: str) -> str:
    """What identifies a stored version: a hash of its document, byte for byte."""
    return hashlib.sha256(code.encode("utf-8")).hexdigest()[:32]


def encode(
    version: str, runs: Sequence[Checkpoint], max_bytes: int, lost: int = 0
) -> tuple[bytes, int]:
    """The record's JSON body with as many of `runs` as fit in `max_bytes` (the
    tree's value limit: a trigger may carry a large value), and how many were left
    out. Those, and the `lost` others (runs a stop of raspyd ends elsewhere than in
    such a wait), are counted in the record: a start names them lost."""
    kept = list(runs)
    while True:
        value: dict[str, JsonValue] = {
            "v": FORMAT,
            "version": version,
            "runs": [
                {
                    "next": run.next_index,
                    "end": run.end_wall,
                    "seconds": run.seconds,
                    "trigger": dict(run.trigger),
                }
                for run in kept
            ],
        }
        if lost + len(runs) - len(kept):
            value["lost"] = lost + len(runs) - len(kept)
        body = json.dumps(value, ensure_ascii=False).encode("utf-8")
        if len(body) <= max_bytes or not kept:
            return body, len(runs) - len(kept)
        kept.pop()


def decode(
    value: JsonValue, version: str, scenario: model.Scenario
) -> tuple[Checkpoint, ...] | None:
    """The runs of a record written by this `version` of `scenario`; None when
    `value` is no such record."""
    if not isinstance(value, dict) or value.get("v") != FORMAT:
        return None
    runs = value.get("runs")
    if value.get("version") != version or not isinstance(runs, list) or not runs:
        return None
    found: list[Checkpoint] = []
    for run in runs:
        checkpoint = _checkpoint(run, scenario.actions)
        if checkpoint is None:
            return None
        found.append(checkpoint)
    return tuple(found)


def stale(runs: Sequence[Checkpoint], wall: float) -> bool:
    """Whether the newest of the recorded waits ended over STALE_AFTER_S ago."""
    return wall - max(run.end_wall for run in runs) > STALE_AFTER_S


def lost_runs(value: JsonValue) -> int:
    """How many runs besides those of the record a restart does not take up."""
    count = value.get("lost") if isinstance(value, dict) else None
    if not isinstance(count, int) or isinstance(count, bool):
        return 0
    return max(count, 0)


def _checkpoint(run: JsonValue, actions: tuple[model.Action, ...]) -> Checkpoint | None:
    if not isinstance(run, dict):
        return None
    index, end, seconds, trigger = (
        run.get("next"),
        run.get("end"),
        run.get("seconds"),
        run.get("trigger"),
    )
    if (
        not isinstance(index, int)
        or isinstance(index, bool)
        or not 0 < index <= len(actions)
        or not _number(end)
        or not _number(seconds)
        or not isinstance(trigger, dict)
    ):
        return None
    wait = actions[index - 1]
    assert isinstance(end, int | float)  # _number said so
    assert isinstance(seconds, int | float)  # idem
    length = _length(wait, float(seconds))
    # the version is the same, so this holds; a record edited by hand may not
    if length is None:
        return None
    return Checkpoint(index, float(end), length, trigger)


def _length(wait: model.Action, recorded: float) -> float | None:
    """The whole length of the recorded `wait`: a fixed one's own, a random one's
    as drawn (`recorded`, within its bounds); None if it is no wait a run is
    taken up from (one shorter than RESUME_MIN_WAIT_S is never recorded)."""
    if not isinstance(wait, model.WaitAction):
        return None
    if wait.max_seconds is None:
        length = wait.seconds
    elif wait.seconds <= recorded <= wait.max_seconds:
        length = recorded
    else:
        return None
    return length if length >= RESUME_MIN_WAIT_S else None


def _number(value: JsonValue) -> bool:
    """A finite number (a NaN end would make the wait left NaN)."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer too large for a float
        return False
