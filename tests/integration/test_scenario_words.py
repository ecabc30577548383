"""The words a Home Assistant user reaches for (docs/scenarios.md): the `if:` action,
`repeat.index`, `sun_up()` and `/scenario/<name>/last_error_at`, each on the real
core, Clone server, store and fake devices, with a FakeClock; restarts as
test_scenario_resume_nested.py does them."""

from __future__ import annotations

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

pytestmark = pytest.mark.timeout(60)

MINUTE = 60.0
PORCH = """\
name: porch
description: The lamp on; off after a while, how long by the trigger
triggers:
  - event: /event/porch/go
actions:
  - device: "{host}.fake.lamp"
    action: "on"
  - if: "trigger.value == 'long'"
    then:
      - wait: 30m
      - set: /house/porch/by
        value: "then"
    else:
      - wait: 20m
      - set: /house/porch/by
        value: "else"
  - device: "{host}.fake.lamp"
    action: "off"
"""


def logged(
    logs: list[MutableMapping[str, Any]], event: str
) -> list[MutableMapping[str, Any]]:
    return [entry for entry in logs if entry["event"] == event]


def place(house: House, name: str) -> Any:
    """Where the record says the one run waits, once the tree has a record."""
    key = f"/scenario/{name}/resume"
    wait_until(lambda: value(house.tree, key) is not None, what="the record")
    record: Any = value(house.tree, key)
    [run] = record["runs"]
    return run["at"]


def restarted(house: House) -> list[MutableMapping[str, Any]]:
    """raspyd stops and starts again (its core); the start's log."""
    house.core.stop()
    with capture_logs() as logs:
        house.core.start(daemon_start=True)
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
def test_an_if_takes_its_side_and_a_restart_in_its_wait_goes_on_there(
    house: House, trigger: str, wait_m: int, at: list[Any]
) -> None:
    house.start()
    name = house.imported("porch.yaml", PORCH)
    house.event("/event/porch/go", trigger, name)
    wait_value(house.tree, LAMP, True)
    assert place(house, name) == at
    house.later(name, 5 * MINUTE)
    logs = restarted(house)
    resumed = logged(logs, "scenario_run_resumed")
    assert [(e["left_s"], e["at"]) for e in resumed] == [((wait_m - 5) * MINUTE, at)]
    house.later(name, (wait_m - 5) * MINUTE - 1)
    assert house.changes(LAMP) == [True]
    house.later(name, 1)
    wait_value(house.tree, LAMP, False)
    side = "then" if trigger == "long" else "else"
    assert value(house.tree, "/house/porch/by") == side
    wait_value(house.tree, f"/scenario/{name}/state", "idle")
    assert value(house.tree, f"/scenario/{name}/last_error") is None


ROUNDS = """\
name: rounds
description: Three rounds of the lamp, each round's number written after its wait
triggers:
  - event: /event/rounds/go
actions:
  - repeat:
      count: 3
      actions:
        - device: "{host}.fake.lamp"
          action: "on"
        - wait: 10m
        - set: /house/rounds/round
          value: "{repeat.index}"
        - set: /house/rounds/left
          expr: 3 - repeat.index
"""


def test_repeat_index_counts_the_passes_and_a_restart_keeps_the_pass(
    house: House,
) -> None:
    house.start()
    name = house.imported("rounds.yaml", ROUNDS)
    house.event("/event/rounds/go", 1, name)
    wait_value(house.tree, LAMP, True)
    house.later(name, 10 * MINUTE)
    wait_value(house.tree, "/house/rounds/round", 1)
    wait_until(
        lambda: place(house, name) == [{"action": 0, "pass": 2}, {"action": 1}],
        what="pass 2's wait",
    )
    house.later(name, 4 * MINUTE)
    logs = restarted(house)
    assert [e["left_s"] for e in logged(logs, "scenario_run_resumed")] == [6 * MINUTE]
    house.later(name, 6 * MINUTE)
    wait_value(house.tree, "/house/rounds/round", 2)
    wait_until(
        lambda: place(house, name) == [{"action": 0, "pass": 3}, {"action": 1}],
        what="pass 3's wait",
    )
    house.later(name, 10 * MINUTE)
    wait_value(house.tree, f"/scenario/{name}/state", "idle")
    assert house.changes("/house/rounds/round") == [1, 2, 3]
    assert house.changes("/house/rounds/left") == [2, 1, 0]
    assert value(house.tree, f"/scenario/{name}/last_error") is None


SKY = """\
name: sky
description: The porch lamp on at a visit after dark only
triggers:
  - event: /event/sky/visit
actions:
  - set: /house/sky/up
    expr: sun_up()
  - if: "not sun_up()"
    then:
      - device: "{host}.fake.lamp"
        action: "on"
"""


def test_sun_up_is_false_at_night_and_true_at_noon_in_berlin(house: House) -> None:
    """The fake clock starts at 23:13 in Berlin (November); noon is 13 hours on."""
    house.start()
    name = house.imported("sky.yaml", SKY)
    house.event("/event/sky/visit", 1, name)
    wait_value(house.tree, "/house/sky/up", False)
    wait_value(house.tree, LAMP, True)
    house.later(name, 13 * 3600.0)
    house.event("/event/sky/visit", 2, name)
    wait_value(house.tree, "/house/sky/up", True)
    wait_value(house.tree, f"/scenario/{name}/runs", 2)
    assert house.changes("/house/sky/up") == [False, True]
    assert house.changes(LAMP) == [True]  # not switched on by day
    assert value(house.tree, f"/scenario/{name}/last_error") is None


def test_sun_up_on_a_hub_without_a_place_loads_and_is_null(house: House) -> None:
    house.start(latitude=0.0, longitude=0.0)
    name = house.imported("sky.yaml", SKY)
    house.event("/event/sky/visit", 1, name)
    wait_value(house.tree, f"/scenario/{name}/runs", 1)
    wait_value(house.tree, f"/scenario/{name}/state", "idle")
    assert house.changes("/house/sky/up") == [None]
    wait_value(house.tree, LAMP, True)  # `not null` holds: after dark is assumed
    assert value(house.tree, f"/scenario/{name}/last_error") is None


BROKEN = """\
name: broken
description: A lamp that is not there, ten minutes after the trigger
triggers:
  - event: /event/broken/go
actions:
  - wait: 10m
  - device: "{host}.fake.nosuch"
    action: "on"
"""


def test_last_error_at_is_written_with_the_error_kept_shown_and_deleted(
    house: House,
) -> None:
    house.start()
    name = house.imported("broken.yaml", BROKEN)
    at_key = f"/scenario/{name}/last_error_at"
    assert value(house.tree, at_key) is None
    house.event("/event/broken/go", 1, name)
    house.later(name, 10 * MINUTE)
    failed_at = house.core.clock.wall()
    wait_value(house.tree, at_key, failed_at)
    error = value(house.tree, f"/scenario/{name}/last_error")
    assert isinstance(error, str)
    assert "unknown_device" in error
    status, got = house.core.request("get", name=name)
    assert status == b"200"
    assert (got["last_error"], got["last_error_at"]) == (error, failed_at)
    _, listed = house.core.request("list")
    [mine] = [entry for entry in listed if entry["name"] == name]
    assert mine["last_error_at"] == failed_at
    assert house.cli("show", name) == 0
    [line] = [line for line in house.output if line.startswith("last error:")]
    assert line.endswith(f": {error}")
    assert line != f"last error:   {error}"  # the time comes first
    # kept over a restart: the tree's time, not the start's
    house.later(name, 5 * MINUTE)
    house.restart()
    status, got = house.core.request("get", name=name)
    assert (got["last_error"], got["last_error_at"]) == (error, failed_at)
    assert house.cli("delete", name) == 0
    wait_value(house.tree, at_key, None)
    assert value(house.tree, f"/scenario/{name}/last_error") is None
