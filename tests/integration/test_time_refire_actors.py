"""A time already fired is not fired again after a small step of the clock back, also
when its scenario's triggers are scheduled again inside that window: a new version
imported, a disable then enable, a new core (the supervisor's restart). Real edge,
Clone server and Store; a FakeClock whose wall clock steps alone."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from support.clock import FakeClock
from support.clonesrv import CloneServer
from support.core_actors import Core, tree_fixture, wait_value  # noqa: F401
from support.device_services import server_fixture  # noqa: F401  # fixture `server`
from support.edge_fixtures import EdgeHandle

from raspy.client.clone import CloneClient
from raspy.storage.store import Store

SEVEN = datetime(2026, 12, 7, 7, 0, tzinfo=ZoneInfo("UTC")).timestamp()
WAKE = """\
name: wake
triggers: [{{at: "07:00"{id}}}]
actions:
  - event: /event/{event}
"""


def _new_version(core: Core) -> None:
    """Another action and an id: the trigger's spec is the same."""
    document = WAKE.format(id=", id: alarm", event="wake_again")
    assert core.request("import", document=document, replace=True)[0] == b"200"


def _disable_enable(core: Core) -> None:
    assert core.request("disable", name="wake")[0] == b"200"
    assert core.request("enable", name="wake")[0] == b"200"


def _restart(core: Core) -> None:
    core.stop()
    core.start(daemon_start=False)


def _fired_at_seven(core: Core, clock: FakeClock, tree: CloneClient) -> None:
    """The core started at 06:59:50 with `wake` (at 07:00), which fires once."""
    core.start()
    document = WAKE.format(id="", event="wake")
    assert core.request("import", document=document)[0] == b"200"
    wait_value(tree, "/scenario/wake/next_fire", SEVEN)
    clock.advance(10)
    wait_value(tree, "/scenario/wake/runs", 1)


@pytest.mark.parametrize(
    "again",
    [_new_version, _disable_enable, _restart],
    ids=["import", "enable", "restart"],
)
def test_an_at_fired_is_not_fired_again_when_scheduled_again_after_a_step_back(
    edge: EdgeHandle,
    server: CloneServer,
    store: Store,
    tree: CloneClient,
    again: Callable[[Core], None],
) -> None:
    clock = FakeClock(wall=SEVEN - 10)
    core = Core(edge, server, store, clock)
    try:
        _fired_at_seven(core, clock, tree)
        wait_value(tree, "/scenario/wake/next_fire", SEVEN + 86_400)
        clock.step_wall(-300.0)  # NTP: five minutes back, to 06:55:10
        again(core)
        # tomorrow's 07:00: today's fired already, by the clock before the step
        status, reply = core.request("get", name="wake")
        assert status == b"200"
        assert [fire["at"] for fire in reply["next_fires"]] == [SEVEN + 86_400]
        wait_value(tree, "/scenario/wake/next_fire", SEVEN + 86_400)
    finally:
        core.stop()


@pytest.mark.parametrize(
    "again",
    [_new_version, _disable_enable, _restart],
    ids=["import", "enable", "restart"],
)
def test_an_at_fired_by_a_clock_hours_ahead_comes_again_when_scheduled_again(
    edge: EdgeHandle,
    server: CloneServer,
    store: Store,
    tree: CloneClient,
    again: Callable[[Core], None],
) -> None:
    """The 07:00 fired by a clock five hours ahead (really 02:00); NTP sets it right,
    a correction, after which the 07:00 comes today by the right clock. Scheduled
    again at 05:00, within three hours of the 07:00 the wrong clock fired, it took
    that fire as its last and waited for tomorrow."""
    clock = FakeClock(wall=SEVEN - 10)
    core = Core(edge, server, store, clock)
    try:
        _fired_at_seven(core, clock, tree)
        clock.step_wall(-5 * 3600.0)  # NTP: to 02:00
        clock.advance(60.0)  # the step seen by the core's look each minute
        wait_value(tree, "/scenario/wake/next_fire", SEVEN)
        clock.advance(3 * 3600.0)  # 05:01
        again(core)
        status, reply = core.request("get", name="wake")
        assert status == b"200"
        assert [fire["at"] for fire in reply["next_fires"]] == [SEVEN]
        wait_value(tree, "/scenario/wake/next_fire", SEVEN)
    finally:
        core.stop()
