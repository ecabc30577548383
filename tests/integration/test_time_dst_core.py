"""`at:` triggers in the core actor on the two DST nights of Europe/Berlin, on a fake
clock: 02:30 on the spring day (a time that does not exist) fires once at 03:00 CEST;
02:30 on the autumn day (a time that occurs twice) fires once, in its first pass.
A 20-minute `every` witness shows the core went on ticking past each night."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from support.clock import FakeClock
from support.clonesrv import CloneServer
from support.core_actors import Core, tree_fixture, value, wait_value  # noqa: F401
from support.device_services import server_fixture  # noqa: F401  # fixture `server`
from support.edge_fixtures import EdgeHandle

from raspy.client.clone import CloneClient
from raspy.config import CoreConfig
from raspy.storage.store import Store

BERLIN = ZoneInfo("Europe/Berlin")
NIGHT = """\
name: night
triggers: [{at: "02:30"}]
actions:
  - set: /scenario/night/at
    value: "{trigger.value}"
"""
WITNESS = """\
name: witness
triggers: [{every: 20m}]
actions:
  - set: /scenario/witness/at
    value: "{trigger.value}"
"""


def _berlin(month: int, day: int, hour: int, minute: int, fold: int = 0) -> float:
    local = datetime(2026, month, day, hour, minute, tzinfo=BERLIN, fold=fold)
    return local.timestamp()


@pytest.fixture
def berlin_core(
    request: pytest.FixtureRequest, edge: EdgeHandle, server: CloneServer, store: Store
) -> Iterator[Core]:
    clock = FakeClock(wall=request.param)
    running = Core(edge, server, store, clock, CoreConfig(timezone="Europe/Berlin"))
    running.start()
    yield running
    running.stop()


def _import_both(core: Core, tree: CloneClient) -> None:
    for document in (NIGHT, WITNESS):
        assert core.request("import", document=document)[0] == b"200"
    wait_value(tree, "/scenario/night/state", "idle")
    wait_value(tree, "/scenario/witness/state", "idle")


def _walk(core: Core, tree: CloneClient, minutes: int) -> None:
    """Move the clock on in 20-minute steps, waiting for the witness each time."""
    for _ in range(minutes // 20):
        runs = value(tree, "/scenario/witness/runs") or 0
        assert isinstance(runs, int)
        core.clock.advance(20 * 60)
        wait_value(tree, "/scenario/witness/runs", runs + 1)


@pytest.mark.parametrize("berlin_core", [_berlin(3, 29, 1, 0)], indirect=True)
def test_an_at_time_in_the_spring_gap_fires_once_at_the_end_of_the_gap(
    berlin_core: Core, tree: CloneClient
) -> None:
    _import_both(berlin_core, tree)
    _walk(berlin_core, tree, 180)  # 01:00 CET to 05:00 CEST: three real hours
    assert value(tree, "/scenario/night/runs") == 1
    assert value(tree, "/scenario/night/at") == _berlin(3, 29, 3, 0)


@pytest.mark.parametrize("berlin_core", [_berlin(10, 25, 2, 0)], indirect=True)
def test_an_at_time_in_the_repeated_hour_fires_once_in_its_first_pass(
    berlin_core: Core, tree: CloneClient
) -> None:
    _import_both(berlin_core, tree)
    _walk(berlin_core, tree, 140)  # 02:00 CEST, through 02:xx CET, to 03:20 CET
    assert value(tree, "/scenario/night/runs") == 1
    assert value(tree, "/scenario/night/at") == _berlin(10, 25, 2, 30)
    assert _berlin(10, 25, 2, 30, fold=1) - _berlin(10, 25, 2, 30) == 3600


@pytest.mark.parametrize("berlin_core", [_berlin(6, 1, 2, 0)], indirect=True)
def test_a_time_passed_while_the_core_was_down_is_not_fired_late(
    berlin_core: Core, tree: CloneClient
) -> None:
    """Stopped at 02:00, started again at 03:00: the 02:30 of that night is not made
    up; the next night's 02:30 fires, once, even when the core wakes late for it."""
    core = berlin_core
    _import_both(core, tree)
    core.stop()
    core.clock.advance(3600)
    core.start()
    assert core.request("list")[0] == b"200"  # answered once the start is done
    _walk(core, tree, 40)
    assert value(tree, "/scenario/night/at") is None
    core.clock.advance(24 * 3600)  # one wake-up, far past the next 02:30
    wait_value(tree, "/scenario/night/at", _berlin(6, 2, 2, 30))
    wait_value(tree, "/scenario/night/runs", 1)
