"""A run in a `wait_until` goes on after a restart of raspyd (docs/scenarios.md, "Time,
DST and downtime"): the heater turned off while a window is open is turned on again
once it closes, even across a reboot. The real core, Clone server, store and fake
devices, a FakeClock, and restarts as test_scenario_resume_nested.py does them."""

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

from raspy import json_text
from raspy.actors.clone.server import read_tree
from raspy.rules.resume_start import LOST_RUN_ERROR, NOT_IN_A_LONG_WAIT

MINUTE = 60.0
WINDOW = "/house/window"
HEATER = """\
name: heater
description: The heater (the lamp) off while the window is open
triggers:
  - kv: /house/window
    to: open
actions:
  - device: "{host}.fake.lamp"
    action: "off"
  - wait_until: "kv('/house/window') == 'closed'"
  - device: "{host}.fake.lamp"
    action: "on"
  - set: /house/heater/back
    value: "{trigger.value}"
"""
TIMED = HEATER.replace(
    "== 'closed'\"\n",
    "== 'closed'\"\n    timeout: 10m\n    continue_on_timeout: true\n",
)
CHOSEN = HEATER.replace(
    "  - wait_until: \"kv('/house/window') == 'closed'\"\n",
    '  - choose:\n      - if: "true"\n        then:\n'
    "          - wait_until: \"kv('/house/window') == 'closed'\"\n"
    "            timeout: 10m\n",
)
RECORD = "/scenario/heater/resume"
SAID = "resumed after a restart: wait_until kv('/house/window') == 'closed'"


def logged(
    logs: list[MutableMapping[str, Any]], event: str
) -> list[MutableMapping[str, Any]]:
    return [entry for entry in logs if entry["event"] == event]


def stored(house: House, key: str) -> Any:
    """`key` as the store alone has it (no Clone server asked), decoded."""
    found = dict(read_tree(None, house.core.store, key))
    return json_text.loads(found[key]) if key in found else None


def opened(house: House, text: str) -> str:
    """The scenario imported and the window opened: the run in its wait_until."""
    name = house.imported("heater.yaml", text)
    house.reading(WINDOW, "open", name)
    wait_value(house.tree, f"/scenario/{name}/state", "running")
    house.answered(name)
    return name


def restarted(house: House, *, closed: bool = False) -> list[Any]:
    """raspyd stops (the window closed meanwhile if `closed`) and starts again; the
    start's log."""
    house.core.stop()
    if closed:  # the tree's server stays up here; the store has the new value
        house.core.server.publisher.set(WINDOW.encode(), b'"closed"')
        wait_until(lambda: stored(house, WINDOW) == "closed", what="closed, stored")
    with capture_logs() as logs:
        house.core.start()
        house.core.request("list")  # answered once the core has started
    return logs


def test_a_reboot_with_the_window_still_open_turns_the_heater_on_when_it_closes(
    house: House,
) -> None:
    house.start()
    name = opened(house, HEATER)
    house.later(name, 59)
    house.reading(WINDOW, "ajar", name)  # woken, still not closed
    assert value(house.tree, RECORD) is None  # not a minute yet: no write
    house.later(name, 1)
    wait_until(lambda: value(house.tree, RECORD) is not None, what="the record")
    house.reading(WINDOW, "open", name)  # a wake after the record: no new write
    house.later(name, 10 * MINUTE)
    house.core.stop()
    record = stored(house, RECORD)
    assert record["v"] == 3
    assert [
        (r["at"], r["end"], r["seconds"], r["until"], r["trigger"]["value"])
        for r in record["runs"]
    ] == [([{"action": 1}], None, None, True, "open")]
    with capture_logs() as logs:
        house.core.start()
        house.core.request("list")
    resumed = logged(logs, "scenario_run_resumed")
    assert [(e["left_s"], e["at"], e["wait"]) for e in resumed] == [
        (None, [{"action": 1}], "wait_until")
    ]
    assert logged(logs, "scenario_run_lost") == []
    assert house.cli("show", name) == 0
    assert f"+0.0s {SAID}, no timeout" in [line.strip() for line in house.output]
    house.later(name, 3 * 3600)
    assert value(house.tree, LAMP) is False
    house.reading(WINDOW, "closed", name)
    wait_value(house.tree, LAMP, True)
    wait_value(house.tree, "/house/heater/back", "open")
    wait_value(house.tree, f"/scenario/{name}/state", "idle")
    assert value(house.tree, f"/scenario/{name}/last_error") is None
    assert value(house.tree, f"/scenario/{name}/runs") == 1
    wait_value(house.tree, RECORD, None)
    # the record, written again by the start (as a wait's is), and its delete:
    # the wakes wrote nothing
    [first, again, gone] = house.changes(RECORD)
    assert (again, gone) == (first, None)


def test_a_window_closed_while_raspyd_was_down_turns_the_heater_on_at_the_start(
    house: House,
) -> None:
    house.start()
    name = opened(house, HEATER)
    house.later(name, 2 * MINUTE)
    wait_until(lambda: value(house.tree, RECORD) is not None, what="the record")
    logs = restarted(house, closed=True)
    assert [e["wait"] for e in logged(logs, "scenario_run_resumed")] == ["wait_until"]
    wait_value(house.tree, LAMP, True)
    wait_value(house.tree, "/house/heater/back", "open")
    wait_value(house.tree, f"/scenario/{name}/state", "idle")
    assert value(house.tree, f"/scenario/{name}/last_error") is None
    wait_value(house.tree, RECORD, None)


def test_a_timeout_that_ended_while_raspyd_was_down_goes_on_as_its_timeout_does(
    house: House,
) -> None:
    """`continue_on_timeout: true`: the run goes on at the start, late, not never."""
    house.start()
    name = opened(house, TIMED)
    house.later(name, 2 * MINUTE)
    wait_until(lambda: value(house.tree, RECORD) is not None, what="the record")
    assert value(house.tree, RECORD)["runs"][0]["seconds"] == 600  # type: ignore[index,call-overload]  # a dict
    house.core.stop()
    house.advance(30 * MINUTE)  # down past the timeout
    with capture_logs() as logs:
        house.core.start()
        house.core.request("list")
    assert [e["left_s"] for e in logged(logs, "scenario_run_resumed")] == [0]
    wait_value(house.tree, LAMP, True)
    wait_value(house.tree, f"/scenario/{name}/state", "idle")
    assert value(house.tree, f"/scenario/{name}/last_error") is None
    wait_value(house.tree, RECORD, None)


def test_a_wait_until_inside_a_choose_waits_what_is_left_of_its_timeout(
    house: House,
) -> None:
    house.start()
    name = opened(house, CHOSEN)
    house.later(name, 3 * MINUTE)
    at = [{"action": 1, "choice": 1}, {"action": 0}]
    wait_until(lambda: value(house.tree, RECORD) is not None, what="the record")
    logs = restarted(house)
    resumed = logged(logs, "scenario_run_resumed")
    assert [(e["left_s"], e["at"]) for e in resumed] == [(7 * MINUTE, at)]
    assert house.cli("show", name) == 0
    shown = [line.strip() for line in house.output]
    assert f"+0.0s {SAID}, 420s left of 600s" in shown
    house.later(name, 5 * MINUTE)
    assert value(house.tree, LAMP) is False
    house.reading(WINDOW, "closed", name)
    wait_value(house.tree, LAMP, True)
    wait_value(house.tree, "/house/heater/back", "open")
    wait_value(house.tree, f"/scenario/{name}/state", "idle")
    assert value(house.tree, f"/scenario/{name}/last_error") is None


@pytest.mark.parametrize("stop", [False, True], ids=["closed-in-20s", "stop-at-20s"])
def test_a_short_wait_until_writes_no_record_and_a_stop_in_it_loses_the_run(
    house: House, stop: bool
) -> None:
    """The door that closes in 20 seconds costs the SD card nothing; a stop of raspyd
    within that minute loses the run, as before, and says so."""
    house.start()
    name = opened(house, HEATER)
    house.later(name, 20)
    if stop:
        logs = restarted(house)
        lost = logged(logs, "scenario_run_lost")
        assert [e["reason"] for e in lost] == [
            f"{LOST_RUN_ERROR}: {NOT_IN_A_LONG_WAIT}"
        ]
        assert logged(logs, "scenario_run_resumed") == []
    else:
        house.reading(WINDOW, "closed", name)
        wait_value(house.tree, LAMP, True)
        wait_value(house.tree, f"/scenario/{name}/state", "idle")
    house.later(name, 10 * MINUTE)
    assert house.changes(RECORD) == []
    assert stored(house, RECORD) is None
