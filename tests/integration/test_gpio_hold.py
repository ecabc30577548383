"""A GPIO switch's min_on_s and min_off_s in the `gpio` service, over a real edge,
Clone server and Store on gpiozero's mock pins, with a fake clock: a command that
would switch a relay (and the compressor or pump behind it) too soon is held,
answered at once, and carried out when the limit ends; the latest command wins; the
daemon's own switch-offs and `reset` are never held and drop what was.

What must not happen (a held change carried out after all) is shown by a second
switch, `pump`, held the same way a second later: once the alarm has switched it,
it has passed the compressor's time too."""

from __future__ import annotations

from typing import Any

import pytest
from structlog.testing import capture_logs
from support.clock import FakeClock
from support.device_services import (
    HOST,
    server_fixture,  # noqa: F401  # fixture `server`
    tree_fixture,  # noqa: F401  # fixture `tree`
    wait_entry,
)
from support.gpio_service import (
    Gpio,
    gpio_fixture,  # noqa: F401  # fixture `gpio`
)
from support.wait import wait_until

from raspy.client.clone import CloneClient

COMPRESSOR = {
    "name": "compressor",
    "oid": "switch",
    "pin": 17,
    "min_on_s": 60.0,
    "min_off_s": 300.0,
}
# due a second after the compressor: the alarm carries the compressor's out first
PUMP = {"name": "pump", "oid": "switch", "pin": 27, "min_off_s": 301.0}
WALL = 1_700_000_000.0  # the FakeClock's wall time at its start


def _reading(value: bool, at_s: float) -> dict[str, Any]:
    """The reply's reading, `at_s` after the fake clock's start."""
    return {
        "value": value,
        "unit": "",
        "status": "ok",
        "wall_ts": WALL + at_s,
        "detail": "",
    }


def _held(
    action: str, value: bool, at_s: float, state: bool, in_s: float, detail: str
) -> tuple[bytes, dict[str, Any]]:
    return (
        b"200",
        {
            "v": 1,
            "action": action,
            "device": "compressor",
            "reading": _reading(value, at_s),
            "pending": {"state": state, "in_s": in_s, "detail": detail},
        },
    )


def _start(gpio: Gpio, *entries: dict[str, Any], restarting: bool = False) -> None:
    """Started, and its start done (pykka runs on_start on the actor's thread: a
    request is answered after it), before the test moves the clock."""
    gpio.start(*entries, restarting=restarting)
    assert gpio.request(action="get", device=entries[0]["name"])[0] == b"200"


@pytest.fixture
def clocked(gpio: Gpio) -> tuple[Gpio, FakeClock]:
    clock = FakeClock()
    gpio.clock = clock
    return gpio, clock


def _wait_counted(gpio: Gpio, **counts: int) -> None:
    """The counters `devices.gpio.<name>` reach these (counted after the pin)."""

    def counted() -> dict[str, float]:
        snapshot = gpio.stats.snapshot()
        return {name: snapshot.get(f"devices.gpio.{name}", 0) for name in counts}

    wait_until(lambda: counted() == counts, what=f"counted {counts}")


def _pump_switched(gpio: Gpio, clock: FakeClock, seconds: float) -> None:
    """The clock moved on by `seconds`, past the pump's held `on`, and the alarm
    has carried it out (and with it whatever else was due by then)."""
    clock.advance(seconds)
    wait_until(lambda: gpio.pins.level("GPIO27"), what="the pump's held on")


def test_an_on_sooner_than_min_off_s_is_held_and_switches_by_itself_when_it_is_up(
    clocked: tuple[Gpio, FakeClock],
) -> None:
    """The freezer: its thermostat's `on` 40 s after the compressor stopped (an
    output that starts off counts as off since the start) was refused, and no
    second `on` came. Now it is answered at once, 200 with what is pending, and
    the compressor starts when min_off_s ends; a second `on` keeps its time."""
    gpio, clock = clocked
    _start(gpio, COMPRESSOR)
    clock.advance(40)
    with capture_logs() as logs:
        assert gpio.request(action="on", device="compressor") == _held(
            "on", False, 40, True, 260.0, "off for 40s of min_off_s 300s: on in 260s"
        )
        clock.advance(10)
        assert gpio.request(action="set", device="compressor", value=True) == _held(
            "set", False, 50, True, 250.0, "off for 50s of min_off_s 300s: on in 250s"
        )
    assert gpio.pins.level("GPIO17") is False
    assert [e for e in logs if e["event"] == "device_switch_held"] == [
        {
            "component": "gpio",
            "event": "device_switch_held",
            "log_level": "info",
            "device": f"{HOST}.gpio.compressor",
            "action": "on",
            "reason": "off for 40s of min_off_s 300s: on in 260s",
        }
    ]
    clock.advance(249.9)
    status, reply = gpio.request(action="get", device="compressor")
    assert (status, reply["reading"]["value"], gpio.pins.level("GPIO17")) == (
        b"200",
        False,
        False,
    )
    clock.advance(0.1)
    wait_until(lambda: gpio.pins.level("GPIO17"), what="the held on")
    _wait_counted(gpio, held=2, held_done=1)


def test_a_get_says_what_is_held_until_it_is_carried_out(
    clocked: tuple[Gpio, FakeClock],
) -> None:
    """`raspy device pi.gpio.compressor get` after a restart (or from a second
    terminal) said `false` alone, as if the `on` had been lost: the `get` reply
    carries the pending change as a held command's reply does, timed as of the
    `get`, and none once the switch got there. (Its reading then may still be a
    poll's taken at that same instant of the frozen fake clock: not compared.)"""
    gpio, clock = clocked
    _start(gpio, COMPRESSOR)
    clock.advance(40)
    assert gpio.request(action="on", device="compressor")[1]["pending"]["in_s"] == 260
    clock.advance(100)
    status, reply = gpio.request(action="get", device="compressor")
    assert (status, reply["reading"]["value"], reply["pending"]) == (
        b"200",
        False,
        {
            "state": True,
            "in_s": 160.0,
            "detail": "off for 140s of min_off_s 300s: on in 160s",
        },
    )
    assert (reply["fullname"], reply["errors"]) == (f"{HOST}.gpio.compressor", 0)
    clock.advance(160)
    wait_until(lambda: gpio.pins.level("GPIO17"), what="the held on")
    wait_until(
        lambda: "pending" not in gpio.request(action="get", device="compressor")[1],
        what="a get without the change carried out",
    )


def test_the_held_change_is_published_as_any_switch_is(
    gpio: Gpio, tree: CloneClient
) -> None:
    """On the real clock (a poll read before a switch is stale only by its time)."""
    _start(gpio, {**COMPRESSOR, "min_off_s": 0.3})
    wait_entry(tree, f"{HOST}.gpio.compressor", "value", False)
    status, reply = gpio.request(action="on", device="compressor")
    assert (status, reply["pending"]["state"]) == (b"200", True)
    wait_entry(tree, f"{HOST}.gpio.compressor", "value", True)
    assert gpio.pins.level("GPIO17") is True


def test_an_off_while_off_cancels_the_held_on(
    clocked: tuple[Gpio, FakeClock],
) -> None:
    """The latest command wins: the thermostat said `off` again before the
    compressor could start, so it does not start."""
    gpio, clock = clocked
    _start(gpio, COMPRESSOR, PUMP)
    clock.advance(40)
    assert gpio.request(action="on", device="compressor")[0] == b"200"
    assert gpio.request(action="on", device="pump")[0] == b"200"
    assert gpio.request(action="off", device="compressor") == (
        b"200",
        {
            "v": 1,
            "action": "off",
            "device": "compressor",
            "reading": _reading(False, 40),
        },
    )
    _pump_switched(gpio, clock, 261)
    assert gpio.pins.level("GPIO17") is False
    _wait_counted(gpio, held=2, held_done=1)  # the pump's


def test_toggle_flips_where_the_switch_is_headed_and_a_toggle_loop_clicks_once(
    clocked: tuple[Gpio, FakeClock],
) -> None:
    """A scenario's `repeat` with `wait: 1ms` and a `toggle`: one click now, every
    other toggle held and the next one cancelling it; the last one wins when
    min_on_s ends, as one more click. Every answer is 200."""
    gpio, clock = clocked
    _start(gpio, {**COMPRESSOR, "min_off_s": 0.0})
    replies = []
    for _ in range(4):
        status, reply = gpio.request(action="toggle", device="compressor")
        replies.append((status, reply["reading"]["value"], reply.get("pending")))
        clock.advance(0.001)
    held_off = {
        "state": False,
        "in_s": 60.0,
        "detail": "on for 0s of min_on_s 60s: off in 60s",
    }
    assert replies == [
        (b"200", True, None),
        (b"200", True, held_off),
        (b"200", True, None),
        (b"200", True, held_off),
    ]
    assert gpio.pins.level("GPIO17") is True
    clock.advance(60)
    wait_until(lambda: not gpio.pins.level("GPIO17"), what="the held off")
    _wait_counted(gpio, held=2, held_done=1)


def test_max_on_s_switches_off_whatever_is_held_and_starts_the_time_off(
    clocked: tuple[Gpio, FakeClock],
) -> None:
    """Safety first: the daemon's own switch-off is never held, and drops the
    `off` held by min_on_s; an `on` right after it is held for min_off_s."""
    gpio, clock = clocked
    _start(
        gpio, {**COMPRESSOR, "min_on_s": 600.0, "min_off_s": 300.0, "max_on_s": 30.0}
    )
    clock.advance(300)
    assert gpio.request(action="on", device="compressor")[0] == b"200"
    clock.advance(10)
    assert gpio.request(action="off", device="compressor") == _held(
        "off", True, 310, False, 590.0, "on for 10s of min_on_s 600s: off in 590s"
    )
    clock.advance(20)
    wait_until(lambda: not gpio.pins.level("GPIO17"), what="the max_on_s switch-off")
    wait_until(
        lambda: gpio.stats.snapshot().get("devices.gpio.max_on_expired") == 1,
        what="the switch-off counted",
    )
    clock.advance(1)
    assert gpio.request(action="on", device="compressor") == _held(
        "on", False, 331, True, 299.0, "off for 1s of min_off_s 300s: on in 299s"
    )
    clock.advance(299)
    wait_until(lambda: gpio.pins.level("GPIO17"), what="the held on")
    _wait_counted(gpio, held=2, held_done=1)


def test_a_reset_drops_the_held_on_and_a_reload_keeps_it_on_the_new_limits(
    clocked: tuple[Gpio, FakeClock],
) -> None:
    """`reset` is the way back to the safe state: what was held goes. A reload
    (the service restarting in the daemon) keeps an `on` it answered 200, timed
    by the limits the new config has: a shorter min_off_s starts it sooner."""
    gpio, clock = clocked
    _start(gpio, COMPRESSOR, PUMP, restarting=True)
    clock.advance(40)
    assert gpio.request(action="on", device="compressor")[0] == b"200"
    assert gpio.request(action="on", device="pump")[0] == b"200"
    status, reply = gpio.request(action="reset", device="compressor")
    assert (status, reply["reset"]) == (b"200", ["compressor"])
    _pump_switched(gpio, clock, 261)
    assert gpio.pins.level("GPIO17") is False

    assert gpio.request(action="off", device="pump")[0] == b"200"  # off since 301
    clock.advance(60)
    assert gpio.request(action="on", device="pump")[1]["pending"]["in_s"] == 241.0
    gpio.stop()  # a reload: the pin and what is held stay for the next start
    _start(gpio, {**PUMP, "min_off_s": 600.0}, COMPRESSOR, restarting=True)
    assert gpio.request(action="on", device="pump")[1]["pending"]["in_s"] == 540.0
    gpio.stop()
    _start(gpio, {**PUMP, "min_off_s": 45.0}, COMPRESSOR, restarting=True)
    wait_until(lambda: gpio.pins.level("GPIO27"), what="the held on, due at start")


def test_a_config_change_over_mdp_times_the_held_change_anew(
    clocked: tuple[Gpio, FakeClock],
) -> None:
    gpio, clock = clocked
    _start(gpio, COMPRESSOR)
    clock.advance(40)
    assert gpio.request(action="on", device="compressor")[0] == b"200"
    status, reply = gpio.request(
        action="config", device="compressor", value={"min_off_s": 30}
    )
    assert status == b"200", reply
    wait_until(lambda: gpio.pins.level("GPIO17"), what="the held on, due now")


def test_a_service_stop_drops_the_held_change(
    clocked: tuple[Gpio, FakeClock],
) -> None:
    """raspyd stops (on_stop = keep leaves the pin as it is): a held change is in
    memory only, and a new start does not carry it out."""
    gpio, clock = clocked
    keep = {**COMPRESSOR, "on_stop": "keep"}
    _start(gpio, keep, PUMP)
    clock.advance(40)
    assert gpio.request(action="on", device="compressor")[0] == b"200"
    gpio.stop()
    _start(gpio, keep, PUMP)
    clock.advance(1)
    assert gpio.request(action="on", device="pump")[0] == b"200"
    _pump_switched(gpio, clock, 300)
    assert gpio.pins.level("GPIO17") is False
