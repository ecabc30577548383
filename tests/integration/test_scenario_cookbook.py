"""The recipes of docs/cookbook.md, each imported as the page writes it and driven.

The YAML is read out of the page's fenced blocks, so the page and what is tested
cannot drift apart. Each recipe runs on the real parts (a core on an edge, a Clone
server and a Store, a fake device service whose switches and dimmer the recipes
command, a FakeClock) and is checked for what its household expects, and for the
mistake it must not make: a fan that does not flap between 60 and 70 %, a light that
stays on while the motion goes on, an offline device told once.
"""

from __future__ import annotations

import json
import re
import subprocess
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from structlog.testing import capture_logs
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
from support.http_server import HttpServer
from support.remote_board import Board, Marker
from support.scenario_engine import harness, requests
from support.scenario_house import (
    BERLIN,
    HALL,
    LAMP,
    LIVING,
    MOTION,
    House,
    house_fixture,  # noqa: F401  # fixture `house`
    served_http,
)
from support.wait import wait_until

from raspy.devices.template import JsonValue
from raspy.rules.document import load_scenario
from raspy.rules.model import SunEvent
from raspy.rules.sun import SunLocation, next_sun
from raspy.secrets_file import SecretsFile

COOKBOOK = Path(__file__).parents[2] / "docs" / "cookbook.md"
BLOCK = re.compile(r"^```yaml\n(.*?)^```$", re.DOTALL | re.MULTILINE)
ZONE = ZoneInfo("Europe/Berlin")
FAN = f"/device/{HOST}.fake.fan/value"
PORCH = f"/device/{HOST}.fake.porch/value"
BACKDOOR = f"/device/{HOST}.fake.backdoor/value"
BATHROOM = f"/device/{HOST}.fake.bathroom/value"
WASHER = f"/device/{HOST}.fake.washer/value"
FREEZER = f"/device/{HOST}.fake.freezer/value"
SWITCHES = ("fan", "porch")
GRACE_S = 60.0  # [devices] offline_after_s
CELLAR = ("freezer", "boiler", "stairs")  # a second board's devices


def _recipes() -> dict[str, str]:
    """Each YAML block of the page by its scenario's name, exactly as written."""
    found: dict[str, str] = {}
    for block in BLOCK.findall(COOKBOOK.read_text()):
        name = block.partition("name: ")[2].split()[0]
        assert name not in found, f"two recipes named {name}"
        found[name] = block
    return found


RECIPES = _recipes()


def _import(house: House, *names: str) -> None:
    for name in names:
        assert house.imported(f"{name}.yaml", RECIPES[name]) == name


def _at(house: House, local: str, *names: str) -> None:
    """The clock moves on to `local` (Berlin time, ISO 8601), and the core and the
    scenarios `names` have seen it."""
    target = datetime.fromisoformat(local).replace(tzinfo=ZONE).timestamp()
    assert target >= house.core.clock.wall()
    house.advance(target - house.core.clock.wall())
    house.tick(*names)


def _later(house: House, seconds: float, *names: str) -> None:
    house.advance(seconds)
    house.tick(*names)


def _trigger(id_: str, new: JsonValue, old: JsonValue, since: float) -> JsonValue:
    """A washer's `for:` trigger as `/scenario/laundry-done/last_trigger` shows it."""
    return {
        "kind": "kv",
        "id": id_,
        "key": WASHER,
        "value": new,
        "from": old,
        "since": since,
    }


def _switch(house: House, device: str, action: str) -> None:
    """The household switches a device by hand (the web face, a wall button)."""
    reply = mdp_request(
        house.core.edge, f"{HOST}.fake.devices", action=action, device=device
    )
    assert reply[0] == b"200", reply


def test_the_page_has_the_recipes_this_test_drives() -> None:
    assert sorted(RECIPES) == sorted(
        [
            "hall-motion",
            "door-left-open",
            "bathroom-fan",
            "laundry-done",
            "away-mode",
            "presence-sim",
            "all-off",
            "porch-light",
            "offline-alert",
            "board-offline-alert",
            "heat-schedule",
            "heat-manual",
            "tell-my-phone",
            "hall-button",
            "heat-setpoint",
        ]
    )


def test_the_pages_config_has_the_switches_the_recipes_use() -> None:
    block = re.search(r"^```toml\n(.*?)^```$", COOKBOOK.read_text(), re.S | re.M)
    assert block is not None
    fake = tomllib.loads(block.group(1))["devices"]["fake"]
    assert [(d["name"], d["oid"]) for d in fake] == [(n, "switch") for n in SWITCHES]


def test_the_pages_shell_lines_add_the_same_switches_to_a_copy_of_make_runs_config(
    tmp_path: Path,
) -> None:
    """`make run` writes var/run.toml anew at each start: the page's lines add the
    switches to a copy, which raspyd then reads with every device of make run."""
    block = re.search(r"^```sh\n(.*?)^```$", COOKBOOK.read_text(), re.S | re.M)
    assert block is not None
    copy, append, start = block.group(1).splitlines()
    assert copy == "cp var/run.toml var/cookbook.toml"
    assert start.startswith(".venv/bin/raspyd --data-dir var/raspy ")
    assert "--config var/cookbook.toml" in start
    (tmp_path / "var").mkdir()
    run_toml = Path(__file__).parents[2] / "raspy" / "defaults" / "run.toml"
    (tmp_path / "var" / "run.toml").write_text(run_toml.read_text())
    for line in (copy, append):
        subprocess.run(["sh", "-c", line], cwd=tmp_path, check=True, timeout=10)
    config = tomllib.loads((tmp_path / "var" / "cookbook.toml").read_text())
    names = [(d["name"], d["oid"]) for d in config["devices"]["fake"]]
    assert names[-len(SWITCHES) :] == [(n, "switch") for n in SWITCHES]
    assert "lamp" in [name for name, _ in names]


def test_every_recipe_imports_without_a_warning(house: House) -> None:
    """What a reader pastes is valid as it is; the only warnings are for the
    sensors this house has no readings of yet, and the GPIO button it has not (the
    page says so)."""
    house.start(*SWITCHES)
    paths = []
    for name, text in RECIPES.items():
        paths.append(house.folder / f"{name}.yaml")
        paths[-1].write_text(text)
    assert house.cli("import", *map(str, paths)) == 0, house.errors
    warnings = [e for e in house.errors if "warning" in e]
    assert warnings
    button = (
        f"event: '/event/{HOST}.gpio.button/", "': its device has no readings in the "
        "hub's tree now",
    )  # fmt: skip
    assert all(
        "matches no key in the hub's tree" in w or all(p in w for p in button)
        for w in warnings
    ), warnings
    assert sum(all(p in w for p in button) for w in warnings) == 3
    states = house.core.request("list")[1]
    assert sorted(s["name"] for s in states) == sorted(RECIPES)


# --- 1. motion light --------------------------------------------------------------------
def test_the_motion_light_stays_on_while_motion_goes_on(house: House) -> None:
    house.start(*SWITCHES)
    name = "hall-motion"
    _import(house, name)
    house.reading(MOTION, True, name)
    wait_value(house.tree, HALL, 80)
    house.answered(name)
    house.reading(MOTION, False, name)
    _later(house, 240, name)
    house.reading(MOTION, True, name)  # again within the 5 minutes
    house.answered(name)
    house.reading(MOTION, False, name)
    _later(house, 299, name)  # 9 minutes after the first motion, 5 after the last
    assert value(house.tree, HALL) == 80
    _later(house, 1, name)
    wait_value(house.tree, HALL, 0)
    house.answered(name)
    # a sensor that reads motion for a quarter of an hour without a break
    house.reading(MOTION, True, name)
    wait_value(house.tree, HALL, 80)
    house.answered(name)
    _later(house, 900, name)
    house.reading(MOTION, True, name)  # the same reading again: no change
    assert value(house.tree, HALL) == 80
    house.reading(MOTION, False, name)
    _later(house, 300, name)
    wait_value(house.tree, HALL, 0)
    wait_value(house.tree, f"/scenario/{name}/runs", 5)
    assert house.changes(HALL) == [80, 0, 80, 0]
    assert value(house.tree, f"/scenario/{name}/last_error") is None


# --- 2. door left open -------------------------------------------------------------------
def test_a_door_left_open_is_told_once_and_a_short_opening_not_at_all(
    house: House,
) -> None:
    house.start(*SWITCHES)
    name = "door-left-open"
    _import(house, name)
    alert = "/event/house/door-left-open"
    house.reading(BACKDOOR, False, name)
    house.reading(BACKDOOR, True, name)
    _later(house, 540, name)
    house.reading(BACKDOOR, False, name)  # closed after 9 minutes: nothing
    _later(house, 600, name)
    house.reading(BACKDOOR, True, name)
    _later(house, 599, name)
    assert value(house.tree, alert) is None
    with capture_logs() as logs:
        _later(house, 1, name)
        wait_value(
            house.tree, alert, {"door": "back", "at": "2023-11-14T23:42:20+01:00"}
        )
        _later(house, 3600, name)  # open an hour later: not told again
        house.reading(BACKDOOR, True, name)
    assert house.changes(alert) == [{"door": "back", "at": "2023-11-14T23:42:20+01:00"}]
    wait_value(house.tree, f"/scenario/{name}/runs", 1)
    said = [e["message"] for e in logs if e["event"] == "scenario_logged"]
    assert said == ["the back door has been open for 10 minutes"]


# --- 3. bathroom fan -----------------------------------------------------------------------
def test_the_fan_does_not_flap_between_60_and_70_percent(house: House) -> None:
    house.start(*SWITCHES)
    name = "bathroom-fan"
    house.reading(BATHROOM, 75.0)  # a shower under way at the import
    _import(house, name)
    for humidity in (76.0, 65.0, 69.5):  # 76: no crossing yet
        house.reading(BATHROOM, humidity, name)
    house.reading(BATHROOM, 71.0, name)
    wait_value(house.tree, FAN, True)
    house.answered(name)
    for humidity in (68.0, 62.0, 69.9, 60.0, 64.0):  # between the bounds: nothing
        house.reading(BATHROOM, humidity, name)
    house.reading(BATHROOM, 59.5, name)
    wait_value(house.tree, FAN, False)
    house.answered(name)
    for humidity in (61.0, 69.0, 70.0, 65.0):
        house.reading(BATHROOM, humidity, name)
    wait_value(house.tree, f"/scenario/{name}/runs", 2)
    assert house.changes(FAN) == [True, False]
    assert value(house.tree, f"/scenario/{name}/last_error") is None


# --- 4. laundry done -----------------------------------------------------------------------
def test_laundry_done_once_after_the_wash_not_at_a_pause_or_on_standby(
    house: House,
) -> None:
    house.start(*SWITCHES)
    name = "laundry-done"
    _import(house, name)
    done = "/event/house/laundry-done"
    house.reading(WASHER, 0.4, name)
    _later(house, 600, name)  # the plug idle before the wash: not "done"
    house.reading(WASHER, 450.0, name)
    wait_value(house.tree, "/house/laundry/washing", True)
    house.reading(WASHER, 1.5, name)  # soaking: a pause of 2 minutes
    _later(house, 120, name)
    house.reading(WASHER, 180.0, name)
    _later(house, 1800, name)
    house.reading(WASHER, 0.8, name)
    _later(house, 179, name)
    assert value(house.tree, done) is None
    _later(house, 1, name)
    wait_value(house.tree, done, "2023-11-14T23:58:20+01:00")
    wait_value(house.tree, "/house/laundry/washing", False)
    for standby in (3.4, 2.1):  # a plug wavering around 3 W
        house.reading(WASHER, standby, name)
    idle = house.core.clock.wall()  # below 5 W from here: the hold's since
    _later(house, 600, name)
    wait_value(
        house.tree,
        f"/scenario/{name}/last_trigger",
        _trigger("idle", 2.1, 3.4, idle),
    )
    # idle before the wash, washing twice (450, and 180 after the pause), done, and
    # the standby: five runs, one event
    wait_value(house.tree, f"/scenario/{name}/runs", 5)
    assert house.changes(done) == ["2023-11-14T23:58:20+01:00"]


# --- 5 and 7. away mode and the nightly all off -------------------------------------------
def test_leaving_sets_away_and_switches_everything_off(house: House) -> None:
    house.start(*SWITCHES)
    _import(house, "all-off", "away-mode")
    _switch(house, "lamp", "on")
    _switch(house, "porch", "on")
    _switch(house, "hall", "on")
    wait_value(house.tree, HALL, 100)
    house.event("/event/house/leaving", True, "away-mode")
    wait_value(house.tree, "/house/away", True)
    wait_value(house.tree, "/house/all-off", "2023-11-14T23:13:20+01:00")
    wait_value(house.tree, LAMP, False)
    wait_value(house.tree, PORCH, False)
    wait_value(house.tree, HALL, 0)
    house.event("/event/house/home", True, "away-mode")
    wait_value(house.tree, "/house/away", False)
    wait_value(house.tree, "/scenario/all-off/runs", 1)


def test_all_off_at_23_30_before_workdays_and_00_30_before_days_off(
    house: House,
) -> None:
    house.start(*SWITCHES)
    name = "all-off"
    _import(house, name)
    fired = [
        "2023-11-14T23:30:00",  # Tuesday
        "2023-11-15T23:30:00",  # Wednesday
        "2023-11-16T23:30:00",  # Thursday
        "2023-11-18T00:30:00",  # Saturday, after Friday evening
        "2023-11-19T00:30:00",  # Sunday, after Saturday evening
        "2023-11-19T23:30:00",  # Sunday evening: Monday is a workday
        "2023-11-20T23:30:00",  # Monday
    ]
    quiet = [
        "2023-11-17T23:30:00",  # Friday evening
        "2023-11-18T23:30:00",  # Saturday evening
        "2023-11-20T00:30:00",  # Monday
        "2023-11-21T00:30:00",  # Tuesday
    ]
    for local in sorted(fired + quiet):
        _switch(house, "lamp", "on")
        wait_value(house.tree, LAMP, True)
        _at(house, local, name)
        if local in fired:
            wait_value(house.tree, "/house/all-off", f"{local}+01:00")
            assert value(house.tree, LAMP) is False
            house.answered(name)
    assert house.changes("/house/all-off") == [f"{local}+01:00" for local in fired]
    assert value(house.tree, LAMP) is True  # the last quiet night left it on
    assert value(house.tree, f"/scenario/{name}/last_error") is None


# --- 6. presence simulation ----------------------------------------------------------------
def _drawn_wait(house: House, name: str, before: float = 0.0) -> tuple[float, float]:
    """(the wall time the run's random wait ends, its drawn length), as the run's
    resume record says while it waits (a wait of a minute or more); `before`: the
    end of the wait before it, whose record may still be seen."""
    key = f"/scenario/{name}/resume"

    def drawn() -> tuple[float, float] | None:
        found: Any = value(house.tree, key)
        if found is None or found["runs"][0]["end"] == before:
            return None
        run = found["runs"][0]
        return float(run["end"]), float(run["seconds"])

    found = wait_until(drawn, what=f"{key} of the next wait")
    assert found is not None  # wait_until returns a truthy result
    return found


def _goes_at(house: House, name: str, end: float, lamp: bool) -> None:
    """The lamp is switched to `lamp` when the wait ends at `end`, not a second
    before (a millisecond more: the wall clock's float near 1.7e9 is coarser than
    the monotonic clock's, which the wait is on)."""
    _later(house, end - 1 - house.core.clock.wall(), name)
    assert value(house.tree, LAMP) is (not lamp)
    _later(house, 1.001, name)
    wait_value(house.tree, LAMP, lamp)
    house.answered(name)


def test_presence_simulation_while_away_at_random_times_that_change_each_day(
    house: House,
) -> None:
    house.start(*SWITCHES)
    name = "presence-sim"
    _import(house, name)
    house.reading("/house/away", True)
    evenings: list[tuple[float, float]] = []
    off_at = 0.0
    for day in ("2023-11-15", "2023-11-16"):
        _at(house, f"{day}T19:00:00", name)
        seven = house.core.clock.wall()
        on_at, delay = _drawn_wait(house, name, off_at)
        assert (on_at, 60 <= delay <= 45 * 60) == (seven + delay, True)
        _goes_at(house, name, on_at, True)
        off_at, lit = _drawn_wait(house, name, on_at)  # drawn when the lamp went on
        assert off_at == pytest.approx(on_at + lit, abs=0.01)
        assert 2 * 3600 <= lit <= 3.5 * 3600
        _goes_at(house, name, off_at, False)
        wait_value(house.tree, f"/scenario/{name}/state", "idle")
        evenings.append((delay, lit))
    assert evenings[0][0] != evenings[1][0]
    assert evenings[0][1] != evenings[1][1]
    assert house.changes(LAMP) == [True, False, True, False]
    # home again while the run waits to switch the lamp on: it ends at its
    # `condition`, and the lamp stays off
    _at(house, "2023-11-17T19:00:00", name)
    on_at, _ = _drawn_wait(house, name, off_at)
    house.reading("/house/away", False, name)
    _later(house, on_at - house.core.clock.wall(), name)
    wait_value(house.tree, f"/scenario/{name}/state", "idle")
    assert value(house.tree, f"/scenario/{name}/last_error") is None
    assert house.changes(LAMP) == [True, False, True, False]
    # and while home, the evening starts no run at all
    _at(house, "2023-11-18T19:00:00", name)
    wait_until(
        lambda: house.core.request("get", name=name)[1]["last_skip"] is not None,
        what="the skipped evening",
    )
    assert value(house.tree, f"/scenario/{name}/runs") == 3


# --- 8. porch light ---------------------------------------------------------------------------
def test_the_porch_light_comes_on_before_sunset_and_goes_off_at_23(
    house: House,
) -> None:
    house.start(*SWITCHES)
    name = "porch-light"
    _import(house, name)
    start = house.core.clock.wall()
    location = SunLocation(*BERLIN, ZONE)
    due = next_sun(SunEvent.SUNSET, -900.0, start, location)
    assert due is not None
    _later(house, due - start - 1, name)
    assert value(house.tree, PORCH) is False
    _later(house, 1, name)
    wait_value(house.tree, PORCH, True)
    house.answered(name)
    _at(house, "2023-11-15T23:00:00", name)
    wait_value(house.tree, PORCH, False)
    house.answered(name)
    assert house.changes(PORCH) == [True, False]
    assert value(house.tree, f"/scenario/{name}/last_error") is None


def test_the_porch_light_stays_off_when_a_far_north_sunset_comes_after_23() -> None:
    """Far north, a summer sunset is near midnight or past it (Tromsø, late July:
    00:30): its `sunset -15m` at 00:15 switched the porch on after the 23:00 off,
    until the next evening, while the recipe's condition said it kept a sunset
    after 23:00 out."""
    porch = load_scenario(RECIPES["porch-light"])
    for hour, minute, on in (
        (0, 15, False),
        (23, 40, False),
        (21, 5, True),
        (12, 0, True),
    ):
        h = harness(porch)
        h.wall = datetime(2026, 7, 27, hour, minute, tzinfo=UTC).timestamp()
        sent = requests(h.feed(h.core.on_time(0, h.wall, h.mono, h.wall)))
        assert bool(sent) is on, f"{hour:02}:{minute:02}"


# --- 9. a device gone offline -----------------------------------------------------------------
def test_a_device_gone_offline_is_told_once_and_once_back(house: House) -> None:
    house.start(*SWITCHES)
    name = "offline-alert"
    _import(house, name)
    alert = "/event/house/device-status"
    freezer = "/device/cellar.onewire.freezer/status"
    garden = "/device/shed.gpio.rain/status"
    for status in (freezer, garden):
        house.reading(status, "ok", name)  # a new device: not "back"
    house.reading(freezer, "offline", name)
    house.reading(garden, "no_answer", name)
    house.reading(freezer, "offline", name)  # marked again: no change
    house.reading(freezer, "missing", name)  # another bad status: not told again
    house.reading(freezer, "ok", name)
    house.reading(freezer, "ok", name)
    house.reading(garden, "ok", name)
    wait_value(house.tree, f"/scenario/{name}/runs", 6)
    wait_until(lambda: len(house.changes(alert)) == 4, what="four alerts")
    told: JsonValue = [
        {"key": freezer, "status": "offline", "was": "ok"},
        {"key": garden, "status": "no_answer", "was": "ok"},
        {"key": freezer, "status": "ok", "was": "missing"},
        {"key": garden, "status": "ok", "was": "no_answer"},
    ]
    assert house.changes(alert) == told
    assert value(house.tree, f"/scenario/{name}/last_error") is None


def test_a_board_gone_is_told_once_however_many_devices_it_has(house: House) -> None:
    """The board's key written as raspyd writes it: the offline marker, fed by the
    broker's availability of the board's real MDP worker, marks its readings and
    the key together; the per-device recipe beside it tells each device."""
    house.start(*SWITCHES)
    names = ("board-offline-alert", "offline-alert")
    _import(house, *names)
    core = house.core
    marker = Marker(core.edge, core.server.ref, core.store, core.clock, GRACE_S)
    board = Board(marker, "cellar.onewire.devices")
    key = "/board/cellar.onewire/status"
    statuses = [f"/device/cellar.onewire.{name}/status" for name in CELLAR]
    try:
        for status in statuses:
            house.reading(status, "ok", *names)
        board.up()
        _settled(house, key, "online", *names)  # a new board: not "back"
        board.down()
        marker.advance(GRACE_S)  # the readings and the board marked offline
        _settled(house, key, "offline", *names)
        for status in statuses:
            _settled(house, status, "offline", *names)
        board.up()
        _settled(house, key, "online", *names)
        for status in statuses:  # raspy-poller back sends its readings again
            house.reading(status, "ok", *names)
        board.down()
        # retired for good: `raspy-kv del` of its key tells nothing
        core.server.publisher.set(key.encode(), b"")
        tree_view = core.ref.proxy().tree.get()  # type: ignore[union-attr]
        wait_until(lambda: tree_view.kv(key) is None, what="the core sees it gone")
        house.tick(*names)
    finally:
        board.close()
        marker.stop()
    wait_value(house.tree, "/scenario/board-offline-alert/runs", 2)
    # each device: new (not told), gone, back
    wait_value(house.tree, "/scenario/offline-alert/runs", 3 * len(CELLAR))
    told = "/event/house/board-status"
    wait_until(lambda: len(house.changes(told)) == 2, what="two board alerts")
    assert house.changes(told) == [
        {"board": key, "status": "offline"},
        {"board": key, "status": "online"},
    ]
    wait_until(
        lambda: len(house.changes("/event/house/device-status")) == 2 * len(CELLAR),
        what="each device told gone and back",
    )
    for name in names:
        assert value(house.tree, f"/scenario/{name}/last_error") is None


def _settled(house: House, key: str, expected: JsonValue, *names: str) -> None:
    """`key` is `expected` in the tree (written by the hub), and the core and the
    scenarios `names` have seen it."""
    wait_value(house.tree, key, expected)
    house.settle(key, json.dumps(expected).encode(), *names)


# --- 10. thermostat schedule with a manual override -------------------------------------------
def test_a_manual_setpoint_holds_2_hours_then_the_schedule_is_back(
    house: House,
) -> None:
    house.start(*SWITCHES)
    _import(house, "heat-schedule", "heat-manual")
    names = ("heat-schedule", "heat-manual")
    setpoint = "/house/living/setpoint"
    _at(house, "2023-11-15T06:30:00", *names)
    wait_value(house.tree, setpoint, 21)
    _at(house, "2023-11-15T21:30:00", *names)
    house.event("/event/thermostat/set", 23, *names)
    wait_value(house.tree, setpoint, 23)
    wait_value(house.tree, "/house/living/manual", True)
    _at(house, "2023-11-15T22:30:00", *names)  # the schedule waits
    skip = wait_until(
        lambda: house.core.request("get", name="heat-schedule")[1]["last_skip"],
        what="the schedule's skipped 22:30",
    )
    # what `raspy scenario show heat-schedule` says under "last skipped"
    assert skip["reason"] == "condition 1 is false: kv('/house/living/manual') != true"
    assert value(house.tree, setpoint) == 23
    _at(house, "2023-11-15T23:00:00", *names)
    house.event("/event/thermostat/set", 22.5, *names)  # the 2 hours start again
    wait_value(house.tree, setpoint, 22.5)
    _at(house, "2023-11-15T23:30:00", *names)  # the first setting's end: no change
    assert value(house.tree, setpoint) == 22.5
    # the same setting again extends the hold: 2 hours from now
    _at(house, "2023-11-16T00:30:00", *names)
    house.event("/event/thermostat/set", 22.5, *names)
    wait_value(house.tree, "/scenario/heat-manual/runs", 3)
    _at(house, "2023-11-16T01:00:00", *names)  # the second setting's end
    assert value(house.tree, setpoint) == 22.5
    _at(house, "2023-11-16T02:30:00", *names)
    wait_value(house.tree, setpoint, 17)
    wait_value(house.tree, "/house/living/manual", None)
    assert house.changes(setpoint) == [21, 23, 22.5, 22.5, 17]
    for name in names:
        assert value(house.tree, f"/scenario/{name}/last_error") is None


# --- across a restart of raspyd ------------------------------------------------------------
def test_after_a_restart_the_recipes_pick_up_where_the_house_is(house: House) -> None:
    """raspyd restarts (an update, a power cut) with the hall light on and no motion,
    the back door open and the setpoint unset: the light still goes off, the door is
    still told, and the schedule sets the setpoint of the time of day."""
    house.start(*SWITCHES)
    _import(house, "hall-motion", "door-left-open", "heat-schedule")
    house.reading(MOTION, True, "hall-motion")
    wait_value(house.tree, HALL, 80)
    house.answered("hall-motion")
    house.reading(MOTION, False, "hall-motion")
    house.reading(BACKDOOR, True, "door-left-open")
    _later(house, 120, "hall-motion", "door-left-open")
    house.restart()
    wait_value(house.tree, "/house/living/setpoint", 17)  # 23:15 on a Tuesday
    names = ("hall-motion", "door-left-open")
    # the 2 minutes before the stop are not known: 5 minutes from the start
    _later(house, 299, *names)
    assert value(house.tree, HALL) == 80
    _later(house, 1, *names)
    wait_value(house.tree, HALL, 0)
    house.answered("hall-motion")
    _later(house, 300, *names)
    wait_value(
        house.tree,
        "/event/house/door-left-open",
        {"door": "back", "at": "2023-11-14T23:25:20+01:00"},
    )


# --- 11. tell my phone ---------------------------------------------------------------------
@pytest.fixture(name="phone")
def phone_fixture(house: House) -> Iterator[HttpServer]:
    """ntfy, where the phone's messages go: a server on 127.0.0.1, and the hub's
    `<host>.http` service that the recipe's requests go through; the secrets file
    names the topic the recipe takes from it (the server's `/ok`)."""
    secrets = house.folder / "secrets.toml"
    secrets.write_text('ntfy_topic = "ok"\n', encoding="utf-8")
    house.core.secrets = SecretsFile(secrets)
    with served_http(house) as server:
        yield server


def _told_by_phone(house: House, phone: HttpServer) -> str:
    """The recipe as the page writes it, its URLs pointed at the test's server
    instead of ntfy.sh (nothing leaves 127.0.0.1), the topic from the secrets file."""
    text = RECIPES["tell-my-phone"]
    url = "https://ntfy.sh/{secret.ntfy_topic}"
    assert text.count(url) == 2
    return house.imported(
        "tell-my-phone.yaml", text.replace(url, f"{phone.url}/{{secret.ntfy_topic}}")
    )


def _hm(wall_ts: float) -> str:
    """A time as the recipe's `{trigger.since:%H:%M}` writes it (the hub's zone)."""
    return datetime.fromtimestamp(wall_ts, ZONE).strftime("%H:%M")


def test_my_phone_is_told_once_of_a_warm_freezer_and_of_a_door_left_open(
    house: House, phone: HttpServer
) -> None:
    house.start(*SWITCHES)
    name = _told_by_phone(house, phone)
    house.reading(FREEZER, -18.0, name)
    house.reading(FREEZER, -11.5, name)  # too warm: the 10 minutes start
    _later(house, 300, name)
    house.reading(FREEZER, -14.0, name)  # cold again within them: nothing
    house.reading(FREEZER, -11.5, name)  # warm since now (23:18 in Berlin)
    warm_since = house.core.clock.wall()
    house.reading(FREEZER, -10.96, name)
    _later(house, 599, name)
    assert phone.taken() == []
    _later(house, 1, name)
    told = phone.take()
    house.answered(name)
    assert (told.method, told.path, told.body.decode()) == (
        "POST",
        "/ok",
        f"The freezer is at -11.0 °C, above -12 °C since {_hm(warm_since)}",
    )
    assert _hm(warm_since) == "23:18"  # the clock starts at 23:13:20 in Berlin
    shown = ("title", "priority", "tags", "content-type")
    assert {header: told.headers[header] for header in shown} == {
        "title": "Freezer warm",
        "priority": "4",
        "tags": "snowflake",
        "content-type": "text/plain; charset=utf-8",
    }
    _later(house, 3600, name)  # still warm an hour later: told once
    house.reading(BACKDOOR, False, name)
    house.reading(BACKDOOR, True, name)
    _later(house, 300, name)
    house.reading(BACKDOOR, False, name)  # closed after 5 minutes: nothing
    house.reading(BACKDOOR, True, name)
    open_since = house.core.clock.wall()
    _later(house, 600, name)
    door = phone.take()
    house.answered(name)
    assert (door.body.decode(), door.headers["title"]) == (
        f"The back door has been open since {_hm(open_since)}",
        "Door left open",
    )
    wait_value(house.tree, f"/scenario/{name}/runs", 2)
    assert phone.taken() == []
    assert value(house.tree, f"/scenario/{name}/last_error") is None


# --- 12. one wall button, three things -------------------------------------------------------
def test_the_hall_button_toggles_switches_all_off_or_leaves_by_its_gesture(
    house: House,
) -> None:
    """The gpio service's gesture events (one per press, whatever the press) each
    start one run; the run does what the page says that gesture does."""
    house.start(*SWITCHES)
    _import(house, "all-off", "away-mode", "hall-button")
    button = f"/event/{HOST}.gpio.button"
    wait_value(house.tree, LAMP, False)
    house.event(f"{button}/single", house.core.clock.wall(), "hall-button")
    wait_value(house.tree, LAMP, True)
    wait_value(house.tree, "/scenario/hall-button/runs", 1)
    _switch(house, "porch", "on")
    house.event(f"{button}/double", house.core.clock.wall(), "hall-button")
    wait_value(house.tree, "/house/all-off", "2023-11-14T23:13:20+01:00")
    wait_value(house.tree, LAMP, False)
    wait_value(house.tree, PORCH, False)
    assert value(house.tree, "/house/away") is None
    house.advance(2)
    house.event(f"{button}/long", house.core.clock.wall(), "hall-button")
    wait_value(house.tree, "/house/away", True)
    wait_value(house.tree, "/scenario/hall-button/runs", 3)
    assert value(house.tree, "/scenario/hall-button/last_error") is None


# --- 13. a thermostat you can set ------------------------------------------------------
def test_the_heater_follows_the_setpoint_in_the_tree_once_a_crossing(
    house: House,
) -> None:
    house.start(*SWITCHES)
    name = "heat-setpoint"
    setpoint = "/house/living/setpoint"
    house.reading(LIVING, 20.0)
    house.reading(setpoint, 20.0)
    _import(house, name)
    house.reading(setpoint, 21.0, name)  # raised: the room is cold now
    wait_value(house.tree, LAMP, True)
    # its own switch fires the relay's trigger: the same command again, no change
    wait_value(house.tree, f"/scenario/{name}/runs", 2)
    house.answered(name)
    for reading in (20.2, 20.4, 21.0, 21.4):  # still cold, then in the band
        house.reading(LIVING, reading, name)
    house.reading(LIVING, 21.6, name)
    wait_value(house.tree, LAMP, False)
    wait_value(house.tree, f"/scenario/{name}/runs", 4)
    house.answered(name)
    house.reading(setpoint, 21.5, name)  # the band moves with it: nothing
    house.reading(LIVING, None, name)  # the sensor gone: no value, told once
    wait_value(house.tree, f"/scenario/{name}/state", "error")
    house.reading(LIVING, 20.5, name)  # back, and cold: false before the gap
    wait_value(house.tree, LAMP, True)
    wait_value(house.tree, f"/scenario/{name}/runs", 6)
    house.answered(name)
    assert house.changes(LAMP) == [True, False, True]


def test_the_heater_comes_on_again_whatever_switched_it_off_in_a_cold_room(
    house: House,
) -> None:
    """Written with the ids as its commands, the thermostat stayed off for good
    once away mode (through all-off) or a hand switched its relay off: the room
    was still below the setpoint, so its test never *became* true again, and the
    house came home to a cold room."""
    house.start(*SWITCHES)
    name = "heat-setpoint"
    setpoint = "/house/living/setpoint"
    house.reading(LIVING, 20.0)
    house.reading(setpoint, 20.0)
    _import(house, "all-off", "away-mode", name)
    house.reading(setpoint, 21.0, name)  # the room is cold now
    wait_value(house.tree, LAMP, True)
    house.answered(name)
    house.event("/event/house/leaving", True, "away-mode")  # away: all off
    wait_value(house.tree, "/house/away", True)
    wait_value(house.tree, "/scenario/all-off/runs", 1)
    wait_value(house.tree, LAMP, False)
    house.answered("all-off")
    house.answered(name)
    assert value(house.tree, LAMP) is False  # away: it stays off
    house.event("/event/house/home", True, "away-mode")  # home, the room cold
    wait_value(house.tree, "/house/away", False)
    wait_value(house.tree, LAMP, True)
    house.answered(name)
    _switch(house, "lamp", "off")  # a hand on the web face, or the relay's max_on_s
    switched = [True, False, True, False, True]
    wait_until(lambda: house.changes(LAMP) == switched, what="the heater on again")
    house.answered(name)
    assert house.changes(LAMP) == switched
    assert value(house.tree, f"/scenario/{name}/last_error") is None
