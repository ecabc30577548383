"""A run paused in a long top-level `wait` goes on after a restart of raspyd
(docs/scenarios.md, "Jobs due while raspyd was down"): the real core, Clone server,
store and fake devices, a FakeClock, and restarts as test_scenario_trial2.py does them.
The record it goes on from is the store's, not a memory of the process."""

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
from raspy.actors.core.service_imports import REPLACED_RUN_ERROR
from raspy.rules.resume_start import (
    LOST_RUN_ERROR,
    NOT_IN_A_LONG_WAIT,
    RESTARTED_RUN_ERROR,
)
from raspy.storage.scenario_store import ScenarioStore

MINUTE = 60.0
WAKEUP = """\
name: wakeup
description: The light on, off again twenty minutes later
triggers:
  - event: /event/morning/wakeup
actions:
  - device: "{host}.fake.lamp"
    action: "on"
  - wait: 20m
  - set: /house/wakeup/by
    value: "{trigger.key} = {trigger.value}"
  - device: "{host}.fake.lamp"
    action: "off"
"""
RECORD = "/scenario/wakeup/resume"
GO = "/event/morning/wakeup"


def logged(
    logs: list[MutableMapping[str, Any]], event: str
) -> list[MutableMapping[str, Any]]:
    return [entry for entry in logs if entry["event"] == event]


def stored(house: House, key: str) -> Any:
    """`key` as the store alone has it (no Clone server asked), decoded."""
    found = dict(read_tree(None, house.core.store, key))
    return json_text.loads(found[key]) if key in found else None


def woken(house: House, text: str = WAKEUP) -> str:
    """The scenario imported and triggered: the light on, the run in its wait."""
    name = house.imported("wakeup.yaml", text)
    house.event(GO, "morning", name)
    wait_value(house.tree, LAMP, True)
    house.answered(name)
    wait_value(house.tree, f"/scenario/{name}/state", "running")
    return name


def stopped(house: House) -> None:
    """raspyd stops (its core); the store and the Clone server stay."""
    house.core.stop()


def recorded(house: House) -> Any:
    """The record of the run in its wait, once the tree has it."""
    wait_until(lambda: value(house.tree, RECORD) is not None, what="the record")
    return value(house.tree, RECORD)


def started(house: House, *, daemon_start: bool = True) -> None:
    house.core.start(daemon_start=daemon_start)
    house.core.request("list")  # answered once the core has started (on_start)


def test_a_restart_in_the_wait_turns_the_light_off_on_time(house: House) -> None:
    house.start()
    name = woken(house)
    recorded(house)
    house.advance(5 * MINUTE)
    stopped(house)
    # what the next start goes on from is in the store, durable as every
    # /scenario/ key: not a value the process kept
    record = stored(house, RECORD)
    assert record["runs"][0]["at"] == [{"action": 1}]
    assert record["runs"][0]["trigger"]["value"] == "morning"
    with capture_logs() as logs:
        started(house)
    resumed = logged(logs, "scenario_run_resumed")
    assert [(e["scenario"], e["left_s"]) for e in resumed] == [(name, 15 * MINUTE)]
    assert logged(logs, "scenario_run_lost") == []
    wait_value(house.tree, f"/scenario/{name}/state", "running")
    house.advance(15 * MINUTE - 1)
    house.tick(name)
    assert house.changes(LAMP) == [True]
    house.advance(1)
    house.tick(name)
    wait_value(house.tree, LAMP, False)
    # the run goes on as it was: its trigger, and no lost-run error
    wait_value(house.tree, "/house/wakeup/by", f"{GO} = morning")
    wait_value(house.tree, f"/scenario/{name}/state", "idle")
    assert value(house.tree, f"/scenario/{name}/last_error") is None
    assert value(house.tree, f"/scenario/{name}/runs") == 1
    wait_value(house.tree, RECORD, None)


def test_a_restart_in_a_random_wait_keeps_the_time_it_drew(house: House) -> None:
    """A random wait is recorded with the length it drew, and a restart takes the
    run up for what is left of that length: no second draw."""
    house.start()
    name = woken(house, WAKEUP.replace("wait: 20m", "wait: {min: 10m, max: 30m}"))
    record = recorded(house)
    [entry] = record["runs"]
    drawn = entry["seconds"]
    assert 10 * MINUTE <= drawn <= 30 * MINUTE
    assert entry["end"] == pytest.approx(house.core.clock.wall() + drawn, abs=0.01)
    house.advance(5 * MINUTE)
    stopped(house)
    with capture_logs() as logs:
        started(house)
    [resumed] = logged(logs, "scenario_run_resumed")
    assert resumed["left_s"] == pytest.approx(drawn - 5 * MINUTE, abs=0.01)
    house.advance(drawn - 5 * MINUTE - 1)
    house.tick(name)
    assert house.changes(LAMP) == [True]
    house.advance(1.01)
    house.tick(name)
    wait_value(house.tree, LAMP, False)
    wait_value(house.tree, f"/scenario/{name}/state", "idle")
    assert value(house.tree, f"/scenario/{name}/last_error") is None


def test_a_wait_that_ended_while_raspyd_was_down_goes_on_at_the_start(
    house: House,
) -> None:
    house.start()
    name = woken(house)
    recorded(house)
    house.advance(5 * MINUTE)
    stopped(house)
    house.advance(30 * MINUTE)  # down for half an hour: the wait ended meanwhile
    with capture_logs() as logs:
        started(house)
    wait_value(house.tree, LAMP, False)  # late, not never
    assert [e["left_s"] for e in logged(logs, "scenario_run_resumed")] == [0]
    wait_value(house.tree, f"/scenario/{name}/state", "idle")
    assert value(house.tree, f"/scenario/{name}/last_error") is None
    wait_value(house.tree, RECORD, None)


def test_a_record_older_than_a_day_is_not_taken_up_but_named_lost(
    house: House,
) -> None:
    """A record whose wait ended over a day before the start (a backup restored, a
    hub off for days) is not what anyone waits for any more."""
    house.start()
    name = woken(house)
    recorded(house)
    stopped(house)
    house.advance(20 * MINUTE + 24 * 3600 + 1)
    with capture_logs() as logs:
        started(house)
    assert logged(logs, "scenario_run_resumed") == []
    assert [e["reason"] for e in logged(logs, "scenario_run_lost")] == [LOST_RUN_ERROR]
    wait_value(house.tree, f"/scenario/{name}/last_error", LOST_RUN_ERROR)
    wait_value(house.tree, RECORD, None)
    assert house.changes(LAMP) == [True]


def test_a_second_restart_and_a_restart_of_the_core_alone_take_it_up_too(
    house: House,
) -> None:
    house.start()
    name = woken(house)
    recorded(house)
    house.advance(5 * MINUTE)
    stopped(house)
    started(house)
    house.advance(5 * MINUTE)
    stopped(house)
    with capture_logs() as logs:
        started(house, daemon_start=False)  # the supervisor's restart of the core
    assert [e["left_s"] for e in logged(logs, "scenario_run_resumed")] == [600]
    # mode single: a trigger while the resumed run waits starts nothing
    house.event(GO, "again", name)
    house.advance(10 * MINUTE)
    house.tick(name)
    wait_value(house.tree, LAMP, False)
    wait_value(house.tree, "/house/wakeup/by", f"{GO} = morning")
    assert house.changes(LAMP) == [True, False]


def test_a_new_version_stored_while_down_does_not_take_the_run_up(
    house: House,
) -> None:
    house.start()
    name = woken(house)
    recorded(house)
    stopped(house)
    # a new version stored while raspyd was down (a restore of a backup does so)
    edited = WAKEUP.replace("20m", "25m")
    ScenarioStore(house.core.store).put(
        edited, True, "single", house.core.clock.wall(), name
    )
    with capture_logs() as logs:
        started(house)
    assert [e["reason"] for e in logged(logs, "scenario_run_lost")] == [LOST_RUN_ERROR]
    assert logged(logs, "scenario_run_resumed") == []
    wait_value(house.tree, f"/scenario/{name}/last_error", LOST_RUN_ERROR)
    wait_value(house.tree, RECORD, None)
    assert stored(house, RECORD) is None
    house.advance(30 * MINUTE)
    house.tick(name)
    assert house.changes(LAMP) == [True]  # not resumed: the light stays on


def test_a_reimport_a_stop_and_a_disable_forget_the_run(house: House) -> None:
    house.start()
    name = woken(house)
    recorded(house)
    # a new version (the same text again is no new version: nothing stored)
    edited = WAKEUP + "# edited\n"
    assert house.import_("wakeup.yaml", edited, "--replace") == 0
    wait_value(house.tree, f"/scenario/{name}/last_error", REPLACED_RUN_ERROR)
    wait_value(house.tree, RECORD, None)
    house.event(GO, "again", name)
    recorded(house)
    assert house.cli("stop", name) == 0
    wait_value(house.tree, RECORD, None)
    house.event(GO, "once more", name)
    recorded(house)
    assert house.cli("disable", name) == 0
    wait_value(house.tree, RECORD, None)
    assert house.cli("enable", name) == 0
    stopped(house)
    with capture_logs() as logs:
        started(house)
    assert logged(logs, "scenario_run_resumed") == []
    assert logged(logs, "scenario_run_lost") == []


SHORT = WAKEUP.replace("20m", "10s")
NESTED = WAKEUP.replace(
    "  - wait: 20m\n",
    '  - choose:\n      - if: "true"\n        then:\n          - wait: 20m\n',
)


UNTIL = WAKEUP.replace(
    "  - wait: 20m\n",
    "  - wait_until: \"kv('/house/never') == true\"\n    timeout: 20m\n",
)
SHORT_NESTED = NESTED.replace("20m", "10s")


@pytest.mark.parametrize(
    "text",
    [SHORT, SHORT_NESTED, UNTIL],
    ids=["10s", "10s-in-a-choose", "wait_until-under-a-minute"],
)
def test_a_short_wait_and_a_wait_until_are_lost_as_before(
    house: House, text: str
) -> None:
    house.start()
    name = woken(house, text)
    stopped(house)
    assert stored(house, RECORD) is None  # never recorded
    with capture_logs() as logs:
        started(house)
    # why, as the start knows it without a write: it had no record
    why = (
        "a run was cut short by a stop of raspyd; it was not resumed: only a run in"
        " a wait of a minute or more, or in a wait_until that has waited a minute"
        " (ten minutes inside a repeat), is taken up, not one queued behind it"
    )
    lost = logged(logs, "scenario_run_lost")
    assert [e["reason"] for e in lost] == [why]
    assert logged(logs, "scenario_run_resumed") == []
    wait_value(house.tree, f"/scenario/{name}/last_error", why)
    house.advance(30 * MINUTE)
    house.tick(name)
    assert house.changes(LAMP) == [True]  # not resumed: the light stays on


def test_a_record_of_a_restart_inside_raspyd_says_which_restart(
    house: House,
) -> None:
    """A record that is not this version's, at a restart of the core alone: lost,
    said with the reason of that restart."""
    house.start()
    name = woken(house, NESTED)
    house.core.server.publisher.set(RECORD.encode(), b'{"v": 1, "version": "x"}')
    wait_value(house.tree, RECORD, {"v": 1, "version": "x"})
    stopped(house)
    with capture_logs() as logs:
        started(house, daemon_start=False)
    assert [e["reason"] for e in logged(logs, "scenario_run_lost")] == [
        RESTARTED_RUN_ERROR
    ]
    wait_value(house.tree, RECORD, None)
    wait_value(house.tree, f"/scenario/{name}/last_error", RESTARTED_RUN_ERROR)


QUEUED = WAKEUP.replace("triggers:", "mode: queued\ntriggers:")


def test_a_run_that_waited_its_turn_behind_a_resumed_one_is_named_lost(
    house: House,
) -> None:
    """A stop of raspyd ends the run queued behind the one in the long wait: the
    first goes on after the start, the other is lost, and said (as every run that
    is not taken up; it was not said, its loss silent behind the resumed run)."""
    house.start()
    name = woken(house, QUEUED)
    recorded(house)
    house.event(GO, "second", name)  # queued behind the run in its wait
    # counted in the record at once (a kill -9 now names it too), not at the stop
    wait_until(lambda: recorded(house).get("lost") == 1, what="the queued run")
    stopped(house)
    assert stored(house, RECORD)["lost"] == 1
    with capture_logs() as logs:
        started(house)
    assert [e["left_s"] for e in logged(logs, "scenario_run_resumed")] == [20 * MINUTE]
    why = f"{LOST_RUN_ERROR}: {NOT_IN_A_LONG_WAIT}"  # the record's lost count
    assert [e["reason"] for e in logged(logs, "scenario_run_lost")] == [why]
    wait_value(house.tree, f"/scenario/{name}/last_error", why)
    house.advance(20 * MINUTE)
    house.tick(name)
    wait_value(house.tree, LAMP, False)  # the first run still goes on
    wait_value(house.tree, "/house/wakeup/by", f"{GO} = morning")


def test_a_run_taken_up_by_a_restart_of_the_core_alone_is_counted_once(
    house: House,
) -> None:
    """raspyd's statistics outlive a restart of its core (after a fault, or with a
    new Clone server): the run in its long wait ends after it, once, and the stop
    did not count it as a run that ended; the turn queued behind it is a drop."""
    house.start()
    name = woken(house, QUEUED)
    recorded(house)
    house.event(GO, "second", name)  # queued behind it: lost at the stop
    stopped(house)
    counters = house.core.stats.snapshot()
    assert counters.get("core.scenario.runs", 0) == 0
    assert counters.get("core.scenario.dropped") == 1  # the queued turn
    started(house, daemon_start=False)
    house.advance(20 * MINUTE)
    house.tick(name)
    wait_value(house.tree, LAMP, False)
    wait_value(house.tree, f"/scenario/{name}/state", "idle")
    assert house.core.stats.snapshot().get("core.scenario.runs") == 1
    assert value(house.tree, f"/scenario/{name}/runs") == 1
