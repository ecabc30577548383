"""A run paused in a long `wait` inside `choose` branches and `repeat` passes goes on
there after a restart of raspyd (docs/scenarios.md, "Time, DST and downtime"): the
real core, Clone server, store and fake devices, a FakeClock, and restarts as
test_scenario_resume.py does them. The record it goes on from is the store's."""

from __future__ import annotations

import json
from collections.abc import MutableMapping
from typing import Any

import pytest
from structlog.testing import capture_logs
from support.core_actors import (
    core_fixture,  # noqa: F401  # fixture `core`
    tree_fixture,  # noqa: F401  # fixture `tree`
    value,
    wait_value,
)
from support.device_services import (
    server_fixture,  # noqa: F401  # fixture `server`
    services_fixture,  # noqa: F401  # fixture `services`
)
from support.scenario_house import (
    LAMP,
    House,
    house_fixture,  # noqa: F401  # fixture `house`
)
from support.wait import wait_until

from raspy import json_text
from raspy.actors.clone.server import read_tree
from raspy.devices.template import JsonValue
from raspy.rules.resume_record import fingerprint
from raspy.rules.resume_start import LOST_RUN_ERROR

MINUTE = 60.0
HEAT = """\
name: heat
description: The heater on; off again after a while, how long by the trigger
triggers:
  - event: /event/heat/go
actions:
  - device: "{host}.fake.lamp"
    action: "on"
  - choose:
      - if: "trigger.value == 'long'"
        then:
          - wait: 30m
          - set: /house/heat/by
            value: "then"
          - device: "{host}.fake.lamp"
            action: "off"
    else:
      - wait: 20m
      - set: /house/heat/by
        value: "else"
      - device: "{host}.fake.lamp"
        action: "off"
  - set: /house/heat/done
    value: "{trigger.value}"
"""
CYCLE = """\
name: cycle
description: Five rounds of ten minutes on, then off
triggers:
  - event: /event/cycle/go
actions:
  - repeat:
      count: 5
      actions:
        - device: "{host}.fake.lamp"
          action: "on"
        - wait: 10m
        - device: "{host}.fake.lamp"
          action: "off"
        - event: /event/cycle/round
  - set: /house/cycle/done
    value: true
"""
DEEP = """\
name: deep
description: A repeat inside a choose, its wait two blocks deep
triggers:
  - event: /event/deep/go
actions:
  - choose:
      - if: "true"
        then:
          - repeat:
              count: 2
              actions:
                - event: /event/deep/round
                - wait: 15m
          - device: "{host}.fake.lamp"
            action: "off"
  - set: /house/deep/done
    value: "{trigger.value}"
"""


def logged(
    logs: list[MutableMapping[str, Any]], event: str
) -> list[MutableMapping[str, Any]]:
    return [entry for entry in logs if entry["event"] == event]


def record_key(name: str) -> str:
    return f"/scenario/{name}/resume"


def stored(house: House, key: str) -> Any:
    """`key` as the store alone has it (no Clone server asked), decoded."""
    found = dict(read_tree(None, house.core.store, key))
    return json_text.loads(found[key]) if key in found else None


def place(house: House, name: str) -> Any:
    """Where the record says the one run waits, once the tree has a record."""
    key = record_key(name)
    wait_until(lambda: value(house.tree, key) is not None, what="the record")
    record: Any = value(house.tree, key)
    [run] = record["runs"]
    return run["at"]


def waits_at(house: House, name: str, at: list[Any]) -> None:
    wait_until(lambda: place(house, name) == at, what=f"the record at {at}")


def restarted(house: House, *, daemon_start: bool = True) -> list[Any]:
    """raspyd stops and starts again (its core); the start's log."""
    house.core.stop()
    with capture_logs() as logs:
        house.core.start(daemon_start=daemon_start)
        house.core.request("list")  # answered once the core has started
    return logs


@pytest.mark.parametrize(
    ("trigger", "wait_m", "at"),
    [
        ("long", 30, [{"action": 1, "choice": 1}, {"action": 0}]),
        ("short", 20, [{"action": 1, "choice": "else"}, {"action": 0}]),
    ],
    ids=["then", "else"],
)
def test_a_restart_in_a_wait_of_a_choose_branch_turns_the_heater_off_on_time(
    house: House, trigger: str, wait_m: int, at: list[Any]
) -> None:
    house.start()
    name = house.imported("heat.yaml", HEAT)
    house.event("/event/heat/go", trigger, name)
    wait_value(house.tree, LAMP, True)
    assert place(house, name) == at
    house.later(name, 5 * MINUTE)
    house.core.stop()
    assert stored(house, record_key(name))["runs"][0]["at"] == at
    logs = restarted(house)
    resumed = logged(logs, "scenario_run_resumed")
    assert [(e["left_s"], e["at"]) for e in resumed] == [((wait_m - 5) * MINUTE, at)]
    assert logged(logs, "scenario_run_lost") == []
    house.later(name, (wait_m - 5) * MINUTE - 1)
    assert house.changes(LAMP) == [True]
    house.later(name, 1)
    wait_value(house.tree, LAMP, False)
    # the rest of the branch, then the rest of the top level, with its trigger
    wait_value(house.tree, "/house/heat/done", trigger)
    assert value(house.tree, "/house/heat/by") == (
        "then" if at[0]["choice"] == 1 else "else"
    )
    wait_value(house.tree, f"/scenario/{name}/state", "idle")
    assert value(house.tree, f"/scenario/{name}/last_error") is None
    assert value(house.tree, f"/scenario/{name}/runs") == 1
    wait_value(house.tree, record_key(name), None)
    house.later(name, 60 * MINUTE)
    assert house.changes(LAMP) == [True, False]  # once
    assert house.changes("/house/heat/done") == [trigger]


def test_a_restart_on_pass_3_of_5_does_the_passes_left_once(house: House) -> None:
    house.start()
    name = house.imported("cycle.yaml", CYCLE)
    house.event("/event/cycle/go", 1, name)
    for number in (1, 2, 3):
        waits_at(house, name, [{"action": 0, "pass": number}, {"action": 1}])
        wait_value(house.tree, LAMP, True)
        if number < 3:
            house.later(name, 10 * MINUTE)
    house.later(name, 4 * MINUTE)
    logs = restarted(house)
    assert [e["left_s"] for e in logged(logs, "scenario_run_resumed")] == [6 * MINUTE]
    house.later(name, 6 * MINUTE)
    # pass 3's rest, then pass 4 with its whole wait
    waits_at(house, name, [{"action": 0, "pass": 4}, {"action": 1}])
    for number in (4, 5):
        house.later(name, 10 * MINUTE - 1)
        assert value(house.tree, "/house/cycle/done") is None
        house.later(name, 1)
        if number == 4:
            waits_at(house, name, [{"action": 0, "pass": 5}, {"action": 1}])
    wait_value(house.tree, "/house/cycle/done", True)
    wait_value(house.tree, f"/scenario/{name}/state", "idle")
    assert value(house.tree, f"/scenario/{name}/last_error") is None
    house.later(name, 60 * MINUTE)
    assert house.changes(LAMP) == [True, False] * 5
    assert len(house.changes("/event/cycle/round")) == 5
    assert house.changes("/house/cycle/done") == [True]


def test_a_wait_two_blocks_deep_survives_two_restarts(house: House) -> None:
    """A restart of raspyd in pass 1, one of the core alone in pass 2."""
    house.start()
    name = house.imported("deep.yaml", DEEP)
    house.event("/event/deep/go", "x", name)
    first = [{"action": 0, "choice": 1}, {"action": 0, "pass": 1}, {"action": 1}]
    waits_at(house, name, first)
    house.later(name, 5 * MINUTE)
    logs = restarted(house)
    assert [e["at"] for e in logged(logs, "scenario_run_resumed")] == [first]
    house.later(name, 10 * MINUTE)
    second = [{"action": 0, "choice": 1}, {"action": 0, "pass": 2}, {"action": 1}]
    waits_at(house, name, second)
    house.later(name, 5 * MINUTE)
    logs = restarted(house, daemon_start=False)
    assert [e["left_s"] for e in logged(logs, "scenario_run_resumed")] == [10 * MINUTE]
    house.later(name, 10 * MINUTE)
    wait_value(house.tree, "/house/deep/done", "x")
    wait_value(house.tree, f"/scenario/{name}/state", "idle")
    assert value(house.tree, f"/scenario/{name}/last_error") is None
    assert len(house.changes("/event/deep/round")) == 2


def test_a_record_whose_place_is_not_in_the_document_is_a_lost_run(
    house: House,
) -> None:
    """A record of this very version that points nowhere (edited by hand): the run
    is named lost, the core goes on, and the scenario runs again."""
    house.start()
    name = house.imported("heat.yaml", HEAT)
    house.event("/event/heat/go", "long", name)
    place(house, name)
    bad: JsonValue = {
        "v": 2,
        "version": fingerprint(HEAT),
        "runs": [
            {
                "at": [{"action": 1, "choice": 1}, {"action": 7}],
                "end": house.core.clock.wall() + 600,
                "seconds": 1800,
                "trigger": {"kind": "event", "value": "long"},
            }
        ],
    }
    key = record_key(name)
    house.core.server.publisher.set(key.encode(), json.dumps(bad).encode())
    wait_value(house.tree, key, bad)
    logs = restarted(house)
    assert logged(logs, "scenario_run_resumed") == []
    [unusable] = logged(logs, "scenario_resume_unusable")
    assert unusable["reason"] == "no_such_place"
    assert [e["reason"] for e in logged(logs, "scenario_run_lost")] == [LOST_RUN_ERROR]
    wait_value(house.tree, f"/scenario/{name}/last_error", LOST_RUN_ERROR)
    wait_value(house.tree, key, None)
    house.event("/event/heat/go", "short", name)  # the scenario still runs
    wait_value(house.tree, f"/scenario/{name}/state", "running")
    house.later(name, 20 * MINUTE)
    wait_value(house.tree, "/house/heat/done", "short")
