"""What a scenario's start at the core's start does with the runs under way when
raspyd (or the core inside it) stopped.

The runs recorded in a long wait or a wait_until (rules.resume_record) are taken up when the record
is this very version's and the scenario runs; any other run under way at the stop is
lost, and said so once. The CoreActor calls this for each stored scenario it loads.
"""

from __future__ import annotations

import math
from typing import Final

import structlog

from raspy.clock import Clock
from raspy.devices.template import JsonValue
from raspy.errors import MalformedMessage
from raspy.records import frozen
from raspy.rules import engine, model, resume_path, resume_record
from raspy.rules.resume_record import fingerprint, resume_key
from raspy.rules.tree_view import TreeView

log = structlog.get_logger(component="core")

LOST_RUN_ERROR: Final = "a run was cut short by a stop of raspyd; it was not resumed"
# the supervisor started the core again inside a running raspyd (after a fault of the
# core, or with a new Clone server): raspyd itself never stopped
RESTARTED_RUN_ERROR: Final = (
    "a run was cut short by a restart of the scenario engine inside raspyd; "
    "it was not resumed"
)

# why, when the start knows it without a write of its own: a run under way and no
# record (or runs the record counts as `lost`) was in no wait that is recorded. Which
# wait it was (a wait of 20s, a wait_until that had waited 30s) is memory the stop lost
NOT_IN_A_LONG_WAIT: Final = (
    "only a run in a wait of a minute or more, or in a wait_until that has waited a"
    " minute (ten minutes inside a repeat), is taken up, not one queued behind it"
)


@frozen
class AtStart:
    """`runs`: taken up; `drop_record`: the resume key is to be deleted (a record
    none of whose runs is taken up); `lost`: why runs under way were lost, if any."""

    runs: tuple[engine.Checkpoint, ...]
    drop_record: bool
    lost: str | None


def at_start(
    tree: TreeView,
    name: str,
    code: str,
    *,
    enabled: bool,
    scenario: model.Scenario | None,
    clock: Clock,
    daemon_start: bool,
) -> AtStart:
    """A run in a long wait left a record: taken up if it is this version's; any
    other run under way at the stop is lost, and said."""
    found = tree.kv(resume_key(name))
    recorded = found is not None
    runs, stale = resumable(name, code, enabled, scenario, found, clock)
    running = tree.kv(f"/scenario/{name}/state") == "running"
    # runs the stop ended elsewhere than in such a wait, or whose wait is stale:
    # lost, said too
    others = bool(runs) and (stale or resume_record.lost_runs(found) > 0)
    lost = None
    if others or (not runs and (running or recorded)):
        lost = LOST_RUN_ERROR if daemon_start else RESTARTED_RUN_ERROR
        if not recorded or (runs and not stale):
            # (a record not taken up, another version's or stale: its log line
            # says why)
            lost = f"{lost}: {NOT_IN_A_LONG_WAIT}"
    return AtStart(runs, recorded and not runs, lost)


def resumable(
    name: str,
    code: str,
    enabled: bool,
    scenario: model.Scenario | None,
    found: JsonValue,
    clock: Clock,
) -> tuple[tuple[engine.Checkpoint, ...], bool]:
    """The runs recorded in a long wait before this start, when the record is this
    very version's and the scenario runs (enabled, loadable); each one said with the
    time its wait has left. `found`: the record's key as the tree has it. And
    whether runs of the record were left out as stale."""
    if found is None or scenario is None or not enabled:
        return (), False
    try:
        runs = resume_record.decode(found, fingerprint(code), scenario)
    except MalformedMessage as exc:
        # another version's, or a place that is not in this document: lost
        log.warning(
            "scenario_resume_unusable",
            scenario=name,
            reason=exc.reason,
            detail=exc.detail,
        )
        return (), False
    wall = clock.wall()
    fresh = tuple(run for run in runs if not resume_record.stale(run, wall))
    if len(fresh) < len(runs):
        # a wait that ended this long ago comes from a restored backup, or a hub off
        # for days: what was left of that run is no longer what anyone waits for
        log.warning("scenario_resume_stale", scenario=name, runs=len(runs) - len(fresh))
    for run in fresh:
        left = run.left_s(wall)
        log.info(
            "scenario_run_resumed",
            scenario=name,
            # a wait_until without a timeout: nothing left to count, null
            left_s=round(left, 3) if math.isfinite(left) else None,
            at=resume_path.to_json(run.path),
            wait="wait_until" if run.until else "wait",
        )
    return fresh, len(fresh) < len(runs)
