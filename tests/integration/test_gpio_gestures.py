"""A button's single, double and long presses (`double_press_s`, `long_press_s`):
the `gpio` service over a real edge, Clone server and Store, on gpiozero's mock
pins, with a fake clock that the service's alarm follows."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from support.clock import FakeClock
from support.clonesrv import CloneServer
from support.device_services import (
    HOST,
    server_fixture,  # noqa: F401  # fixture `server`
    tree_fixture,  # noqa: F401  # fixture `tree`
)
from support.device_services import wait_entry as _wait_entry
from support.gpio_service import (
    Gpio,
    gpio_fixture,  # noqa: F401  # fixture `gpio`
)
from support.wait import wait_until

from raspy.client.clone import CloneClient
from raspy.devices.gpio_tree import gesture_key, pressed_key

pytestmark = pytest.mark.timeout(60)

WALL = 1_700_000_000.0  # the FakeClock's wall time at its start
FULLNAME = f"{HOST}.gpio.button"
BUTTON = {
    "name": "button",
    "oid": "sensor.binary",
    "pin": 27,
    "bounce_time_s": 0.0,
    "double_press_s": 0.5,
    "long_press_s": 1.5,
}


@pytest.fixture
def events(zmq_context: Any, server: CloneServer) -> Iterator[CloneClient]:
    client = CloneClient(server.endpoints, b"/event/", context=zmq_context)
    client.wait_synced()
    yield client
    client.close()


@pytest.fixture
def clock(gpio: Gpio) -> FakeClock:
    clock = FakeClock()
    gpio.clock = clock
    return clock


def _said(events: CloneClient) -> dict[str, float]:
    """The button's events in the tree: name -> the wall time it was said at."""
    found: dict[str, float] = {}
    for what in ("pressed", "single", "double", "long"):
        body = events.get(gesture_key(FULLNAME, what).encode())
        if body is not None:
            found[what] = round(json.loads(body) - WALL, 3)
    return found


def _wait_said(events: CloneClient, expected: dict[str, float], what: str) -> None:
    wait_until(lambda: _said(events) == expected, what=what)


def _down(gpio: Gpio, tree: CloneClient) -> None:
    gpio.pins.drive("GPIO27", high=False)  # pull-up: a press pulls it low
    _wait_entry(tree, FULLNAME, "value", True)


def _up(gpio: Gpio, tree: CloneClient) -> None:
    gpio.pins.drive("GPIO27", high=True)
    _wait_entry(tree, FULLNAME, "value", False)


def test_a_single_a_double_a_long_and_a_quick_press_after_a_long_one(
    gpio: Gpio, clock: FakeClock, tree: CloneClient, events: CloneClient
) -> None:
    gpio.start(BUTTON)
    _wait_entry(tree, FULLNAME, "value", False)
    assert pressed_key(FULLNAME) == gesture_key(FULLNAME, "pressed")

    _down(gpio, tree)  # a single: said when the window after its release ends
    clock.advance(0.1)
    _up(gpio, tree)
    _wait_said(events, {"pressed": 0.0}, "the press, and no single yet")
    clock.advance(0.5)
    _wait_said(events, {"pressed": 0.0, "single": 0.6}, "the single")

    clock.advance(10)  # t = 10.6: a double, said as its second press starts
    _down(gpio, tree)
    clock.advance(0.1)
    _up(gpio, tree)
    clock.advance(0.3)
    _down(gpio, tree)
    _wait_said(events, {"pressed": 11.0, "single": 0.6, "double": 11.0}, "the double")
    clock.advance(2)  # held on: no long; released: no single
    _up(gpio, tree)
    clock.advance(1)

    clock.advance(10)  # t = 24: a long, said while it is held
    _down(gpio, tree)
    clock.advance(1.5)
    _wait_said(
        events,
        {"pressed": 24.0, "single": 0.6, "double": 11.0, "long": 25.5},
        "the long press",
    )
    clock.advance(0.5)
    _up(gpio, tree)
    clock.advance(0.2)  # t = 26.2: a quick press soon after is a single of its own
    _down(gpio, tree)
    clock.advance(0.1)
    _up(gpio, tree)
    clock.advance(0.5)
    _wait_said(
        events,
        {"pressed": 26.2, "single": 26.8, "double": 11.0, "long": 25.5},
        "the quick press after the long one: a single, the only one since 0.6",
    )
    assert gpio.stats.snapshot()["devices.gpio.gestures"] == 4


def test_an_input_without_the_options_says_only_its_presses(
    gpio: Gpio, clock: FakeClock, tree: CloneClient, events: CloneClient
) -> None:
    plain = {k: v for k, v in BUTTON.items() if not k.endswith("press_s")}
    gpio.start(plain)
    _wait_entry(tree, FULLNAME, "value", False)
    for _ in range(2):
        _down(gpio, tree)
        clock.advance(2)
        _up(gpio, tree)
        clock.advance(0.2)
    _wait_said(events, {"pressed": 2.2}, "the second press")
    clock.advance(5)
    status, _reply = gpio.request(action="get", device="button")  # a turn later
    assert status == b"200"
    assert _said(events) == {"pressed": 2.2}
    assert "devices.gpio.gestures" not in gpio.stats.snapshot()


def test_options_changed_over_mdp_drop_the_press_under_way_and_time_the_next(
    gpio: Gpio, clock: FakeClock, tree: CloneClient, events: CloneClient
) -> None:
    """A press begun under the old options says nothing; the next one is told
    apart by the new ones. A door is refused them, naming the option."""
    door = {"name": "door", "oid": "sensor.binary", "pin": 22, "device_class": "door"}
    gpio.start(BUTTON, door)
    _wait_entry(tree, FULLNAME, "value", False)
    _down(gpio, tree)
    clock.advance(1)
    status, _reply = gpio.request(
        action="config", device="button", value={"long_press_s": 3.0}
    )
    assert status == b"200"
    clock.advance(1)  # 2 s held: long by the old options, dropped by the change
    _up(gpio, tree)
    clock.advance(1)  # its window: no single either
    _down(gpio, tree)  # t = 3
    clock.advance(2)  # 2 s: no long by the new options
    _up(gpio, tree)
    clock.advance(0.5)
    _wait_said(events, {"pressed": 3.0, "single": 5.5}, "the new press's single")
    status, reply = gpio.request(
        action="config", device="door", value={"double_press_s": 0.5}
    )
    assert (status, reply["error"], reply["detail"]) == (
        b"400",
        "invalid_config",
        "device 'door': double_press_s: only a button takes it (device_class = "
        '"button"), this input is "door"',
    )


def test_a_reload_drops_the_press_under_way_and_the_new_options_time_the_next(
    gpio: Gpio, clock: FakeClock, tree: CloneClient, events: CloneClient
) -> None:
    """A reload that changes the options restarts the service: the press held
    across it was begun under the old ones and says nothing, not even at its
    release; nothing is left waiting (no stuck state); the next press is told
    apart by the new options."""
    gpio.start(BUTTON, restarting=True)
    _wait_entry(tree, FULLNAME, "value", False)
    _down(gpio, tree)
    clock.advance(0.5)
    gpio.stop()  # held across the reload
    gpio.start({**BUTTON, "long_press_s": 0.0}, restarting=True, tree=tree)
    clock.advance(2)  # 2.5 s held: a long by the old options
    _up(gpio, tree)
    clock.advance(1)
    _down(gpio, tree)  # t = 3.5: a single of the new options (no long any more)
    clock.advance(2)
    _up(gpio, tree)
    clock.advance(0.5)
    _wait_said(events, {"pressed": 3.5, "single": 6.0}, "the next press's single")
    assert gpio.stats.snapshot()["devices.gpio.gestures"] == 1
