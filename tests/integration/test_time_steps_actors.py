"""Time triggers in the cron and core actors when the wall clock steps back by days
(a Pi that booted at a saved time ahead, then NTP), and sun triggers in a polar night:
real edge, Clone server and Store, a FakeClock whose wall clock can step alone."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from structlog.testing import capture_logs
from support.clock import FakeClock
from support.clonesrv import CloneServer
from support.core_actors import Core, tree_fixture, value, wait_value  # noqa: F401
from support.device_services import server_fixture  # noqa: F401  # fixture `server`
from support.edge_fixtures import EdgeHandle
from support.wait import wait_until

from raspy.actors.cron import start_cron
from raspy.client.clone import CloneClient
from raspy.client.mdp import Client
from raspy.config import CoreConfig
from raspy.rules.clock_steps import ClockSteps
from raspy.stats import Stats
from raspy.storage.store import Store

HOST = "testhost"
UTC_ZONE = ZoneInfo("UTC")
TWO_DAYS_S = 2 * 86_400.0
TICK = """\
name: tick
triggers: [{every: 10s}]
actions:
  - set: /scenario/tick/at
    value: "{trigger.value}"
"""
MORNING = """\
name: morning
triggers: [{sun: sunrise}]
actions:
  - event: /event/morning
"""


class SteppingClock(FakeClock):
    """A FakeClock whose wall clock can also step alone, as NTP steps it."""

    def step_wall(self, seconds: float) -> None:
        self._wall += seconds


def _cron_event(tree: CloneClient, name: str) -> Any:
    body = tree.get(f"/event/cron/{name}".encode())
    return None if body is None else json.loads(body)


def _cron_request(edge: EdgeHandle, **document: Any) -> bytes:
    body = json.dumps({"v": 1, **document})
    with Client(edge.endpoint, context=edge.context, timeout_s=3, retries=1) as client:
        status, _ = client.request(f"{HOST}.core.cron", body)
    return status


def _wait_scheduled(tree: CloneClient, name: str, scheduled: str) -> None:
    def fired() -> bool:
        return bool((_cron_event(tree, name) or {}).get("scheduled") == scheduled)

    wait_until(fired, what=f"the fire of {name} scheduled {scheduled}")


@pytest.fixture
def cron_tree(zmq_context: Any, server: CloneServer) -> Iterator[CloneClient]:
    client = CloneClient(server.endpoints, b"/event/cron/", context=zmq_context)
    client.wait_synced()
    yield client
    client.close()


def test_a_cron_job_goes_on_at_once_after_the_clock_steps_back_two_days(
    edge: EdgeHandle, server: CloneServer, store: Store, cron_tree: CloneClient
) -> None:
    """The job fired at 22:14 by a clock two days ahead; after the step back it fires
    what was due by the old clock once, then every minute on the new time, not in
    two days."""
    clock = SteppingClock()  # 2023-11-14 22:13:20 UTC
    ref = start_cron(
        edge=edge.ref,
        outbox=edge.outbox,
        store=store,
        publisher=server.publisher,
        hostname=HOST,
        tz=UTC_ZONE,
        clock=clock,
        stats=Stats(),
    )
    try:
        assert _cron_request(edge, action="add", name="m", schedule="* * * * *") == (
            b"200"
        )
        clock.advance(40.5)
        wait_until(
            lambda: (
                (_cron_event(cron_tree, "m") or {}).get("scheduled")
                == "2023-11-14T22:14:00+00:00"
            ),
            what="the 22:14 fire",
        )
        clock.step_wall(-TWO_DAYS_S)
        # The jump check (within a minute): the 22:15 due by the old clock fires once,
        # then the job goes on from the new time at once.
        for scheduled in ("2023-11-14T22:15:00+00:00", "2023-11-12T22:16:00+00:00"):
            clock.advance(60.0)
            _wait_scheduled(cron_tree, "m", scheduled)
    finally:
        ref.stop(block=True, timeout=10)


@pytest.fixture
def stepping_core(
    edge: EdgeHandle, server: CloneServer, store: Store
) -> Iterator[Core]:
    running = Core(edge, server, store, SteppingClock())
    yield running
    running.stop()


def test_an_every_trigger_keeps_its_real_cadence_after_a_step_back(
    stepping_core: Core, tree: CloneClient
) -> None:
    core = stepping_core
    clock = core.clock
    assert isinstance(clock, SteppingClock)
    core.start()
    assert core.request("import", document=TICK)[0] == b"200"
    start = clock.wall()
    wait_value(tree, "/scenario/tick/state", "idle")
    clock.advance(10)
    wait_value(tree, "/scenario/tick/runs", 1)
    clock.step_wall(-TWO_DAYS_S)
    clock.advance(10)  # the slot due by the old clock fires once, as it was
    wait_value(tree, "/scenario/tick/runs", 2)
    assert value(tree, "/scenario/tick/at") == start + 20
    clock.advance(10)  # 10 real seconds later, whatever the wall clock says
    wait_value(tree, "/scenario/tick/runs", 3)
    assert value(tree, "/scenario/tick/at") == start + 30 - TWO_DAYS_S


def test_one_clock_step_is_logged_once_though_core_and_cron_both_follow_it(
    stepping_core: Core, tree: CloneClient, edge: EdgeHandle, server: CloneServer
) -> None:
    """The core's scheduler and cron's each see the step; the log says it once, with
    the wall times before and after."""
    core = stepping_core
    clock = core.clock
    assert isinstance(clock, SteppingClock)
    stats = Stats()
    core.steps = ClockSteps(UTC_ZONE)  # as the daemon's wiring shares one
    core.start()
    cron = start_cron(
        edge=edge.ref,
        outbox=edge.outbox,
        store=core.store,
        publisher=server.publisher,
        hostname=HOST,
        tz=UTC_ZONE,
        clock=clock,
        stats=stats,
        steps=core.steps,
    )
    try:
        assert _cron_request(edge, action="add", name="m", schedule="0 0 1 1 *") == (
            b"200"
        )
        assert core.request("import", document=TICK)[0] == b"200"
        wait_value(tree, "/scenario/tick/state", "idle")
        with capture_logs() as logs:
            clock.step_wall(3600.0)
            clock.advance(10)  # the core's next `every` check sees the step
            wait_value(tree, "/scenario/tick/runs", 1)
            clock.advance(60)  # cron's (at most a minute of sleep) too
            wait_until(lambda: stats.get("cron.clock_jumps") == 1, what="cron's")
        jumps = [entry for entry in logs if entry["event"] == "clock_jumped"]
        assert len(jumps) == 1, jumps
        assert jumps[0]["delta_s"] == 3600.0
        assert jumps[0]["after"] == "2023-11-14T23:13:30+00:00"
        assert jumps[0]["before"] < jumps[0]["after"]
    finally:
        cron.stop(block=True, timeout=10)


def test_a_sun_trigger_in_the_polar_night_says_once_which_days_it_skips(
    edge: EdgeHandle, server: CloneServer, store: Store, tree: CloneClient
) -> None:
    oslo = ZoneInfo("Europe/Oslo")
    december = datetime(2026, 12, 1, 12, tzinfo=oslo).timestamp()
    clock = SteppingClock(wall=december)
    config = CoreConfig(timezone="Europe/Oslo", latitude=69.65, longitude=18.96)
    core = Core(edge, server, store, clock, config)
    try:
        with capture_logs() as logs:
            core.start()
            assert core.request("import", document=MORNING)[0] == b"200"
            wait_value(tree, "/scenario/morning/state", "idle")
        said = [entry for entry in logs if entry["event"] == "sun_event_absent"]
        assert len(said) == 1
        last_day = date.fromisoformat(said[0]["last_day"])
        upcoming = datetime.fromisoformat(said[0]["next"])
        assert said[0] == {
            "component": "core",
            "event": "sun_event_absent",
            "log_level": "info",
            "scenario": "morning",
            "sun": "sunrise",
            "first_day": "2026-12-01",  # today has no sunrise either
            "last_day": last_day.isoformat(),
            "next": upcoming.isoformat(),
        }
        assert date(2027, 1, 1) < last_day < date(2027, 1, 20)  # the polar night
        assert upcoming.date() == last_day + timedelta(days=1)
        assert value(tree, "/event/morning") is None
    finally:
        core.stop()


HALL = """\
name: hall
triggers: [{kv: /m, to: true}]
actions:
  - set: /light
    value: "on"
  - wait: 20m
  - set: /light
    value: "off"
"""


def _recorded(tree: CloneClient) -> list[Any]:
    """The runs of the hall's resume record (none: no record)."""
    record = value(tree, "/scenario/hall/resume")
    runs = record.get("runs") if isinstance(record, dict) else None
    return runs if isinstance(runs, list) else []


def test_a_step_forward_rewrites_the_record_of_a_run_in_a_long_wait(
    stepping_core: Core, tree: CloneClient, server: CloneServer
) -> None:
    """No time trigger anywhere: the core looks at the clocks each minute all the
    same, and a run's record says its end by the clock NTP set (a restart then takes
    it up, not drops it as a week stale)."""
    core = stepping_core
    clock = core.clock
    assert isinstance(clock, SteppingClock)
    core.start()
    assert core.request("import", document=HALL)[0] == b"200"
    wait_value(tree, "/scenario/hall/state", "idle")
    server.publisher.set(b"/m", b"true")
    wait_value(tree, "/scenario/hall/state", "running")
    started = clock.wall()
    wait_until(lambda: bool(_recorded(tree)), what="the run's record")
    clock.step_wall(7 * 86_400.0)
    clock.advance(60)  # the core's look at the clocks, a minute at most

    def rewritten() -> bool:
        runs = _recorded(tree)
        return bool(runs) and runs[0]["end"] == started + 7 * 86_400.0 + 1200.0

    wait_until(rewritten, what="the record's end by the new clock")
