"""A GPIO switch's min_on_s and min_off_s in the `gpio` service, over a real edge,
Clone server and Store on gpiozero's mock pins, with a fake clock: a command that
would switch a relay (and the compressor or pump behind it) too soon is refused with
409 `too_soon`, the daemon's own switch-offs never are."""

from __future__ import annotations

from typing import Any

import pytest
from structlog.testing import capture_logs
from support.clock import FakeClock
from support.device_services import (
    HOST,
    server_fixture,  # noqa: F401  # fixture `server`
    tree_fixture,  # noqa: F401  # fixture `tree`
)
from support.gpio_service import (
    Gpio,
    gpio_fixture,  # noqa: F401  # fixture `gpio`
)
from support.wait import wait_until

COMPRESSOR = {
    "name": "compressor",
    "oid": "switch",
    "pin": 17,
    "min_on_s": 60.0,
    "min_off_s": 300.0,
}


def _refusal(action: str, detail: str) -> tuple[bytes, dict[str, Any]]:
    return (
        b"409",
        {"v": 1, "action": action, "error": "too_soon", "detail": detail},
    )


def _start(gpio: Gpio, entry: dict[str, Any], *, restarting: bool = False) -> None:
    """Started, and its start done (pykka runs on_start on the actor's thread: a
    request is answered after it), before the test moves the clock."""
    gpio.start(entry, restarting=restarting)
    assert gpio.request(action="get", device=entry["name"])[0] == b"200"


@pytest.fixture
def clocked(gpio: Gpio) -> tuple[Gpio, FakeClock]:
    clock = FakeClock()
    gpio.clock = clock
    return gpio, clock


def test_an_on_sooner_than_min_off_s_after_the_start_is_refused_until_it_is_up(
    clocked: tuple[Gpio, FakeClock],
) -> None:
    """An output that starts off counts as off since the start: a power cut or a
    restart stopped the compressor only just (as a thermostat waits after power
    comes back). The pin never moves while refused; the detail says how long."""
    gpio, clock = clocked
    _start(gpio, COMPRESSOR)
    clock.advance(40)
    assert gpio.request(action="on", device="compressor") == _refusal(
        "on", "off for 40s of min_off_s 300s: on in 260s"
    )
    assert gpio.request(action="set", device="compressor", value=True) == _refusal(
        "set", "off for 40s of min_off_s 300s: on in 260s"
    )
    assert gpio.pins.level("GPIO17") is False
    status, reply = gpio.request(action="off", device="compressor")  # no change
    assert (status, reply["reading"]["value"]) == (b"200", False)
    clock.advance(260)
    status, reply = gpio.request(action="on", device="compressor")
    assert (status, reply["reading"]["value"]) == (b"200", True)
    assert gpio.pins.level("GPIO17") is True


def test_an_off_sooner_than_min_on_s_is_refused_and_then_an_on_until_min_off_s(
    clocked: tuple[Gpio, FakeClock],
) -> None:
    gpio, clock = clocked
    _start(gpio, {**COMPRESSOR, "min_off_s": 0.0})
    assert gpio.request(action="on", device="compressor")[0] == b"200"
    clock.advance(10)
    assert gpio.request(action="off", device="compressor") == _refusal(
        "off", "on for 10s of min_on_s 60s: off in 50s"
    )
    status, reply = gpio.request(action="on", device="compressor")  # on already
    assert (status, reply["reading"]["value"]) == (b"200", True)
    assert gpio.pins.level("GPIO17") is True
    clock.advance(50)
    assert gpio.request(action="off", device="compressor")[0] == b"200"
    assert gpio.pins.level("GPIO17") is False
    status, reply = gpio.request(
        action="config", device="compressor", value={"min_off_s": 300}
    )
    assert status == b"200", reply
    clock.advance(100)  # counted from the switch-off, set after it or not
    assert gpio.request(action="on", device="compressor") == _refusal(
        "on", "off for 100s of min_off_s 300s: on in 200s"
    )


def test_a_toggle_loop_clicks_the_relay_once_and_is_refused_after(
    clocked: tuple[Gpio, FakeClock],
) -> None:
    """A scenario's `repeat` with `wait: 1ms` and a `toggle`: one click, not a
    thousand a second; the refusals are counted and logged once, not each."""
    gpio, clock = clocked
    _start(gpio, {**COMPRESSOR, "min_off_s": 0.0})
    with capture_logs() as logs:
        replies = []
        for _ in range(5):
            replies.append(gpio.request(action="toggle", device="compressor")[0])
            clock.advance(0.001)
    assert replies == [b"200"] + [b"409"] * 4
    assert gpio.request(action="toggle", device="compressor") == _refusal(
        "toggle", "on for 0s of min_on_s 60s: off in 60s"
    )
    assert gpio.pins.level("GPIO17") is True
    assert gpio.stats.snapshot()["devices.gpio.too_soon"] == 5
    assert [e for e in logs if e["event"] == "device_switch_too_soon"] == [
        {
            "component": "gpio",
            "event": "device_switch_too_soon",
            "log_level": "warning",
            "device": f"{HOST}.gpio.compressor",
            "action": "toggle",
            "reason": "on for 0s of min_on_s 60s: off in 60s",
        }
    ]
    clock.advance(60)
    status, reply = gpio.request(action="toggle", device="compressor")
    assert (status, reply["reading"]["value"]) == (b"200", False)


def test_max_on_s_switches_off_whatever_min_on_s_says_and_starts_the_time_off(
    clocked: tuple[Gpio, FakeClock],
) -> None:
    """Safety first: the daemon's own switch-off is never held; it is a change as
    any other, so an `on` right after it waits for min_off_s."""
    gpio, clock = clocked
    _start(
        gpio, {**COMPRESSOR, "min_on_s": 600.0, "min_off_s": 300.0, "max_on_s": 30.0}
    )
    clock.advance(300)
    assert gpio.request(action="on", device="compressor")[0] == b"200"
    clock.advance(30)
    wait_until(lambda: not gpio.pins.level("GPIO17"), what="the max_on_s switch-off")
    wait_until(
        lambda: gpio.stats.snapshot().get("devices.gpio.max_on_expired") == 1,
        what="the switch-off counted",
    )
    clock.advance(1)
    assert gpio.request(action="on", device="compressor") == _refusal(
        "on", "off for 1s of min_off_s 300s: on in 299s"
    )


def test_a_reset_switches_off_at_once_and_the_service_restart_keeps_the_time(
    clocked: tuple[Gpio, FakeClock],
) -> None:
    """`reset` is the way back to the safe state, never held; a reload (the
    service restarting in the daemon) goes on from the last change, as max_on_s
    does."""
    gpio, clock = clocked
    _start(gpio, {**COMPRESSOR, "min_off_s": 0.0}, restarting=True)
    assert gpio.request(action="on", device="compressor")[0] == b"200"
    clock.advance(5)
    gpio.stop()  # a reload: the pin stays on for the next start
    _start(gpio, {**COMPRESSOR, "min_off_s": 0.0}, restarting=True)
    clock.advance(5)
    assert gpio.request(action="off", device="compressor") == _refusal(
        "off", "on for 10s of min_on_s 60s: off in 50s"
    )
    status, reply = gpio.request(action="reset", device="compressor")
    assert (status, reply["reset"]) == (b"200", ["compressor"])
    assert gpio.pins.level("GPIO17") is False
