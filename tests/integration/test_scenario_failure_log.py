"""A scenario's failed runs in raspyd's log, through its actor: a condition that
faults at every trigger (a sensor away, read every few seconds) logged
`scenario_run_failed` each time, thousands of lines a day on an SD card."""

from __future__ import annotations

import dataclasses

from structlog.testing import capture_logs
from support.core_actors import (
    Core,
    core_fixture,  # noqa: F401  # fixture `core`
    tree_fixture,  # noqa: F401  # fixture `tree`
    wait_value,
)
from support.device_services import server_fixture  # noqa: F401  # fixture `server`
from support.wait import wait_until

from raspy.client.clone import CloneClient

FAN = """\
name: fan
triggers: [{event: /event/fan}]
conditions:
  - "kv('/sensor/temp') > 25"
actions:
  - set: /scenario/fan/on
    value: true
"""


def _ended(core: Core) -> float:
    """The runs ended so far, failed or not: a trigger's run, or its fault."""
    stats = core.stats
    return stats.get("core.scenario.failed_runs") + stats.get("core.scenario.runs")


def _trigger(core: Core, times: int) -> None:
    """`times` events, each taken by the scenario before the next is sent."""
    for _ in range(times):
        _one_trigger(core, _ended(core) + 1)


def _one_trigger(core: Core, ended: float) -> None:
    """One event; back once `ended` runs have ended."""
    core.server.publisher.set(b"/event/fan", b"true")
    wait_until(lambda: _ended(core) >= ended, what="the trigger taken")


def test_a_hundred_identical_faults_log_one_line_and_a_recovery_is_said(
    core: Core, tree: CloneClient
) -> None:
    core.config = dataclasses.replace(core.config, max_runs_per_minute=10_000)
    core.start()
    assert core.request("import", document=FAN)[0] == b"200"
    wait_value(tree, "/scenario/fan/state", "idle")
    core.server.publisher.set(b"/sensor/temp", b'"away"')
    with capture_logs() as logs:
        _trigger(core, 100)
        wait_value(tree, "/scenario/fan/state", "error")
        core.server.publisher.set(b"/sensor/temp", b"30")  # before the event
        _trigger(core, 1)
        wait_value(tree, "/scenario/fan/on", True)
    said = [e for e in logs if e["event"].startswith("scenario_run_")]
    assert core.stats.get("core.scenario.failed_runs") == 100
    assert [(e["event"], e.get("in_a_row"), e.get("failures")) for e in said] == [
        ("scenario_run_failed", 1, None),
        ("scenario_run_recovered", None, 100),
    ]
    assert said[0]["reason"].startswith("condition 1: ")
