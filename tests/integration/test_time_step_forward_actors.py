"""A step of the clock forward over a scenario's fixed time (NTP correcting a clock
that drifted): the core's time trigger fires at once, once, for the time skipped,
then waits for tomorrow (docs/scenarios.md, "A clock step"). Real edge, Clone server
and Store; a FakeClock whose wall clock steps alone."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from support.clock import FakeClock
from support.clonesrv import CloneServer
from support.core_actors import Core, tree_fixture, wait_value  # noqa: F401
from support.device_services import server_fixture  # noqa: F401  # fixture `server`
from support.edge_fixtures import EdgeHandle
from support.wait import wait_until

from raspy.client.clone import CloneClient
from raspy.storage.store import Store

SEVEN = datetime(2026, 12, 7, 7, 0, tzinfo=ZoneInfo("UTC")).timestamp()
HEATING = """\
name: heating
triggers: [{at: "07:00"}]
actions:
  - set: /house/heating/on_since
    value: "{trigger.value}"
"""


def test_an_at_skipped_by_a_step_of_twenty_minutes_fires_once_at_once(
    edge: EdgeHandle, server: CloneServer, store: Store, tree: CloneClient
) -> None:
    clock = FakeClock(wall=SEVEN - 600)  # 06:50
    core = Core(edge, server, store, clock)
    try:
        core.start()
        assert core.request("import", document=HEATING)[0] == b"200"
        wait_value(tree, "/scenario/heating/next_fire", SEVEN)
        clock.step_wall(1200.0)  # NTP: 06:50 to 07:10
        clock.advance(60.0)  # the core looks at the clocks at least once a minute
        wait_value(tree, "/house/heating/on_since", SEVEN)  # for 07:00, skipped
        wait_value(tree, "/scenario/heating/next_fire", SEVEN + 86_400)
        clock.advance(600.0)
        wait_until(
            lambda: (
                core.request("get", name="heating")[1]["next_fires"][0]["at"]
                == SEVEN + 86_400
            ),
            what="tomorrow's 07:00 next",
        )
        wait_value(tree, "/scenario/heating/runs", 1)
    finally:
        core.stop()
