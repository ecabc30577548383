"""`/scenario/<name>/next_fire`: when a scenario's soonest time trigger fires next,
written by the core with its state. The web card read it only at the page's load,
so a `* * * * *` scenario's card said "Next fire 18:00:00" at 18:01:13."""

from __future__ import annotations

import pytest
from support.core_actors import (
    Core,
    core_fixture,  # noqa: F401  # fixture `core`
    tree_fixture,  # noqa: F401  # fixture `tree`
    value,
    wait_value,
)
from support.device_services import server_fixture  # noqa: F401  # fixture `server`
from support.wait import wait_until

from raspy import json_text
from raspy.client.clone import CloneClient

pytestmark = pytest.mark.timeout(30)

TICK = """\
name: tick
triggers:
  - every: 10s
  - every: 1h
actions:
  - set: /scenario/tick/at
    value: "{trigger.value}"
"""
KEYS = """\
name: keys
triggers: [{event: /event/go}]
actions:
  - set: /scenario/keys/did
    value: true
"""


def test_the_next_fire_follows_each_firing_and_goes_with_a_disable(
    core: Core, tree: CloneClient
) -> None:
    core.start()
    start = core.clock.wall()
    assert core.request("import", document=TICK)[0] == b"200"
    wait_value(tree, "/scenario/tick/next_fire", start + 10)
    core.clock.advance(10)
    wait_value(tree, "/scenario/tick/runs", 1)
    wait_value(tree, "/scenario/tick/next_fire", start + 20)
    core.clock.advance(10)
    wait_value(tree, "/scenario/tick/next_fire", start + 30)
    assert core.request("disable", name="tick")[0] == b"200"
    wait_value(tree, "/scenario/tick/next_fire", None)
    assert core.request("enable", name="tick")[0] == b"200"
    wait_value(tree, "/scenario/tick/next_fire", start + 30)
    assert core.request("delete", name="tick")[0] == b"200"
    wait_value(tree, "/scenario/tick/state", None)
    wait_value(tree, "/scenario/tick/runs", None)
    assert tree.get(b"/scenario/tick/next_fire") is None


def test_a_start_writes_the_next_fire_once_never_null_first(
    core: Core, tree: CloneClient
) -> None:
    """An import, an enable and raspyd's start wrote null (the state was shown
    before the triggers were scheduled), then the time: the web card said
    "never" and MQTT's retained value went null for a moment, two writes where
    one was due."""
    written: list[bytes] = []
    fire_key = b"/scenario/tick/next_fire"
    tree.on_change(lambda c: written.append(c.body) if c.key == fire_key else None)
    core.start()
    start = core.clock.wall()
    assert core.request("import", document=TICK)[0] == b"200"
    wait_value(tree, "/scenario/tick/next_fire", start + 10)
    assert core.request("disable", name="tick")[0] == b"200"
    wait_value(tree, "/scenario/tick/next_fire", None)
    assert core.request("enable", name="tick")[0] == b"200"
    wait_value(tree, "/scenario/tick/next_fire", start + 10)
    core.stop()
    core.start()
    assert core.request("disable", name="tick")[0] == b"200"  # after the start's
    wait_until(lambda: written[-1:] == [b"null"], what="the disable's null")
    at = json_text.encode(start + 10)
    assert written[:3] == [at, b"null", at]  # the import, the disable, the enable
    assert b"null" not in written[3:-1]  # the start: its time, or nothing new


def test_a_scenario_with_no_time_trigger_has_no_next_fire_key(
    core: Core, tree: CloneClient
) -> None:
    core.start()
    assert core.request("import", document=KEYS)[0] == b"200"
    core.request("run", name="keys")
    wait_value(tree, "/scenario/keys/did", True)
    wait_value(tree, "/scenario/keys/state", "idle")
    assert tree.get(b"/scenario/keys/next_fire") is None


def test_a_new_version_with_no_time_trigger_leaves_no_next_fire_key(
    core: Core, tree: CloneClient
) -> None:
    """docs/scenarios.md: next_fire is "absent for a scenario with no cron, at,
    every or sun trigger"; the version that had one left it null for good (across
    restarts too), shown on the web face and retained over MQTT."""
    core.start()
    start = core.clock.wall()
    assert core.request("import", document=TICK)[0] == b"200"
    wait_value(tree, "/scenario/tick/next_fire", start + 10)
    no_time = KEYS.replace("keys", "tick")
    assert core.request("import", document=no_time, replace=True)[0] == b"200"
    wait_until(
        lambda: tree.get(b"/scenario/tick/next_fire") is None,
        what="/scenario/tick/next_fire deleted",
    )
    assert core.request("disable", name="tick")[0] == b"200"
    wait_value(tree, "/scenario/tick/state", "disabled")
    assert core.request("import", document=TICK, replace=True)[0] == b"200"
    wait_until(  # disabled: null
        lambda: tree.get(b"/scenario/tick/next_fire") == b"null",
        what="/scenario/tick/next_fire null",
    )


def test_a_start_deletes_the_null_next_fire_a_raspy_before_it_left(
    core: Core, tree: CloneClient
) -> None:
    """The key a version with a time trigger left, null since a new one without
    any, goes at the next start (the web face and MQTT showed it for good)."""
    core.start()
    assert core.request("import", document=KEYS)[0] == b"200"
    wait_value(tree, "/scenario/keys/state", "idle")
    core.stop()
    tree.set(b"/scenario/keys/next_fire", b"null", confirm_timeout_s=5)
    core.start()
    wait_until(
        lambda: tree.get(b"/scenario/keys/next_fire") is None,
        what="/scenario/keys/next_fire deleted",
    )


DAILY = """\
name: daily
triggers:
  - at: "07:00"
actions:
  - set: /scenario/daily/did
    value: true
"""


def test_the_next_fire_follows_a_step_of_the_clock(
    core: Core, tree: CloneClient
) -> None:
    """docs/scenarios.md: next_fire is "its soonest time trigger's next fire". A Pi
    that booted at the time it saved before its stop and was then set right by NTP
    kept the next fire of the old clock (07:00 today, gone by) in the tree until it
    next fired, a day later: the web card said "Next fire" at a time already past."""
    evening = 1_800_000_000 - 12 * 3600  # 2027-01-14 20:00 UTC, the time saved
    core.clock.step_wall(evening - core.clock.wall())
    core.start()
    assert core.request("import", document=DAILY)[0] == b"200"
    morning = evening + 11 * 3600  # 07:00 by the clock booted
    wait_value(tree, "/scenario/daily/next_fire", morning)
    core.clock.step_wall(12 * 3600)  # NTP: it is 08:00 already
    core.clock.advance(60)  # the core looks at the clocks each minute
    wait_value(tree, "/scenario/daily/next_fire", morning + 86_400)
    assert value(tree, "/scenario/daily/runs") == 0  # 07:00 was skipped, not fired


FAULTING = """\
name: faulting
triggers:
  - every: 10s
conditions:
  - "kv('/house/faulting/limit') > 3"
actions:
  - set: /scenario/faulting/did
    value: true
"""


def test_the_next_fire_follows_a_firing_whose_condition_faults_again(
    core: Core, tree: CloneClient
) -> None:
    """docs/scenarios.md: `next_fire` is written at a firing, "a firing that starts
    no run writes it alone". A condition that faults the same way again (a sensor
    away all day) changes no state, and the key kept the fire just gone by: the
    web card said "Next fire" at a time past until the sensor came back."""
    core.start()
    start = core.clock.wall()
    assert core.request("import", document=FAULTING)[0] == b"200"
    wait_value(tree, "/scenario/faulting/next_fire", start + 10)
    core.clock.advance(10)  # the fault begins: the state `error`
    wait_value(tree, "/scenario/faulting/state", "error")
    wait_value(tree, "/scenario/faulting/next_fire", start + 20)
    core.clock.advance(10)  # the same fault again: no new state
    wait_value(tree, "/scenario/faulting/next_fire", start + 30)
    core.clock.advance(10)
    wait_value(tree, "/scenario/faulting/next_fire", start + 40)
    assert value(tree, "/scenario/faulting/runs") == 0
