"""A household's scenarios across time, restarts and other boards (second field trial).

The first trial (test_scenario_trial.py) tried each feature of docs/scenarios.md once.
This one looks where automations go wrong months after they were written: a restart of
raspyd in the middle of a wait or a `for:` hold, the two DST nights of `[core] timezone`,
the wall clock stepped by NTP on a Pi without a real-time clock, bursts of triggers
faster than the runs, a board whose readings the hub marks offline, edits and
disables while a run waits, a text where a number was expected, and raspy's own
events as triggers. Same house: the real core, Clone server, store and fake devices,
the user's command line, and a FakeClock that moves only when the test says so.
"""

from __future__ import annotations

import json
from collections.abc import MutableMapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from structlog.testing import capture_logs
from support.clock import FakeClock
from support.core_actors import (
    HOST,
    core_fixture,  # noqa: F401  # fixture `core`
    tree_fixture,  # noqa: F401  # fixture `tree`
    value,
    wait_value,
)
from support.device_services import (
    mdp_request,
    server_fixture,  # noqa: F401  # fixture `server`
    services_fixture,  # noqa: F401  # fixture `services`
)
from support.scenario_house import (
    BERLIN,
    HOUR,
    LAMP,
    House,
    house_fixture,  # noqa: F401  # fixture `house`
)
from support.wait import wait_until

from raspy.actors.core.service_imports import REPLACED_RUN_ERROR
from raspy.devices.offline import offline_marks
from raspy.devices.reading import Reading, Status, tree_entries
from raspy.devices.template import JsonValue
from raspy.rules.model import SunEvent
from raspy.rules.resume_start import NOT_IN_A_LONG_WAIT, RESTARTED_RUN_ERROR
from raspy.rules.sun import SunLocation, next_sun
from raspy.rules.timing import iso_local

ZONE = ZoneInfo("Europe/Berlin")
MINUTE = 60.0
WINDOW = f"/device/{HOST}.fake.window/value"
GARAGE = f"/device/{HOST}.fake.garage/value"


def berlin(year: int, month: int, day: int, hour: int, minute: int) -> float:
    """Epoch seconds of a local Berlin time (the first of a repeated one)."""
    return datetime(year, month, day, hour, minute, tzinfo=ZONE).timestamp()


def start_at(house: House, wall: float, **config: JsonValue) -> None:
    """The house starts with its core's wall clock at `wall`."""
    house.core.clock = FakeClock(wall=wall)
    house.start(**config)


def logged(
    logs: list[MutableMapping[str, Any]], event: str
) -> list[MutableMapping[str, Any]]:
    return [entry for entry in logs if entry["event"] == event]


# --- 1. a restart of raspyd in the middle of a wait and of a hold ------------------------
PORCH = """\
name: porch-light
description: The porch light on when someone arrives, off two hours later
triggers:
  - event: /event/porch/arrived
actions:
  - device: "{host}.fake.lamp"
    action: "on"
  - wait: 2h
  - device: "{host}.fake.lamp"
    action: "off"
"""
WINDOW_OPEN = """\
name: window-open
description: A window open for half an hour is told (the heating wastes)
triggers:
  - kv: "/device/{host}.fake.window/value"
    to: open
    for: 30m
actions:
  - set: /house/window/alert
    value: "open since {trigger.value} at {now}"
"""


def test_a_restart_in_a_two_hour_wait_takes_the_run_up_and_a_hold_resumes(
    house: House,
) -> None:
    house.start()
    porch = house.imported("porch.yaml", PORCH)
    window = house.imported("window.yaml", WINDOW_OPEN)
    house.event("/event/porch/arrived", True, porch)
    wait_value(house.tree, LAMP, True)
    house.answered(porch)
    house.reading(WINDOW, "open", window)
    house.advance(10 * MINUTE)  # 23:23:20: the light has 1 h 50 to go, the window 20 m
    with capture_logs() as logs:
        house.restart()
    house.tick(window)  # the hold resumed from the start, before the clock moves on
    assert logged(logs, "scenario_run_lost") == []
    # the stopping core is not told the runs' last state: no error line at a stop
    assert logged(logs, "scenario_message_failed") == []
    resumed = logged(logs, "scenario_run_resumed")
    assert [(e["scenario"], e["left_s"]) for e in resumed] == [(porch, 110 * MINUTE)]
    # the taken-up run's state comes from its actor once it has the start
    wait_value(house.tree, f"/scenario/{porch}/state", "running")
    assert value(house.tree, f"/scenario/{window}/last_error") is None
    # the hold starts again at the start, for its whole half hour
    house.advance(20 * MINUTE)
    house.tick(window)
    assert value(house.tree, "/house/window/alert") is None
    house.advance(10 * MINUTE)
    wait_value(
        house.tree,
        "/house/window/alert",
        "open since open at 2023-11-14T23:53:20+01:00",
    )
    house.advance(80 * MINUTE)  # the porch run goes on: its light off on time
    house.tick(porch)
    wait_value(house.tree, LAMP, False)
    assert house.changes(LAMP) == [True, False]
    assert value(house.tree, f"/scenario/{porch}/last_error") is None
    assert value(house.tree, f"/scenario/{window}/runs") == 1


def test_a_restart_of_the_core_alone_says_what_cut_the_run_short(house: House) -> None:
    """The supervisor restarts a crashed core inside a running raspyd: the run lost
    with it (in a short wait inside a `repeat`: one that is not taken up) is said,
    and by what (raspyd did not stop)."""
    house.start()
    nested = PORCH.replace(
        "  - wait: 2h\n",
        "  - repeat:\n      count: 1\n      actions:\n        - wait: 30s\n",
    )
    porch = house.imported("porch.yaml", nested)
    house.event("/event/porch/arrived", True, porch)
    wait_value(house.tree, LAMP, True)
    house.answered(porch)
    with capture_logs() as logs:
        house.core.stop()
        house.core.start(daemon_start=False)
        house.core.request("list")
    lost = logged(logs, "scenario_run_lost")
    # it said "a stop of raspyd", which did not happen
    why = f"{RESTARTED_RUN_ERROR}: {NOT_IN_A_LONG_WAIT}"
    assert [e["reason"] for e in lost] == [why]
    wait_value(house.tree, f"/scenario/{porch}/last_error", why)


# --- 2. the two DST nights ----------------------------------------------------------------
NIGHT_PUMP = """\
name: night-pump
description: The pond pump runs at 02:30 every night; an hourly check beside it
triggers:
  - cron: "30 2 * * *"
    id: cron
  - at: "02:30"
    id: at
  - cron: "0 * * * *"
    id: hourly
actions:
  - set: "/house/pump/{trigger.id}"
    value: "{now}"
"""
EARLY_BIRD = """\
name: early-bird
description: The hall up half an hour before sunrise
triggers:
  - sun: sunrise
    offset: -30m
actions:
  - set: /house/early-bird
    value: "{trigger.value}"
"""


def _walk(house: House, until: float, *names: str) -> None:
    """The clock on in 10-minute steps, each one seen by the core and `names`."""
    while house.core.clock.wall() < until:
        house.advance(10 * MINUTE)
        house.tick(*names)


def _pump_times(house: House, kind: str) -> list[JsonValue]:
    return house.changes(f"/house/pump/{kind}")


def _night(house: House, start: float, until: float) -> float:
    """The pump and the early bird through one night; the early bird's due time."""
    start_at(house, start)
    pump = house.imported("pump.yaml", NIGHT_PUMP)
    bird = house.imported("bird.yaml", EARLY_BIRD)
    location = SunLocation(*BERLIN, ZONE)
    due = next_sun(SunEvent.SUNRISE, -1800.0, start, location)
    assert due is not None
    _walk(house, until, pump, bird)
    wait_value(house.tree, "/house/early-bird", due)
    return due


def test_the_spring_night_fires_02_30_once_at_03_00_and_23_hourly_checks(
    house: House,
) -> None:
    start = berlin(2026, 3, 29, 0, 50)
    due = _night(house, start, berlin(2026, 3, 29, 8, 0))
    wait_until(lambda: len(_pump_times(house, "hourly")) == 7, what="7 hourly")
    assert _pump_times(house, "cron") == ["2026-03-29T03:00:00+02:00"]
    assert _pump_times(house, "at") == ["2026-03-29T03:00:00+02:00"]
    assert _pump_times(house, "hourly") == [
        "2026-03-29T01:00:00+01:00",
        *(f"2026-03-29T0{h}:00:00+02:00" for h in range(3, 9)),
    ]
    # the sun's offset is real seconds: half an hour before the sunrise of that day
    sunrise = next_sun(SunEvent.SUNRISE, 0.0, start, SunLocation(*BERLIN, ZONE))
    assert sunrise is not None
    assert sunrise - due == 1800.0
    assert value(house.tree, "/scenario/early-bird/runs") == 1


def test_the_autumn_night_fires_02_30_once_and_the_hourly_check_in_both_passes(
    house: House,
) -> None:
    _night(house, berlin(2026, 10, 25, 0, 50), berlin(2026, 10, 25, 8, 0))
    wait_until(lambda: len(_pump_times(house, "hourly")) == 9, what="9 hourly")
    assert _pump_times(house, "cron") == ["2026-10-25T02:30:00+02:00"]
    assert _pump_times(house, "at") == ["2026-10-25T02:30:00+02:00"]
    assert _pump_times(house, "hourly") == [
        "2026-10-25T01:00:00+02:00",
        "2026-10-25T02:00:00+02:00",
        "2026-10-25T02:00:00+01:00",
        *(f"2026-10-25T0{h}:00:00+01:00" for h in range(3, 9)),
    ]
    assert value(house.tree, "/scenario/early-bird/runs") == 1


# --- 3. the wall clock stepped by NTP --------------------------------------------------------
BLINDS = """\
name: blinds-up
triggers:
  - at: "07:00"
actions:
  - set: /house/blinds/up
    value: "{trigger.value}"
"""
NIGHT_CHECK = """\
name: night-check
triggers:
  - at: "23:00"
actions:
  - set: /house/night/checked
    value: "{now}"
"""
TEA = """\
name: tea-timer
triggers:
  - event: /event/tea/brewing
actions:
  - wait: 4m
  - set: /house/tea/ready
    value: "{now}"
"""


def test_a_pi_without_a_clock_set_forward_then_back_by_ntp(house: House) -> None:
    """raspyd starts at the time saved at the last shutdown (22:50); NTP then sets
    the clock to 06:58 the next morning, later corrects it back by 5 minutes, and
    once more by 5 hours (a wrong server)."""
    start_at(house, berlin(2023, 11, 14, 22, 50))
    clock = house.core.clock
    names = [
        house.imported(f"{n}.yaml", doc)
        for n, doc in (("blinds", BLINDS), ("night", NIGHT_CHECK), ("tea", TEA))
    ]
    house.event("/event/tea/brewing", True, "tea-timer")
    house.advance(MINUTE)
    with capture_logs() as logs:
        clock.step_wall(berlin(2023, 11, 15, 6, 58) - clock.wall())
        house.advance(MINUTE)  # the next look at the time triggers sees the step
        house.tick(*names)
    jumps = logged(logs, "clock_jumped")
    assert len(jumps) == 1, jumps
    assert jumps[0]["before"] == "2023-11-14T22:52:00+01:00"
    assert jumps[0]["after"] == "2023-11-15T06:59:00+01:00"
    house.advance(2 * MINUTE)  # 4 real minutes after the tea went in
    house.tick(*names)
    wait_value(house.tree, "/house/tea/ready", "2023-11-15T07:01:00+01:00")
    wait_value(house.tree, "/house/blinds/up", berlin(2023, 11, 15, 7, 0))
    assert value(house.tree, "/house/night/checked") is None  # 23:00 was skipped
    # corrected back by 5 minutes: 07:00 does not come again today
    with capture_logs() as logs:
        clock.step_wall(-5 * MINUTE)
        for _ in range(10):
            house.advance(MINUTE)
            house.tick(*names)
    assert len(logged(logs, "clock_jumped")) == 1
    assert house.changes("/house/blinds/up") == [berlin(2023, 11, 15, 7, 0)]
    # back by 5 hours (06:06 to 01:06): the triggers go on from the new time at once
    clock.step_wall(-5 * HOUR)
    house.advance(MINUTE)
    house.tick(*names)
    _walk(house, berlin(2023, 11, 15, 7, 10), *names)
    # the right clock's 07:00 fires again, as documented
    wait_until(
        lambda: house.changes("/house/blinds/up") == [berlin(2023, 11, 15, 7, 0)] * 2,
        what="07:00 once more",
    )
    assert value(house.tree, "/house/night/checked") is None


def test_a_pi_that_booted_in_1970_fires_on_the_right_day_once_ntp_sets_it(
    house: House,
) -> None:
    start_at(house, 0.0)
    blinds = house.imported("blinds.yaml", BLINDS)
    bird = house.imported("bird.yaml", EARLY_BIRD)
    clock = house.core.clock
    house.advance(30.0)
    with capture_logs() as logs:
        # a minute goes by, then NTP steps the clock: in this order, a Tick of the
        # core's own ticker may come at any moment and still see the same step
        # (between a step and a minute, it saw the step a minute early)
        house.advance(MINUTE)
        clock.step_wall(berlin(2023, 11, 15, 6, 51) - clock.wall())
        house.tick(blinds, bird)
    jumps = logged(logs, "clock_jumped")
    assert [j["before"] for j in jumps] == ["1970-01-01T01:01:30+01:00"]
    assert value(house.tree, "/house/blinds/up") is None  # 07:00 of 1970 not fired
    _walk(house, berlin(2023, 11, 15, 8, 0), blinds, bird)
    wait_value(house.tree, "/house/blinds/up", berlin(2023, 11, 15, 7, 0))
    location = SunLocation(*BERLIN, ZONE)
    due = next_sun(SunEvent.SUNRISE, -1800.0, berlin(2023, 11, 15, 0, 0), location)
    wait_value(house.tree, "/house/early-bird", due)
    # its status keys come from the core, apart from the run's own write
    wait_value(house.tree, f"/scenario/{blinds}/runs", 1)
    house.advance(MINUTE)
    house.tick(blinds, bird)
    assert value(house.tree, f"/scenario/{blinds}/runs") == 1  # once, not again


# --- 4. a doorbell pressed five times in a second -------------------------------------------
CHIME = """\
name: chime
description: Every ring blinks the lamp, one after another, at most three
mode: queued
max: 3
triggers:
  - event: /event/doorbell/pressed
actions:
  - device: "{host}.fake.lamp"
    action: toggle
  - set: /house/doorbell/rung
    value: "{trigger.value}"
  - wait: 3s
"""
SNAPSHOT = """\
name: door-camera
description: Record from the last ring until 10 s after it
mode: restart
triggers:
  - event: /event/doorbell/pressed
actions:
  - set: /house/camera/from
    value: "{trigger.value}"
  - wait: 10s
  - set: /house/camera/until
    value: "{trigger.value}"
"""
PRESSED = "/event/doorbell/pressed"


def test_five_rings_in_a_second_queue_three_and_restart_the_camera(
    house: House,
) -> None:
    house.start()
    chime = house.imported("chime.yaml", CHIME)
    camera = house.imported("camera.yaml", SNAPSHOT)
    presses = [1_700_000_000.0 + 0.2 * n for n in range(5)]  # a button's wall times
    for at in presses:
        house.core.server.publisher.set(PRESSED.encode(), json.dumps(at).encode())
    house.settle(PRESSED, json.dumps(presses[-1]).encode(), chime, camera)
    wait_value(house.tree, f"/scenario/{camera}/runs", 5)
    wait_value(house.tree, LAMP, True)
    house.answered(chime)
    for _ in range(3):
        house.advance(3)
        house.tick(chime, camera)
        house.answered(chime)
    house.advance(10)
    house.tick(chime, camera)
    wait_value(house.tree, f"/scenario/{chime}/state", "idle")
    wait_value(house.tree, f"/scenario/{camera}/state", "idle")
    assert value(house.tree, f"/scenario/{chime}/runs") == 3
    assert house.changes("/house/doorbell/rung") == presses[:3]
    # the two rings the queue could not take are counted (raspy status shows it)
    assert house.core.stats.get("core.scenario.dropped") == 2
    assert house.changes(LAMP) == [True, False, True]
    assert house.changes("/house/camera/until") == [presses[-1]]
    assert len(house.changes("/house/camera/from")) == 5
    for name in (chime, camera):
        assert value(house.tree, f"/scenario/{name}/last_error") is None


INTERCOM = """\
name: intercom
triggers:
  - event: /event/intercom/call
actions:
  - event: /event/intercom/ring
"""
RING_COUNT = """\
name: ring-count
mode: queued
triggers:
  - event: /event/intercom/ring
actions:
  - set: /house/intercom/last
    value: "{now}"
"""


def test_an_event_published_twice_with_the_same_value_fires_twice(
    house: House,
) -> None:
    """An `event:` action without a value publishes true each time: each is a
    publication, and each fires the `event:` triggers (docs/scenarios.md)."""
    house.start()
    house.imported("intercom.yaml", INTERCOM)
    count = house.imported("count.yaml", RING_COUNT)
    for n in (1, 2, 3):
        assert house.core.request("run", name="intercom")[0] == b"200"
        wait_value(house.tree, "/scenario/intercom/runs", n)
        wait_value(house.tree, f"/scenario/{count}/runs", n)


# --- 5. a board that goes offline -------------------------------------------------------------
CELLAR = "cellar.onewire.cellar"
SHED = "shed.gpio.door"
CELLAR_FROST = """\
name: cellar-frost
triggers:
  - kv: "/device/cellar.onewire.cellar/value"
    below: 5
actions:
  - event: /event/cellar/frost
    value: "{trigger.value}"
"""
SHED_DOOR = """\
name: shed-door
triggers:
  - kv: "/device/shed.gpio.door/value"
    from: "closed"
    for: 10m
actions:
  - event: /event/shed/left-open
    value: "{trigger.value}"
"""
CELLAR_HEAT = """\
name: cellar-heat
triggers:
  - every: 15m
conditions:
  - "kv('/device/cellar.onewire.cellar/value') < 18"
actions:
  - device: "{host}.fake.lamp"
    action: "on"
"""
# as docs/scenarios.md advises for a board that may go offline
SHED_DOOR_OPEN = SHED_DOOR.replace("shed-door", "shed-door-open").replace(
    'from: "closed"', 'to: "open"'
)
CELLAR_HEAT_GUARDED = CELLAR_HEAT.replace("cellar-heat", "cellar-heat-guarded").replace(
    '"kv(', "\"kv('/device/cellar.onewire.cellar/value') != null and kv("
)


def _board_reading(
    house: House, fullname: str, reading: JsonValue, *names: str
) -> None:
    """A reading of another board's device, its four keys as its poller writes them."""
    entries = tree_entries(
        fullname, Reading(reading, "", Status.OK, house.core.clock.wall())
    )
    for key, body in entries.items():
        house.core.server.publisher.set(key.encode(), body)
    house.settle(
        f"/device/{fullname}/value", entries[f"/device/{fullname}/value"], *names
    )


def _board_offline(house: House, *names: str) -> None:
    """The hub marks the other boards' readings offline, as its marker writes them."""
    view = house.core.ref.proxy().tree.get()  # type: ignore[union-attr]
    keys = view.matching(["/device/cellar.*", "/device/shed.*"])
    records = [(key, 0, json.dumps(v).encode()) for key, v in keys]
    marks = offline_marks(records, house.core.clock.wall())
    marked = [mark.fullname for mark in marks]
    assert marked == [CELLAR, SHED]
    for mark in marks:
        for key, body in mark.entries.items():
            house.core.server.publisher.set(key.encode(), body)
    for fullname in marked:
        house.settle(f"/device/{fullname}/value", b"null", *names)


def test_a_board_gone_offline_as_the_document_says_and_its_guards(
    house: House,
) -> None:
    """The null of an offline mark is no change to a kv trigger: a closed door is
    not told "left open" (it was, ten minutes after its board went offline), and a
    frost told once is not told again when the board is back still cold (it was);
    a comparison with the null fails the run, and the guard of docs/scenarios.md
    keeps the heating idle."""
    house.start()
    frost = house.imported("frost.yaml", CELLAR_FROST)
    shed = house.imported("shed.yaml", SHED_DOOR)
    heat = house.imported("heat.yaml", CELLAR_HEAT)
    shed_open = house.imported("shed-open.yaml", SHED_DOOR_OPEN)
    guarded = house.imported("guarded.yaml", CELLAR_HEAT_GUARDED)
    _board_reading(house, CELLAR, 7.0, frost)
    _board_reading(house, CELLAR, 4.5, frost)
    _board_reading(house, SHED, "closed", shed, shed_open)
    wait_value(house.tree, "/event/cellar/frost", 4.5)
    _board_offline(house, frost, shed, shed_open)
    house.advance(15 * MINUTE)
    house.tick(frost, shed, heat, shed_open, guarded)
    wait_value(house.tree, f"/scenario/{heat}/state", "error")
    wait_value(
        house.tree,
        f"/scenario/{heat}/last_error",
        "condition 1: expression \"kv('/device/cellar.onewire.cellar/value') < 18\": "
        "cannot compare null < 18 (at offset 42)",
    )
    assert value(house.tree, f"/scenario/{shed}/runs") == 0  # door closed: quiet
    assert house.changes("/event/shed/left-open") == []
    assert value(house.tree, f"/scenario/{shed_open}/runs") == 0
    assert value(house.tree, f"/scenario/{frost}/runs") == 1
    wait_value(house.tree, f"/scenario/{guarded}/state", "idle")
    assert value(house.tree, f"/scenario/{guarded}/last_error") is None
    assert value(house.tree, f"/scenario/{guarded}/runs") == 0
    # the board is back, the cellar still cold: told once already, not again; the
    # shed door opens: told ten minutes on, from the value before the gap
    _board_reading(house, CELLAR, 4.0, frost)
    _board_reading(house, SHED, "open", shed, shed_open)
    house.advance(10 * MINUTE)
    house.tick(frost, shed, shed_open)
    wait_value(house.tree, f"/scenario/{shed}/runs", 1)
    wait_value(house.tree, f"/scenario/{shed_open}/runs", 1)
    assert house.changes("/event/shed/left-open") == ["open", "open"]
    assert value(house.tree, f"/scenario/{frost}/runs") == 1


# --- 6. disabled, enabled and edited while a wait_until waits ----------------------------------
GARAGE_CLOSE = """\
name: garage-close
triggers:
  - event: /event/garage/left
actions:
  - wait_until: "kv('/device/{host}.fake.garage/value') == 'closed'"
    timeout: 15m
  - set: /house/garage/closed_at
    value: "{now}"
"""


def test_a_waiting_run_ends_with_a_disable_and_with_an_edit(house: House) -> None:
    house.start()
    name = house.imported("garage.yaml", GARAGE_CLOSE)
    window = house.imported("window.yaml", WINDOW_OPEN)
    house.reading(GARAGE, "open")
    house.event("/event/garage/left", True, name)
    wait_value(house.tree, f"/scenario/{name}/state", "running")
    assert house.cli("disable", name) == 0
    wait_value(house.tree, f"/scenario/{name}/state", "disabled")
    assert house.cli("enable", name) == 0
    wait_value(house.tree, f"/scenario/{name}/state", "idle")
    house.reading(GARAGE, "closed", name)
    assert value(house.tree, "/house/garage/closed_at") is None  # the run ended
    # an edit while it waits: the run is lost, and said
    house.reading(GARAGE, "open", name)
    house.event("/event/garage/left", "again", name)
    wait_value(house.tree, f"/scenario/{name}/state", "running")
    edited = GARAGE_CLOSE.replace("15m", "20m")
    assert house.import_("garage.yaml", edited, "--replace") == 0
    wait_value(house.tree, f"/scenario/{name}/last_error", REPLACED_RUN_ERROR)
    assert house.state(name) == "idle"
    # an edit of a window scenario while its half hour holds: it holds again from
    # the import, as after a restart (the hold was lost: the window was never told)
    house.reading(WINDOW, "open", window)
    house.advance(10 * MINUTE)
    edited = WINDOW_OPEN.replace("is told", "is told (edited)")
    assert house.import_("window.yaml", edited, "--replace") == 0
    house.tick(window)  # the new version has taken what the core told it
    imported = house.core.clock.wall()
    house.advance(30 * MINUTE - 1)
    house.tick(window)
    assert value(house.tree, "/house/window/alert") is None
    house.advance(1)
    house.tick(window)
    wait_value(
        house.tree,
        "/house/window/alert",
        f"open since open at {iso_local(imported + 30 * MINUTE, ZONE)}",
    )


def test_a_window_already_open_holds_from_an_import_and_from_an_enable(
    house: House,
) -> None:
    """A `for:` test the tree meets holds whenever a scenario starts, as at raspyd's
    start: a window open before its scenario was imported, or while it was
    disabled, was never told (no change came to start the hold)."""
    house.start()
    house.reading(WINDOW, "open")
    window = house.imported("window.yaml", WINDOW_OPEN)
    house.tick(window)
    house.advance(30 * MINUTE)
    house.tick(window)
    wait_until(
        lambda: value(house.tree, "/house/window/alert") is not None,
        what="the window told 30 minutes after the import",
    )
    house.reading("/house/window/alert", None)
    assert house.cli("disable", window) == 0
    assert house.cli("enable", window) == 0
    house.tick(window)
    house.advance(30 * MINUTE)
    house.tick(window)
    wait_until(
        lambda: value(house.tree, "/house/window/alert") is not None,
        what="the window told 30 minutes after the enable",
    )


# --- 7. a text where a number was expected ----------------------------------------------
FAN = """\
name: bath-fan
triggers:
  - kv: /house/bath/humidity
actions:
  - set: /house/bath/note
    value: "{trigger.value:.0f} %"
  - choose:
      - if: "trigger.value > kv('/house/bath/limit')"
        then:
          - device: "{host}.fake.lamp"
            action: "on"
  - wait_until: "kv('/house/bath/humidity') < kv('/house/bath/limit') - 10"
    timeout: 30m
"""


def test_a_limit_written_as_text_fails_the_run_naming_the_expression(
    house: House,
) -> None:
    house.start()
    name = house.imported("fan.yaml", FAN)
    house.reading("/house/bath/limit", "sixty")
    house.reading("/house/bath/humidity", 72.5, name)
    # the action, the expression, where in it and what (it named no action)
    wait_value(
        house.tree,
        f"/scenario/{name}/last_error",
        "choose: expression \"trigger.value > kv('/house/bath/limit')\": "
        "cannot compare 72.5 > 'sixty' (at offset 14)",
    )
    assert house.state(name) == "error"
    wait_value(house.tree, "/house/bath/note", "73 %")
    assert house.changes(LAMP) == []


# --- 8. this week's behaviours ----------------------------------------------------------------
ROUNDING = """\
name: bedtime
description: Tells the temperatures, then runs the night routine
triggers:
  - event: /event/bedtime
actions:
  - set: /house/bedtime/text
    value: "{trigger.value:.0f} / {cold:.0f} / {tiny:.1f} / {price:.2f}"
  - set: /house/bedtime/alone
    value: "{trigger.value:.0f}"
  - choose:
      - if: >-
          round(2.5) == 3 and round(-2.5) == -3 and round(0.125, 2) == 0.13
          and round(1250, -2) == 1300 and str(round(-0.4)) == '0'
        then: [{set: /house/bedtime/round, value: ok}]
    else: [{set: /house/bedtime/round, value: wrong}]
  - run: night-routine
  - set: /house/bedtime/done
    value: true
variables: {cold: -20.5, tiny: -0.04, price: 2.675}
"""
NIGHT_ROUTINES = """\
name: night-routines
actions:
  - log: the house goes to sleep
"""


def test_rounding_a_half_away_from_zero_and_a_run_of_a_missing_scenario(
    house: House,
) -> None:
    house.start()
    house.imported("routines.yaml", NIGHT_ROUTINES)
    path = house.folder / "bedtime.yaml"
    path.write_text(ROUNDING)
    assert house.cli("import", str(path)) == 0
    assert house.errors == [
        f"raspy scenario import: {path}:16:10: warning: run: 'night-routine' "
        "(did you mean 'night-routines'?) is no scenario on the hub; the run does "
        "nothing until one of that name is imported"
    ]
    wait_value(house.tree, "/scenario/bedtime/state", "idle")
    house.event("/event/bedtime", 20.5, "bedtime")
    wait_value(house.tree, "/house/bedtime/text", "21 / -21 / 0.0 / 2.67")
    wait_value(house.tree, "/house/bedtime/alone", 21)
    wait_value(house.tree, "/house/bedtime/round", "ok")
    wait_value(house.tree, "/house/bedtime/done", True)
    wait_value(
        house.tree,
        "/scenario/bedtime/last_error",
        "run: no scenario named 'night-routine'",
    )
    wait_value(house.tree, "/scenario/bedtime/state", "error")
    # fixed: the next run is clean (last_error keeps the last failure, as documented)
    assert (
        house.import_(
            "bedtime.yaml", ROUNDING.replace("routine\n", "routines\n"), "--replace"
        )
        == 0
    )
    house.event("/event/bedtime", 19.5, "bedtime")
    wait_value(house.tree, "/house/bedtime/alone", 20)
    wait_value(house.tree, "/scenario/bedtime/state", "idle")
    wait_value(house.tree, "/scenario/bedtime/runs", 2)


LEAVE_HOME = """\
name: leave-home
triggers:
  - event: /event/house/left
actions:
  - stop: night-routines
  - set: /house/left
    value: "{trigger.value}"
"""


def test_a_stop_of_a_disabled_scenario_is_no_error_of_the_caller(
    house: House,
) -> None:
    """A disabled scenario has no runs: a `stop:` of it did what it asked. It made
    the caller show an error at every run (leaving home while the night routine is
    disabled for the holidays)."""
    house.start()
    routines = house.imported("routines.yaml", NIGHT_ROUTINES)
    leave = house.imported("leave.yaml", LEAVE_HOME)
    assert house.cli("disable", routines) == 0
    wait_value(house.tree, f"/scenario/{routines}/state", "disabled")
    house.event("/event/house/left", "morning", leave)
    wait_value(house.tree, "/house/left", "morning")
    wait_value(house.tree, f"/scenario/{leave}/runs", 1)
    house.tick(leave)  # a refusal told to it is taken, and what it said of it
    house.tick()  # is taken by the core
    entry = house.core.ref.proxy().entries.get()[leave]  # type: ignore[union-attr]
    assert (entry.status.state.value, entry.status.last_error) == ("idle", None)


# --- 9. raspy's own events ---------------------------------------------------------------------
CONFIG_AUDIT = """\
name: config-audit
description: Every change of a device's config is noted
mode: queued
triggers:
  - event: "/event/device/*/configured"
actions:
  - set: /house/audit/last
    value: {key: "{trigger.key}", at: "{trigger.value}"}
  - log: "config of {trigger.key} changed"
"""


def test_a_device_config_changed_over_mdp_is_an_event_a_scenario_hears(
    house: House,
) -> None:
    house.start()
    name = house.imported("audit.yaml", CONFIG_AUDIT)
    service = f"{HOST}.fake.devices"
    key = f"/event/device/{HOST}.fake.lamp/configured"
    with capture_logs() as logs:
        reply = mdp_request(
            house.core.edge,
            service,
            action="config",
            device="lamp",
            value={"friendly_name": "Kitchen"},
        )
        assert reply[0] == b"200"
        wait_value(house.tree, f"/scenario/{name}/runs", 1)
        house.device_clock.advance(2.0)
        reply = mdp_request(house.core.edge, service, action="reset", device="lamp")
        assert reply[0] == b"200"
        wait_value(house.tree, f"/scenario/{name}/runs", 2)
    wait_value(house.tree, "/house/audit/last", {"key": key, "at": 1_700_000_002.0})
    said = [e["message"] for e in logged(logs, "scenario_logged")]
    assert said == [f"config of {key} changed"] * 2
