"""The record of runs paused in a long `wait` or a `wait_until`, kept at
`/scenario/<name>/resume` so that a restart of raspyd takes them up (pure).

The record names the exact stored version of the scenario (a hash of its document)
and, for each run, where it waits (rules.resume_path: the top-level action, or the
`choose` branches, `if` sides and `repeat` passes down to a nested wait; an `if` is
a choose of one choice there): a run is taken up only by the version whose actions
it was running. Anything else in the key (another version, text that is not such a
record, a place that is no long wait of this document) is no record: decode raises
MalformedMessage and the run is lost. Format 1 (top-level waits only, `next`: the
index after the wait) still loads.

A record with a run in a `wait_until` (`"until": true`, `end` and `seconds` null
when it has no timeout) is format 3; one of waits only stays format 2, so that the
raspy before (which reads 1 and 2) takes those up after a downgrade, and names a
format-3 record's runs lost (`not_a_record`) rather than misreading them.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from typing import Final

from raspy import json_text
from raspy.devices.template import JsonValue
from raspy.errors import shown
from raspy.rules import model, resume_path
from raspy.rules.engine import Checkpoint
from raspy.rules.engine_output import STALE_AFTER_S
from raspy.rules.raspy_keys import RESUME, SCENARIO_TREE
from raspy.rules.run import RESUME_MIN_WAIT_S

FORMAT: Final = 2  # 1: top-level waits only, read still
UNTIL_FORMAT: Final = 3  # a record with a run in a wait_until


def resume_key(name: str) -> str:
    return f"{SCENARIO_TREE}{name}/{RESUME}"


def fingerprint(code: str) -> str:
    """What identifies a stored version: a hash of its document, byte for byte."""
    return hashlib.sha256(code.encode("utf-8")).hexdigest()[:32]


def encode(
    version: str, runs: Sequence[Checkpoint], max_bytes: int, lost: int = 0
) -> tuple[bytes, int]:
    """The record's JSON body with as many of `runs` as fit in `max_bytes` (the
    tree's value limit: a trigger may carry a large value), and how many were left
    out. Those, and the `lost` others (runs a stop of raspyd ends elsewhere than in
    such a wait), are counted in the record: a start names them lost. A run whose
    trigger holds a number JSON has not (a body `1e400`) is left out too."""
    kept = [run for run in runs if _writable(run)]
    while True:
        until = any(run.until for run in kept)
        value: dict[str, JsonValue] = {
            "v": UNTIL_FORMAT if until else FORMAT,
            "version": version,
            "runs": [_run_json(run) for run in kept],
        }
        if lost + len(runs) - len(kept):
            value["lost"] = lost + len(runs) - len(kept)
        body = json_text.encode(value)
        if len(body) <= max_bytes or not kept:
            return body, len(runs) - len(kept)
        kept.pop()


def decode(
    value: JsonValue, version: str, scenario: model.Scenario
) -> tuple[Checkpoint, ...]:
    """The runs of a record written by this `version` of `scenario`;
    MalformedMessage (its reason a stable token) when `value` is no such record."""
    form = value.get("v") if isinstance(value, dict) else None
    if (
        not isinstance(value, dict)
        or type(form) is not int
        or form not in (1, FORMAT, UNTIL_FORMAT)
    ):
        raise resume_path.bad("not_a_record", f"expected a record, got {shown(value)}")
    runs = value.get("runs")
    if value.get("version") != version:
        raise resume_path.bad(
            "other_version", f"written by {shown(value.get('version'))}"
        )
    if not isinstance(runs, list) or not runs:
        raise resume_path.bad("no_runs", f"expected a list of runs, got {shown(runs)}")
    return tuple(_checkpoint(run, scenario.actions, form) for run in runs)


def stale(run: Checkpoint, wall: float) -> bool:
    """Whether the run's wait ended over STALE_AFTER_S ago. Each run is judged on its
    own: a record may hold a run whose wait ended days ago beside one that waits as
    long as it takes (a wait_until without a timeout, which never ends)."""
    return wall - run.end_wall > STALE_AFTER_S


def lost_runs(value: JsonValue) -> int:
    """How many runs besides those of the record a restart does not take up."""
    count = value.get("lost") if isinstance(value, dict) else None
    if not isinstance(count, int) or isinstance(count, bool):
        return 0
    return max(count, 0)


def _writable(run: Checkpoint) -> bool:
    """Whether the run's trigger is JSON: no number in it that is not finite."""
    try:
        json_text.encode(dict(run.trigger))
    except ValueError:
        return False
    return True


def _run_json(run: Checkpoint) -> JsonValue:
    """One run of the record; a wait_until's without a timeout has null times."""
    value: dict[str, JsonValue] = {
        "at": resume_path.to_json(run.path),
        "end": run.end_wall if math.isfinite(run.end_wall) else None,
        "seconds": run.seconds if math.isfinite(run.seconds) else None,
        "trigger": dict(run.trigger),
    }
    if run.until:
        value["until"] = True
    return value


def _checkpoint(
    run: JsonValue, actions: tuple[model.Action, ...], form: int
) -> Checkpoint:
    if not isinstance(run, dict):
        raise resume_path.bad("bad_run", f"expected a run, got {shown(run)}")
    end, seconds, trigger = run.get("end"), run.get("seconds"), run.get("trigger")
    until = run.get("until", False)
    if until is not False and (until is not True or form < UNTIL_FORMAT):
        raise resume_path.bad("bad_run", f"until {shown(until)}")
    waits_until = until is True
    endless = (
        waits_until and end is None and seconds is None
    )  # a wait_until, no timeout
    if endless:
        end = seconds = math.inf
    elif not _number(end) or not _number(seconds):
        raise resume_path.bad("bad_run", "expected end and seconds (numbers)")
    if not isinstance(trigger, dict):
        raise resume_path.bad("bad_run", f"expected a trigger, got {shown(trigger)}")
    at = _legacy_path(run) if form == 1 else run.get("at")
    path, wait = resume_path.from_json(at, actions, until=waits_until)
    assert isinstance(end, int | float)  # _number said so, or no timeout
    assert isinstance(seconds, int | float)  # idem
    if isinstance(wait, model.WaitUntilAction):
        timeout = math.inf if wait.timeout_s is None else wait.timeout_s
        if timeout != seconds:  # the version is the same; a record edited by hand
            raise resume_path.bad(
                "no_such_wait", f"no wait_until of {shown(run.get('seconds'))}s there"
            )
        return Checkpoint(path, float(end), timeout, trigger, until=True)
    length = _length(wait, float(seconds))
    # the version is the same, so this holds; a record edited by hand may not
    if length is None:
        raise resume_path.bad(
            "no_such_wait", f"no recorded wait of {shown(seconds)}s there"
        )
    return Checkpoint(path, float(end), length, trigger)


def _legacy_path(run: dict[str, JsonValue]) -> JsonValue:
    """A format-1 run's place: `next`, the top-level action after its wait."""
    index = run.get("next")
    if not resume_path.is_count(index, 1):
        raise resume_path.bad("bad_run", f"next {shown(index)}")
    return [{"action": index - 1}]


def _length(wait: model.WaitAction, recorded: float) -> float | None:
    """The whole length of the recorded `wait`: a fixed one's own, a random one's
    as drawn (`recorded`, within its bounds); None if it is no wait a run is
    taken up from (one shorter than RESUME_MIN_WAIT_S is never recorded)."""
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
