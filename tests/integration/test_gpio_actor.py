"""The `gpio` service over a real edge, Clone server and Store, on gpiozero's mock
pins: edges into the tree, debounce, max_on_s, safe states, settings that last
(issue 12)."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from structlog.testing import capture_logs
from support.clock import FakeClock
from support.clonesrv import CloneServer
from support.device_services import (
    HOST,
    server_fixture,  # noqa: F401  # fixture `server`
    tree_fixture,  # noqa: F401  # fixture `tree`
)
from support.device_services import tree_value as _value
from support.device_services import wait_entry as _wait_entry
from support.gpio_service import (
    Gpio,
    gpio_fixture,  # noqa: F401  # fixture `gpio`
)
from support.wait import wait_until

from raspy.actors.poller import DevicesRead, PollerFailed
from raspy.client.clone import CloneClient
from raspy.devices.gpio_pins import NO_GPIO_HINT, Pins
from raspy.devices.gpio_tree import max_on_key, pressed_key
from raspy.devices.reading import Reading, Status
from raspy.errors import DeviceError
from raspy.storage.device_settings import DeviceSettings
from raspy.storage.store import Store
from raspy.storage.tables import DEVICE_STATE_PREFIX, Table, device_key

RELAY = {"name": "relay", "oid": "switch", "pin": 17}
BUTTON = {"name": "button", "oid": "sensor.binary", "pin": 27, "bounce_time_s": 0.0}


@pytest.fixture
def events(zmq_context: Any, server: CloneServer) -> Iterator[CloneClient]:
    client = CloneClient(server.endpoints, b"/event/", context=zmq_context)
    client.wait_synced()
    yield client
    client.close()


def _wait_event(
    events: CloneClient, tree: CloneClient, fullname: str, key: str, what: str
) -> None:
    """The event `key` in the tree with the time of what it tells: the device's
    `timestamp` as the tree has it then. Both are read in each poll: the value, its
    timestamp and the event are keys of their own, and under load the timestamp may
    come after the value a test waited for."""

    def told() -> bool:
        stamp = _value(tree, fullname, "timestamp")
        return events.get(key.encode()) == json.dumps(stamp).encode()

    wait_until(told, what=f"the {what} event with the time it happened")


def test_a_button_press_reaches_the_tree_with_its_time_and_a_pressed_event(
    gpio: Gpio, tree: CloneClient, events: CloneClient
) -> None:
    gpio.start(BUTTON)
    _wait_entry(tree, f"{HOST}.gpio.button", "value", False)
    gpio.pins.drive("GPIO27", high=False)  # pull-up: pressed pulls it low
    _wait_entry(tree, f"{HOST}.gpio.button", "value", True)
    button = f"{HOST}.gpio.button"
    _wait_event(events, tree, button, pressed_key(button), "pressed")
    gpio.pins.drive("GPIO27", high=True)
    _wait_entry(tree, f"{HOST}.gpio.button", "value", False)


def test_an_input_after_a_reset_reads_its_pin_again(
    gpio: Gpio, tree: CloneClient
) -> None:
    """`reset` forgets a device's last reading and asks for a read; inputs are never
    polled, so none came: `get` and `list` said null until the pin next changed (a
    door shut for days), and a `poll` of the input changed nothing either. The
    input's pin is read again, as at its start."""
    gpio.start(BUTTON)
    _wait_entry(tree, f"{HOST}.gpio.button", "value", False)
    gpio.pins.drive("GPIO27", high=False)  # pull-up: pressed pulls it low
    _wait_entry(tree, f"{HOST}.gpio.button", "value", True)
    status, reply = gpio.request(action="reset", device="button")
    assert (status, reply["reset"]) == (b"200", ["button"])
    status, reply = gpio.request(action="get", device="button")
    assert (status, reply["reading"]["value"], reply["errors"]) == (b"200", True, 0)
    gpio.pins.drive("GPIO27", high=True)  # released: an edge as any other
    _wait_entry(tree, f"{HOST}.gpio.button", "value", False)


def test_a_bouncing_contact_ends_at_its_last_level_after_the_bounce_time(
    gpio: Gpio, tree: CloneClient
) -> None:
    gpio.start({**BUTTON, "name": "door", "device_class": "door", "bounce_time_s": 0.3})
    _wait_entry(tree, f"{HOST}.gpio.door", "value", False)
    for high in (False, True, False, True, False):  # ends active (low)
        gpio.pins.drive("GPIO27", high=high)
    _wait_entry(tree, f"{HOST}.gpio.door", "value", True)
    gpio.pins.drive("GPIO27", high=True)  # within the window: held, then reported
    _wait_entry(tree, f"{HOST}.gpio.door", "value", False, "the release after 0.3 s")
    wait_until(
        lambda: gpio.stats.snapshot().get("devices.gpio.edges_held", 0) >= 4,
        what="the bounces counted as held",
    )


def test_a_level_held_by_the_bounce_time_is_dated_from_its_edge_not_the_window_end(
    gpio: Gpio, tree: CloneClient
) -> None:
    """An input's `timestamp` is its edge's time, so that it says since when a door
    is shut (README, "GPIO on a Raspberry Pi"). A door shut 0.1 s after it opened,
    within its bounce_time_s, is held and reported when the window ends: it was
    dated from then, 0.4 s after it was shut, however long the window."""
    clock = FakeClock()
    gpio.clock = clock
    door = {**BUTTON, "name": "door", "device_class": "door", "bounce_time_s": 0.5}
    fullname = f"{HOST}.gpio.door"
    gpio.start(door)
    _wait_entry(tree, fullname, "value", False)
    gpio.pins.drive("GPIO27", high=False)  # pull-up: low is active, the door open
    _wait_entry(tree, fullname, "value", True)
    clock.advance(0.1)
    shut_at = clock.wall()
    gpio.pins.drive("GPIO27", high=True)  # shut within the window: held
    wait_until(
        lambda: gpio.stats.snapshot().get("devices.gpio.edges_held", 0) == 1,
        what="the shut edge held",
    )
    clock.advance(0.4)  # the window ends: the level it ends at is reported
    _wait_entry(tree, fullname, "value", False, "the door shut after 0.5 s")
    status, reply = gpio.request(action="get", device="door")
    assert (status, reply["reading"]["value"]) == (b"200", False)
    assert reply["reading"]["wall_ts"] == shut_at
    wait_until(
        lambda: _value(tree, fullname, "timestamp") == shut_at,
        what="the tree's timestamp the time the door was shut",
    )


def test_an_output_on_longer_than_max_on_s_is_switched_off_counted_and_logged(
    gpio: Gpio, tree: CloneClient, events: CloneClient
) -> None:
    """The tree says why it went off (an event a scenario can tell the household
    by): before, it showed a plain `false`, as if someone had switched it off."""
    gpio.start({**RELAY, "max_on_s": 0.3})
    with capture_logs() as logs:
        status, reply = gpio.request(action="on", device="relay")
        assert (status, reply["reading"]["value"]) == (b"200", True)
        assert gpio.pins.level("GPIO17") is True
        wait_until(lambda: not gpio.pins.level("GPIO17"), what="the relay off")
        # counted, then logged, a moment after the pin goes low
        wait_until(
            lambda: any(e["event"] == "device_switched_off_after_max_on" for e in logs),
            what="the switch-off logged",
        )
    _wait_entry(tree, f"{HOST}.gpio.relay", "value", False)
    relay = f"{HOST}.gpio.relay"
    _wait_event(events, tree, relay, max_on_key(relay), "max_on_expired")
    assert gpio.stats.snapshot()["devices.gpio.max_on_expired"] == 1
    assert [e for e in logs if e["event"] == "device_switched_off_after_max_on"] == [
        {
            "component": "gpio",
            "event": "device_switched_off_after_max_on",
            "log_level": "warning",
            "device": f"{HOST}.gpio.relay",
            "max_on_s": 0.3,
            "status": "ok",
        }
    ]


def test_a_clean_stop_switches_off_unless_on_stop_is_keep(gpio: Gpio) -> None:
    gpio.start(RELAY, {"name": "pump", "oid": "switch", "pin": 22, "on_stop": "keep"})
    for device in ("relay", "pump"):
        assert gpio.request(action="on", device=device)[0] == b"200"
    gpio.stop()
    assert (gpio.pins.level("GPIO17"), gpio.pins.level("GPIO22")) == (False, True)


def test_a_service_restarting_in_the_daemon_leaves_its_outputs_as_they_are(
    gpio: Gpio,
) -> None:
    """A reload or a restart after a failure is not a stop of the daemon: on_stop
    does not apply, and the next start adopts the pins; an output no longer in the
    config is switched off and released."""
    led = {"name": "led", "oid": "dimmer", "pin": 18}
    gpio.start(RELAY, led, restarting=True)
    gpio.request(action="on", device="relay")
    gpio.request(action="level", device="led", value=70)
    gpio.stop()
    assert (gpio.pins.level("GPIO17"), gpio.pins.duty("GPIO18")) == (True, 0.7)
    with capture_logs() as logs:
        gpio.start(RELAY)  # the dimmer is gone from the config
        status, reply = gpio.request(action="get", device="relay")
    assert (status, reply["reading"]["value"]) == (b"200", True)
    assert (gpio.pins.level("GPIO17"), gpio.pins.duty("GPIO18")) == (True, 0.0)
    assert [e["pin"] for e in logs if e["event"] == "gpio_output_released"] == [
        "GPIO18"
    ]


def test_a_failed_service_keeps_its_outputs_before_it_is_seen_stopped(
    gpio: Gpio,
) -> None:
    """A service whose poller failed keeps its outputs for its restart, and is seen
    stopped only after: pykka showed it stopped before its failure's clean-up, so
    a raspyd stopping then released the outputs kept so far, and the heater this
    service kept just after stayed on, on_stop = "off" ignored (under load)."""
    asked, answer = threading.Event(), threading.Event()

    def restarting() -> bool:  # what raspyd's runtime says: held until answered
        asked.set()
        answer.wait(10)
        return True

    ref = gpio.start(RELAY, restarting=restarting)
    gpio.request(action="on", device="relay")
    ref.tell(PollerFailed("gpio", OSError("reader thread lost")))
    wait_until(asked.is_set, what="the failed service asked whether it restarts")
    try:
        assert ref.is_alive()  # its outputs are not settled yet
    finally:
        answer.set()
    wait_until(lambda: not ref.is_alive(), what="the gpio service stopped")
    gpio.ref = None
    assert gpio.pins.release_kept() == ["GPIO17"]  # kept: a stop now switches it off
    assert gpio.pins.level("GPIO17") is False


def test_an_input_at_the_same_level_after_a_restart_keeps_its_time(
    gpio: Gpio, tree: CloneClient
) -> None:
    """Inputs are never polled: their timestamp says since when a door is shut.
    A reload or a restart read the level again and stamped it with that moment
    ("shut since the reload"); a level unchanged keeps the time the tree had, a
    level that changed meanwhile takes the new one. (A mock pin opened again is at
    its pull's level, the door shut: as if it was shut while the service was away.)"""
    door = {**BUTTON, "name": "door", "device_class": "door"}
    fullname = f"{HOST}.gpio.door"
    gpio.start(door, restarting=True)
    shut_at = _wait_reading(gpio, tree, fullname, False)
    gpio.stop()
    gpio.start(door, restarting=True, tree=tree)
    status, reply = gpio.request(action="get", device="door")
    assert (status, reply["reading"]["value"]) == (b"200", False)
    assert reply["reading"]["wall_ts"] == shut_at
    assert _value(tree, fullname, "timestamp") == shut_at
    gpio.pins.drive("GPIO27", high=False)  # pull-up: low is active, the door open
    _wait_entry(tree, fullname, "value", True)
    opened_at = _wait_reading(gpio, tree, fullname, True)
    gpio.stop()
    gpio.start(door, restarting=True, tree=tree)  # shut while it was away
    assert _wait_reading(gpio, tree, fullname, False) > opened_at


def _wait_reading(gpio: Gpio, tree: CloneClient, fullname: str, value: bool) -> float:
    """The time of the input's reading, as the service has it (at `value`), once
    the tree has that reading whole: its keys come one by one, the value first,
    so the tree may show the new value with the old timestamp, or with none yet."""
    status, reply = gpio.request(action="get", device=fullname.rsplit(".", 1)[1])
    assert (status, reply["reading"]["value"]) == (b"200", value)
    wall_ts: float = reply["reading"]["wall_ts"]
    wait_until(
        lambda: (
            _value(tree, fullname) == value
            and _value(tree, fullname, "timestamp") == wall_ts
        ),
        what=f"{fullname} at {value} since {wall_ts} in the tree",
    )
    return wall_ts


@pytest.mark.parametrize(
    "odd", [b"-Infinity", b"9" * 400], ids=["minus-infinity", "too-large-for-a-float"]
)
def test_an_input_whose_time_in_the_tree_is_no_time_takes_the_time_of_its_start(
    gpio: Gpio, tree: CloneClient, odd: bytes
) -> None:
    """Any Clone client may write a device's keys: a timestamp of -Infinity (valid
    to Python's JSON) was kept as the door's time, could not be written back, and
    the gpio service failed at each start until its supervisor gave it up. So did
    an integer too large for a float: the check of it raised OverflowError."""
    door = {**BUTTON, "name": "door", "device_class": "door"}
    fullname = f"{HOST}.gpio.door"
    gpio.start(door, restarting=True)
    _wait_entry(tree, fullname, "value", False)
    gpio.stop()
    key = f"/device/{fullname}/timestamp".encode()
    tree.set(key, odd)
    wait_until(lambda: tree.get(key) == odd, what="the odd timestamp")
    gpio.start(door, restarting=True, tree=tree)
    status, reply = gpio.request(action="get", device="door")
    assert (status, reply["reading"]["value"]) == (b"200", False)
    assert reply["reading"]["wall_ts"] > 0
    wait_until(lambda: tree.get(key) != odd, what="the start's own time")


def test_initial_restore_takes_the_state_stored_at_the_last_change(
    gpio: Gpio, store: Store
) -> None:
    relay = {**RELAY, "initial": "restore"}
    gpio.start(relay, {"name": "led", "oid": "dimmer", "pin": 18, "initial": "restore"})
    gpio.request(action="on", device="relay")
    gpio.request(action="level", device="led", value=30)
    assert store.get(Table.DEVICE, device_key(DEVICE_STATE_PREFIX, f"{HOST}.gpio.led"))
    gpio.stop()  # on_stop "off": switched off, but the stored state stays
    assert gpio.pins.level("GPIO17") is False
    gpio.start(relay, {"name": "led", "oid": "dimmer", "pin": 18, "initial": "restore"})
    wait_until(
        lambda: (gpio.pins.level("GPIO17"), gpio.pins.duty("GPIO18")) == (True, 0.3),
        what="the relay on and the dimmer at 30 % again",
    )


def test_a_command_that_changes_nothing_writes_no_state_to_the_store(
    gpio: Gpio, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A scenario that says `on` every few minutes to a relay that is on (a schedule
    saying what it wants) wrote the same state to the SD card each time: a durable
    commit per command. Only a change is written now."""
    saved: list[tuple[str, Any]] = []
    save = DeviceSettings.save_state

    def counted(
        self: DeviceSettings,
        fullname: str,
        value: Any,
        wall_ts: float,
        pending: bool | None = None,
    ) -> None:
        saved.append((fullname, value))
        save(self, fullname, value, wall_ts, pending)

    monkeypatch.setattr(DeviceSettings, "save_state", counted)
    gpio.start(RELAY)
    for action in ("on", "on", "toggle", "off", "off", "on"):
        assert gpio.request(action=action, device="relay")[0] == b"200"
    relay = f"{HOST}.gpio.relay"
    assert saved == [(relay, True), (relay, False), (relay, True)]


def test_a_failing_pin_shows_in_its_status_and_the_others_work(
    gpio: Gpio, tree: CloneClient
) -> None:
    claimed = gpio.pins.output("GPIO17", active_high=True, initial=False)
    gpio.start(RELAY, {**BUTTON, "pin": 5})
    _wait_entry(tree, f"{HOST}.gpio.relay", "status", "error")
    status, reply = gpio.request(action="on", device="relay")
    assert (status, reply["error"]) == (b"500", "device_error")
    gpio.pins.drive("GPIO5", high=False)
    _wait_entry(tree, f"{HOST}.gpio.button", "value", True)
    claimed.close()


def test_a_config_change_is_stored_before_the_reply_and_reset_returns_to_the_file(
    gpio: Gpio, store: Store
) -> None:
    gpio.start(RELAY, BUTTON)
    status, reply = gpio.request(
        action="config",
        device="relay",
        value={"friendly_name": "Heater", "max_on_s": 900},
    )
    assert status == b"200"
    record = store.get(Table.DEVICE, f"config/{HOST}.gpio.relay".encode())
    assert record is not None  # stored when the reply came
    gpio.stop()
    gpio.start(RELAY, BUTTON)
    status, reply = gpio.request(action="config", device="Heater")
    assert (status, reply["device"], reply["config"]["max_on_s"]) == (
        b"200",
        "relay",
        900.0,
    )
    assert gpio.request(action="reset", device="Heater")[0] == b"200"
    status, reply = gpio.request(action="config", device="relay")
    assert (reply["config"]["friendly_name"], reply["config"]["max_on_s"]) == ("", 0.0)
    assert store.get(Table.DEVICE, f"config/{HOST}.gpio.relay".encode()) is None


def test_a_duplicate_friendly_name_and_a_pin_change_are_refused_with_400(
    gpio: Gpio,
) -> None:
    gpio.start(RELAY, BUTTON)
    assert (
        gpio.request(action="config", device="relay", value={"friendly_name": "x"})[0]
        == b"200"
    )
    status, reply = gpio.request(
        action="config", device="button", value={"friendly_name": "x"}
    )
    assert (status, reply["error"], reply["detail"]) == (
        b"400",
        "invalid_config",
        "device 'button': friendly_name: 'x' is already used by 'relay'",
    )
    status, reply = gpio.request(
        action="config", device="relay", value={"pin": "GPIO5"}
    )
    assert (status, reply["detail"]) == (
        b"400",
        "pin: fixed while running; change the config file",
    )


def test_a_config_naming_the_pin_an_output_already_has_is_accepted_in_any_form(
    gpio: Gpio, store: Store
) -> None:
    """`pin` is fixed while running (README, GPIO): a config naming the pin the
    device already has changes nothing and is accepted. `{"pin": 17}` on a relay at
    GPIO17 was refused as a change: the raw 17 was compared with the stored name
    "GPIO17". The pin is compared as gpiozero resolves it; another pin, in any
    form, is still refused."""
    gpio.start(RELAY, BUTTON)
    for pin in (17, "GPIO17", "BCM17", "BOARD11"):
        status, reply = gpio.request(
            action="config", device="relay", value={"pin": pin}
        )
        assert (status, reply["config"]["pin"]) == (b"200", "GPIO17"), pin
    assert store.get(Table.DEVICE, f"config/{HOST}.gpio.relay".encode()) is None
    for pin in (27, "BOARD13", "no-such-pin"):
        status, reply = gpio.request(
            action="config", device="relay", value={"pin": pin}
        )
        assert (status, reply["detail"]) == (
            b"400",
            "pin: fixed while running; change the config file",
        ), pin


def test_drive_presses_a_mock_input_and_refuses_an_output(
    gpio: Gpio, tree: CloneClient
) -> None:
    gpio.start(RELAY, BUTTON)
    assert gpio.request(action="drive", device="button", value=True) == (
        b"200",
        {"v": 1, "action": "drive", "device": "button", "value": True},
    )
    _wait_entry(tree, f"{HOST}.gpio.button", "value", True)
    status, reply = gpio.request(action="drive", device="relay", value=True)
    assert (status, reply["error"]) == (b"404", "unknown_device")


def test_a_reload_that_rewires_an_output_applies_the_new_wiring_and_keeps_it_on(
    gpio: Gpio,
) -> None:
    """The file may change active_high (or a switch into a dimmer) on the same pin;
    the restarted service must not adopt the kept pin with its old wiring: the relay
    stays on, and `off` then drives the pin to the new inactive level."""
    gpio.start(RELAY, restarting=True)
    gpio.request(action="on", device="relay")
    gpio.stop()
    assert gpio.pins.level("GPIO17") is True
    gpio.start({**RELAY, "active_high": False}, restarting=True)
    status, reply = gpio.request(action="get", device="relay")
    assert (status, reply["reading"]["value"]) == (b"200", True)
    assert gpio.pins.level("GPIO17") is False  # on, now active low
    assert gpio.request(action="off", device="relay")[0] == b"200"
    assert gpio.pins.level("GPIO17") is True  # off: high for an active-low board
    gpio.stop()
    gpio.start({"name": "relay", "oid": "dimmer", "pin": 17, "active_high": False})
    assert gpio.request(action="level", device="relay", value=25)[0] == b"200"
    assert gpio.pins.duty("GPIO17") == pytest.approx(0.75)  # PWM, active low


def test_a_reload_that_turns_a_kept_output_pin_into_an_input_opens_the_input(
    gpio: Gpio, tree: CloneClient
) -> None:
    """An output's pin is kept across a reload for its successor; when the new file
    makes that pin an input, the input must get it (not fail as 'in use')."""
    gpio.start(RELAY, restarting=True)
    gpio.request(action="on", device="relay")
    gpio.stop()
    gpio.start({**BUTTON, "name": "door", "pin": 17})
    _wait_entry(tree, f"{HOST}.gpio.door", "status", "ok")
    gpio.pins.drive("GPIO17", high=False)  # pull-up: active is low
    _wait_entry(tree, f"{HOST}.gpio.door", "value", True)


def test_max_on_s_counts_from_the_switch_on_across_restarts_of_the_service(
    gpio: Gpio,
) -> None:
    """A reload restarts the service, which adopts the pin that stayed on: the
    time on goes on from when it was switched on (a reload every half hour kept
    a heater with max_on_s = 3600 on for good)."""
    clock = FakeClock()
    gpio.clock = clock
    relay = {**RELAY, "max_on_s": 10}
    gpio.start(relay, restarting=True)
    assert gpio.request(action="on", device="relay")[0] == b"200"
    clock.advance(6)
    gpio.stop()  # a reload: the pin is kept on for the next start
    gpio.start(relay, restarting=True)
    assert gpio.pins.level("GPIO17") is True
    clock.advance(5)  # 11 s on in all, 5 s since the restart
    wait_until(lambda: not gpio.pins.level("GPIO17"), what="the relay off")
    # counted a moment after the pin goes low, on the service's thread
    wait_until(
        lambda: gpio.stats.snapshot().get("devices.gpio.max_on_expired") == 1,
        what="the switch-off counted",
    )


def test_a_max_on_s_set_over_mdp_applies_to_an_output_on_now(gpio: Gpio) -> None:
    """It took effect only at the next switch: a relay on for good stayed on."""
    clock = FakeClock()
    gpio.clock = clock
    gpio.start(RELAY, {"name": "fan", "oid": "switch", "pin": 22})  # no max_on_s
    for device in ("relay", "fan"):
        assert gpio.request(action="on", device=device)[0] == b"200"
    clock.advance(30)
    for device, max_on_s in (("relay", 10), ("fan", 60)):
        value = {"max_on_s": max_on_s}
        assert gpio.request(action="config", device=device, value=value)[0] == b"200"
    # counted from the switch on: the relay is past its 10 s, the fan not yet
    wait_until(lambda: not gpio.pins.level("GPIO17"), what="the relay off")
    assert gpio.pins.level("GPIO22") is True
    clock.advance(31)
    wait_until(lambda: not gpio.pins.level("GPIO22"), what="the fan off")


def test_a_restored_output_goes_on_counting_max_on_s_from_its_switch_on(
    gpio: Gpio, events: CloneClient
) -> None:
    """`initial = "restore"` after a stop (or a crash, a power cut) counted max_on_s
    from the start again: a daemon restarted every 50 minutes kept a heater with
    max_on_s = 3600 on for good. Now one on for longer than max_on_s starts off, and
    the tree says why; one on for less goes off when its time is up."""
    clock = FakeClock()
    gpio.clock = clock
    relay = {**RELAY, "initial": "restore", "max_on_s": 10}
    fan = {"name": "fan", "oid": "switch", "pin": 22, "initial": "restore"}
    fan["max_on_s"] = 10
    gpio.start(relay, fan)
    assert gpio.request(action="on", device="relay")[0] == b"200"
    clock.advance(4)
    for device in ("relay", "fan"):  # a second `on` does not move the relay's start
        assert gpio.request(action="on", device=device)[0] == b"200"
    clock.advance(2)
    gpio.stop()  # on_stop off; the stored states stay on
    clock.advance(5)  # the relay has been on for 11 s, the fan for 7 s
    with capture_logs() as logs:
        gpio.start(relay, fan)
        wait_until(lambda: gpio.pins.level("GPIO22"), what="the fan on again")
        assert gpio.pins.level("GPIO17") is False  # never switched on
        wait_until(
            lambda: events.get(max_on_key(f"{HOST}.gpio.relay").encode()) is not None,
            what="the relay's max_on_expired event",
        )
    assert [
        (e["device"], e["on_for_s"])
        for e in logs
        if e["event"] == "device_not_restored_after_max_on"
    ] == [(f"{HOST}.gpio.relay", 11.0)]
    assert gpio.stats.snapshot()["devices.gpio.max_on_expired"] == 1
    clock.advance(3)  # the fan's 10 s are up
    wait_until(lambda: not gpio.pins.level("GPIO22"), what="the fan off")
    gpio.stop()
    gpio.start(relay, fan)  # both stored off now: nothing to restore, nothing logged
    assert gpio.request(action="get", device="relay")[1]["reading"]["value"] is False
    assert gpio.stats.snapshot()["devices.gpio.max_on_expired"] == 2


def test_without_gpio_every_status_and_reply_says_why_and_what_to_do(
    gpio: Gpio, tree: CloneClient
) -> None:
    """A Pi without lgpio: the log said why once, the devices said `pin not opened`."""
    try:
        Pins.default()
    except DeviceError as exc:
        reason = str(exc)
    else:
        pytest.skip("this machine has GPIO")
    assert reason.startswith("no GPIO on this machine (LGPIOFactory: ")
    assert reason.endswith(f"; {NO_GPIO_HINT}")
    # the venv raspy runs from, which apt's python3-lgpio would not reach
    assert f"; on a Raspberry Pi: {sys.prefix}/bin/pip install lgpio (" in reason
    assert "apt install" not in reason
    gpio.start(RELAY, BUTTON, unavailable=reason)
    _wait_entry(tree, f"{HOST}.gpio.button", "status", "error")
    status, reply = gpio.request(action="on", device="relay")
    assert (status, reply["detail"]) == (b"500", f"device 'relay': {reason}")
    for device in ("relay", "button"):
        status, reply = gpio.request(action="get", device=device)
        assert (status, reply["reading"]["detail"]) == (b"200", reason)


def test_a_poll_reading_taken_before_a_max_on_switch_off_does_not_show_it_on(
    gpio: Gpio, tree: CloneClient
) -> None:
    """The switch-off by max_on_s is a command as any other: a poll of the pin taken
    just before it, published after, showed the relay on for a poll interval."""
    clock = FakeClock()
    gpio.clock = clock
    ref = gpio.start({**RELAY, "max_on_s": 10})
    wait_until(  # the poller's first read, at its start
        lambda: gpio.stats.snapshot().get("devices.gpio.reads") == 1,
        what="the first poll",
    )
    assert gpio.request(action="on", device="relay")[0] == b"200"
    clock.advance(10)
    wait_until(
        lambda: gpio.stats.snapshot().get("devices.gpio.max_on_expired") == 1,
        what="the switch-off counted",
    )
    _wait_entry(tree, f"{HOST}.gpio.relay", "value", False)
    taken = Reading(True, "", Status.OK, clock.wall() - 0.001)  # read just before
    ref.tell(DevicesRead("gpio", (("relay", taken),)))
    gpio.request(action="config", device="relay")  # answered after the reading
    stats = gpio.stats.snapshot()
    assert (stats["devices.gpio.reads"], stats.get("devices.gpio.stale_readings")) == (
        2,
        1,
    )
    assert _value(tree, f"{HOST}.gpio.relay", "value") is False


def test_a_pin_held_elsewhere_at_the_start_is_opened_by_a_reset_once_free(
    gpio: Gpio, tree: CloneClient
) -> None:
    """A pin another program held when the service started (a script left running,
    a kernel driver's overlay) left its device in `error` until raspyd restarted:
    `reset`, which says it returns a device to its initial state, failed the same
    way once the pin was free. It opens the pin: an output off (reset's safe state),
    an input read, its edges heard from then on."""
    relay_holder = gpio.pins.output("GPIO17", active_high=True, initial=False)
    button_holder = gpio.pins.output("GPIO27", active_high=True, initial=False)
    gpio.start({**RELAY, "initial": "on"}, BUTTON)
    _wait_entry(tree, f"{HOST}.gpio.relay", "status", "error")
    _wait_entry(tree, f"{HOST}.gpio.button", "status", "error")
    relay_holder.close()
    button_holder.close()
    status, reply = gpio.request(action="reset", device="relay")
    assert (status, reply["reset"]) == (b"200", ["relay"])
    _wait_entry(tree, f"{HOST}.gpio.relay", "status", "ok")
    assert gpio.pins.level("GPIO17") is False  # off, whatever `initial` says
    status, reply = gpio.request(action="on", device="relay")
    assert (status, reply["reading"]["value"]) == (b"200", True)
    assert gpio.pins.level("GPIO17") is True
    status, reply = gpio.request(action="reset", device="button")
    assert status == b"200"
    _wait_entry(tree, f"{HOST}.gpio.button", "value", False)
    gpio.pins.drive("GPIO27", high=False)  # pull-up: pressed pulls it low
    _wait_entry(tree, f"{HOST}.gpio.button", "value", True)


def test_restore_after_a_start_at_the_initial_state_takes_that_state_not_an_older(
    gpio: Gpio,
) -> None:
    """`initial = "restore"` is the state an output had when raspyd stopped. One
    that a start put on by `initial = "on"` (or off by `"off"`) and no command
    changed since had that state never stored: a file then set to "restore" brought
    back the state of the last command, months old, a heater switched on that had
    been off since."""
    gpio.start(RELAY)
    assert gpio.request(action="on", device="relay")[0] == b"200"  # stored: on
    gpio.stop()
    gpio.start({**RELAY, "initial": "off"})  # off since this start, never commanded
    gpio.stop()
    gpio.start({**RELAY, "initial": "restore"})
    status, reply = gpio.request(action="get", device="relay")
    assert (status, reply["reading"]["value"]) == (b"200", False)
    assert gpio.pins.level("GPIO17") is False
    gpio.stop()
    gpio.start({**RELAY, "initial": "on"})  # on since this start
    gpio.stop()
    gpio.start({**RELAY, "initial": "restore"})
    wait_until(lambda: gpio.pins.level("GPIO17"), what="the relay on, as it was")
