"""A switch's change held by min_off_s / min_on_s outlives a stop of raspyd with
`initial = "restore"`: stored with the output's state (one durable write when a
change is held or dropped, none for a second command that changes nothing), held
again at the next start for the limits as they apply from that start, then carried
out as any held change; and said in the tree, `/device/<fullname>/pending`, for
every reader. A real edge, Clone server and Store, gpiozero's mock pins, a fake
clock; a stop of raspyd is the service stopped (not restarting) and started again
on new mock pins, as a new process would find them.

A scenario's `above: -12 -> on` held and answered 200 fires on a crossing, so no
second `on` comes: lost over a restart, the freezer thawed."""

from __future__ import annotations

from typing import Any

import pytest
from structlog.testing import capture_logs
from support.clock import FakeClock
from support.device_services import (
    HOST,
    server_fixture,  # noqa: F401  # fixture `server`
    tree_fixture,  # noqa: F401  # fixture `tree`
    tree_value,
    wait_entry,
)
from support.gpio_service import (
    Gpio,
    gpio_fixture,  # noqa: F401  # fixture `gpio`
)
from support.wait import wait_until

from raspy import packing
from raspy.client.clone import CloneClient
from raspy.devices.gpio_pins import Pins
from raspy.storage.device_settings import DeviceSettings, Saved
from raspy.storage.store import Put, Store
from raspy.storage.tables import Table

COMPRESSOR = {
    "name": "compressor",
    "oid": "switch",
    "pin": 17,
    "min_on_s": 60.0,
    "min_off_s": 300.0,
    "initial": "restore",
}
# held the same way a second later: once it has switched, the compressor's time
# has passed too (what must not happen, shown)
PUMP = {"name": "pump", "oid": "switch", "pin": 27, "min_off_s": 301.0}
FULLNAME = f"{HOST}.gpio.compressor"
WALL = 1_700_000_000.0  # the FakeClock's wall time at its start


@pytest.fixture
def clocked(gpio: Gpio) -> tuple[Gpio, FakeClock]:
    clock = FakeClock()
    gpio.clock = clock
    return gpio, clock


@pytest.fixture
def writes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any, bool | None]]:
    """Every state written to the store: (full name, value, pending)."""
    written: list[tuple[str, Any, bool | None]] = []
    save = DeviceSettings.save_state

    def counted(
        self: DeviceSettings,
        fullname: str,
        value: Any,
        wall_ts: float,
        pending: bool | None = None,
    ) -> None:
        written.append((fullname, value, pending))
        save(self, fullname, value, wall_ts, pending)

    monkeypatch.setattr(DeviceSettings, "save_state", counted)
    return written


def _start(gpio: Gpio, tree: CloneClient, *entries: dict[str, Any]) -> None:
    """Started (its start done: a request is answered after it), reading the tree
    at start as raspyd does."""
    gpio.start(*entries, tree=tree)
    assert gpio.request(action="get", device=entries[0]["name"])[0] == b"200"


def _restart_raspyd(gpio: Gpio, tree: CloneClient, *entries: dict[str, Any]) -> None:
    """raspyd stopped and started: the outputs switched off (on_stop) and released,
    nothing kept in memory, the store as it was."""
    gpio.stop()
    assert gpio.pins.level("GPIO17") is False
    gpio.pins = Pins.mock()
    _start(gpio, tree, *entries)


def _stored(store: Store) -> Saved:
    return DeviceSettings(store).load(f"{HOST}.gpio.")


def _pending(due_s: float, detail: str) -> dict[str, Any]:
    """The pending key's value: an `on` due `due_s` after the clock's start."""
    return {"state": True, "due": WALL + due_s, "detail": detail}


def test_a_held_on_is_stored_and_held_again_from_the_start_after_a_restart(
    clocked: tuple[Gpio, FakeClock],
    tree: CloneClient,
    store: Store,
    writes: list[tuple[str, Any, bool | None]],
) -> None:
    """Held 40 s after the start (due at 300 s), then raspyd restarts at 50 s:
    the new start counts as the compressor's last change, so the `on` comes 300 s
    after it (at 350 s), not at 300 s, and not never."""
    gpio, clock = clocked
    _start(gpio, tree, COMPRESSOR, PUMP)
    clock.advance(40)
    assert gpio.request(action="on", device="compressor")[1]["pending"]["in_s"] == 260
    clock.advance(10)
    assert gpio.request(action="on", device="compressor")[1]["pending"]["in_s"] == 250
    assert writes == [(FULLNAME, False, True)]  # the second `on`: no write
    # after the compressor's keys in the tree (one actor, one outbox, in order)
    assert gpio.request(action="on", device="pump")[0] == b"200"
    wait_entry(tree, f"{HOST}.gpio.pump", "pending", {
        "state": True, "due": WALL + 301, "detail": "off for 50s of min_off_s 301s: on in 251s"
    })  # fmt: skip
    # the second `on` wrote nothing there either: the key says the first one
    assert tree_value(tree, FULLNAME, "pending") == _pending(
        300, "off for 40s of min_off_s 300s: on in 260s"
    )
    assert _stored(store).pending == {FULLNAME: True}

    _restart_raspyd(gpio, tree, COMPRESSOR, PUMP)
    wait_entry(
        tree,
        FULLNAME,
        "pending",
        _pending(350, "off for 0s of min_off_s 300s: on in 300s"),
    )
    status, reply = gpio.request(action="on", device="compressor")
    assert (status, reply["pending"]["in_s"]) == (b"200", 300.0)
    clock.advance(299.9)  # 349.9 s: the old due time long past
    status, reply = gpio.request(action="get", device="compressor")
    assert (reply["reading"]["value"], gpio.pins.level("GPIO17")) == (False, False)
    clock.advance(0.1)
    wait_until(lambda: gpio.pins.level("GPIO17"), what="the held on, after restart")
    wait_entry(tree, FULLNAME, "pending", None, what="the pending key deleted")
    # (its value in the tree: not on the fake clock, where a poll read just
    # before the switch is not older than it; test_gpio_hold.py shows it)
    wait_until(
        lambda: writes == [(FULLNAME, False, True), (FULLNAME, True, None)],
        what="the switch stored, nothing pending",
    )
    assert _stored(store).pending == {}


def test_a_cancelled_hold_leaves_the_store_and_the_tree_and_never_comes_back(
    clocked: tuple[Gpio, FakeClock],
    tree: CloneClient,
    store: Store,
    writes: list[tuple[str, Any, bool | None]],
) -> None:
    gpio, clock = clocked
    pump = {**PUMP, "initial": "restore"}
    _start(gpio, tree, COMPRESSOR, pump)
    clock.advance(40)
    assert gpio.request(action="on", device="compressor")[0] == b"200"
    wait_entry(
        tree,
        FULLNAME,
        "pending",
        _pending(300, "off for 40s of min_off_s 300s: on in 260s"),
    )
    assert gpio.request(action="off", device="compressor")[0] == b"200"
    wait_entry(tree, FULLNAME, "pending", None, what="the pending key deleted")
    assert writes == [(FULLNAME, False, True), (FULLNAME, False, None)]
    assert _stored(store).pending == {}

    _restart_raspyd(gpio, tree, COMPRESSOR, pump)
    clock.advance(1)
    assert gpio.request(action="on", device="pump")[0] == b"200"
    clock.advance(301)
    wait_until(lambda: gpio.pins.level("GPIO27"), what="the pump's held on")
    assert gpio.pins.level("GPIO17") is False
    assert tree_value(tree, FULLNAME, "pending") is None


def test_a_reset_drops_the_stored_hold_and_the_key(
    clocked: tuple[Gpio, FakeClock], tree: CloneClient, store: Store
) -> None:
    gpio, clock = clocked
    _start(gpio, tree, COMPRESSOR)
    clock.advance(40)
    assert gpio.request(action="on", device="compressor")[0] == b"200"
    assert _stored(store).pending == {FULLNAME: True}
    assert gpio.request(action="reset", device="compressor")[0] == b"200"
    wait_entry(tree, FULLNAME, "pending", None, what="the pending key deleted")
    wait_until(
        lambda: _stored(store).pending == {}, what="the hold gone from the store"
    )


def test_without_restore_a_hold_is_not_stored_and_a_stored_one_is_dropped(
    clocked: tuple[Gpio, FakeClock],
    tree: CloneClient,
    store: Store,
    writes: list[tuple[str, Any, bool | None]],
) -> None:
    """`initial = "off"` is what the user asked the start to be: a held `on` is
    said in the tree but not stored (no write at all: the state is as stored), and
    one stored while the output restored is dropped at the first start without."""
    gpio, clock = clocked
    _start(gpio, tree, COMPRESSOR)
    clock.advance(40)
    assert gpio.request(action="on", device="compressor")[0] == b"200"
    # in the tree before the stop, as raspyd's store has it at its next start (the
    # start reads the tree: a key still on its way would be found absent)
    wait_entry(
        tree,
        FULLNAME,
        "pending",
        _pending(300, "off for 40s of min_off_s 300s: on in 260s"),
    )
    off = {**COMPRESSOR, "initial": "off"}
    _restart_raspyd(gpio, tree, off, PUMP)
    wait_until(lambda: _stored(store).pending == {}, what="the stored hold dropped")
    # the tree's key is deleted by a publish of its own, not with the store's write
    wait_entry(tree, FULLNAME, "pending", None, what="the pending key deleted")
    del writes[:]
    clock.advance(1)
    assert gpio.request(action="on", device="compressor")[0] == b"200"
    assert gpio.request(action="on", device="pump")[0] == b"200"
    wait_entry(
        tree,
        FULLNAME,
        "pending",
        _pending(340, "off for 1s of min_off_s 300s: on in 299s"),
    )
    assert writes == []
    _restart_raspyd(gpio, tree, off, PUMP)
    clock.advance(1)
    assert gpio.request(action="on", device="pump")[0] == b"200"
    clock.advance(301)
    wait_until(lambda: gpio.pins.level("GPIO27"), what="the pump's held on")
    assert gpio.pins.level("GPIO17") is False


def test_a_stored_hold_for_the_state_the_output_starts_at_is_dropped(
    clocked: tuple[Gpio, FakeClock], tree: CloneClient, store: Store
) -> None:
    """Stored on with an `off` held, and on past max_on_s by the wall clock when
    raspyd starts again: the output starts off, and the `off` is moot."""
    gpio, _ = clocked
    DeviceSettings(store).save_state(FULLNAME, True, WALL - 1000.0, pending=False)
    _start(gpio, tree, {**COMPRESSOR, "max_on_s": 900.0})
    assert gpio.pins.level("GPIO17") is False
    wait_until(lambda: _stored(store).states == {FULLNAME: False}, what="stored off")
    assert (_stored(store).pending, tree_value(tree, FULLNAME, "pending")) == ({}, None)


def test_a_state_stored_by_the_version_before_restores(
    gpio: Gpio, tree: CloneClient, store: Store
) -> None:
    """A record without `pending`, as every version before wrote it."""
    old = packing.pack({"value": True, "saved": 1_000.0})
    store.commit([Put(Table.DEVICE, f"state/{FULLNAME}".encode(), old)])
    _start(gpio, tree, COMPRESSOR)
    assert gpio.pins.level("GPIO17") is True
    assert tree_value(tree, FULLNAME, "pending") is None


def test_a_start_whose_pin_failed_keeps_the_held_change_for_the_next_start(
    clocked: tuple[Gpio, FakeClock],
    tree: CloneClient,
    store: Store,
    writes: list[tuple[str, Any, bool | None]],
) -> None:
    """A start without GPIO (no pin factory yet after an upgrade, the pin busy) does
    not hold the change again, since nothing opened; it must not store that as
    "dropped" either: the next start that has the pin holds the `on` and switches
    it when the limit allows (the freezer's `on` was answered 200)."""
    gpio, clock = clocked
    _start(gpio, tree, COMPRESSOR)
    clock.advance(40)
    assert gpio.request(action="on", device="compressor")[0] == b"200"
    assert _stored(store).pending == {FULLNAME: True}

    gpio.stop()
    gpio.pins = Pins.mock()
    gpio.start(COMPRESSOR, tree=tree, unavailable="no pin factory at boot")
    assert gpio.request(action="get", device="compressor")[0] == b"200"
    assert _stored(store).pending == {FULLNAME: True}
    assert writes == [(FULLNAME, False, True)]

    _restart_raspyd(gpio, tree, COMPRESSOR)
    clock.advance(299.9)
    assert gpio.pins.level("GPIO17") is False
    clock.advance(0.1)
    wait_until(lambda: gpio.pins.level("GPIO17"), what="the held on, a start later")


def test_a_start_that_holds_a_stored_change_again_says_so_once(
    clocked: tuple[Gpio, FakeClock], tree: CloneClient
) -> None:
    """The log tells why a switch goes by itself minutes after a start."""
    gpio, clock = clocked
    _start(gpio, tree, COMPRESSOR)
    clock.advance(40)
    assert gpio.request(action="on", device="compressor")[0] == b"200"
    with capture_logs() as logs:
        _restart_raspyd(gpio, tree, COMPRESSOR)
    restored = [e for e in logs if e["event"] == "device_held_switch_restored"]
    assert restored == [
        {
            "component": "gpio",
            "event": "device_held_switch_restored",
            "log_level": "info",
            "device": FULLNAME,
            "state": True,
        }
    ]


@pytest.mark.parametrize(
    "reloaded",
    [
        pytest.param(COMPRESSOR, id="same-wiring"),
        pytest.param({**COMPRESSOR, "active_high": False}, id="wiring-changed"),
    ],
)
def test_a_reload_that_kept_the_pin_and_its_held_change_says_nothing_restored(
    clocked: tuple[Gpio, FakeClock], tree: CloneClient, reloaded: dict[str, Any]
) -> None:
    """A reload (the service restarting in raspyd) keeps the pin and the change it
    held: nothing came back from the store, so nothing is said restored (the line
    would tell of a start that did not happen)."""
    gpio, clock = clocked
    gpio.start(COMPRESSOR, tree=tree, restarting=True)
    assert gpio.request(action="get", device="compressor")[0] == b"200"
    clock.advance(40)
    assert gpio.request(action="on", device="compressor")[0] == b"200"
    gpio.stop()  # a reload: the pin and what is held stay for the next start
    with capture_logs() as logs:
        gpio.start(reloaded, tree=tree, restarting=True)
        reply = gpio.request(action="get", device="compressor")
    assert reply[1]["pending"]["state"] is True  # still held
    assert [e for e in logs if e["event"] == "device_held_switch_restored"] == []
    assert gpio.stats.get("devices.gpio.held_restored") == 0
