"""An output's state that the store refused is written again until it takes: it was
tried once, and a heater with `initial = "restore"` switched on during a transient
store failure came back off at the next start. A real edge, Clone server and Store,
gpiozero's mock pins, a fake clock; the store's write refused while told to (the
seam test_gpio_hold_kept.py counts writes through)."""

from __future__ import annotations

from typing import Any

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
from support.state_refusal import Refusal, refusal_fixture  # noqa: F401  # fixture `refusal`
from support.wait import wait_until

from raspy.client.clone import CloneClient
from raspy.devices.gpio_pins import Pins
from raspy.storage.device_settings import DeviceSettings
from raspy.storage.store import Store

HEATER = {"name": "heater", "oid": "switch", "pin": 17, "initial": "restore"}
FULLNAME = f"{HOST}.gpio.heater"


def _state(store: Store) -> Any:
    return DeviceSettings(store).load(f"{HOST}.gpio.").states.get(FULLNAME)


def _not_stored(gpio: Gpio) -> float:
    return gpio.stats.snapshot().get("devices.gpio.state_not_stored", 0)


def test_a_state_the_store_refused_is_written_again_as_it_is_then(
    gpio: Gpio, tree: CloneClient, store: Store, refusal: Refusal
) -> None:
    clock = FakeClock()
    gpio.clock = clock
    gpio.start(HEATER, tree=tree)
    assert gpio.request(action="get", device="heater")[0] == b"200"
    refusal.failing = True
    assert gpio.request(action="on", device="heater")[0] == b"200"
    assert _not_stored(gpio) == 1
    clock.advance(2)  # the first retry (2 s), refused too: the next in 4 s
    wait_until(lambda: _not_stored(gpio) == 2, what="the first retry")
    refusal.failing = False
    clock.advance(3.9)
    assert gpio.request(action="get", device="heater")[0] == b"200"
    assert _state(store) is None  # not due yet
    clock.advance(0.1)
    wait_until(lambda: _state(store) is True, what="the heater's state stored")
    tries = refusal.tries
    clock.advance(120)  # stored: no more tries
    assert gpio.request(action="get", device="heater")[0] == b"200"
    assert refusal.tries == tries
    gpio.stop()  # raspyd stopped (its outputs off) and started again
    gpio.pins = Pins.mock()
    gpio.start(HEATER, tree=tree)
    assert gpio.request(action="get", device="heater")[0] == b"200"
    assert gpio.pins.level("GPIO17") is True


def test_a_state_still_to_store_is_tried_once_more_at_the_stop(
    gpio: Gpio, tree: CloneClient, store: Store, refusal: Refusal
) -> None:
    """The store came back before the retry was due, and a stop (or a reload of the
    device services) came first: the heater started again from the store's old off."""
    clock = FakeClock()
    gpio.clock = clock
    gpio.start(HEATER, tree=tree)
    assert gpio.request(action="get", device="heater")[0] == b"200"
    refusal.failing = True
    assert gpio.request(action="on", device="heater")[0] == b"200"
    assert _not_stored(gpio) == 1
    refusal.failing = False  # the retry is 2 s away: the stop comes first
    gpio.stop()
    assert _state(store) is True
    gpio.pins = Pins.mock()
    gpio.start(HEATER, tree=tree)
    assert gpio.request(action="get", device="heater")[0] == b"200"
    assert gpio.pins.level("GPIO17") is True
