"""Device services of simulated devices over a real edge, Clone server and Store:
polling, failing reads and commands over MDP (issue 7).

Simulated devices run on a FakeClock where the values must be exact.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import zmq
from structlog.testing import capture_logs
from support.clock import FakeClock
from support.device_services import (
    HOST,
    START_WALL,
    Services,
    server_fixture,  # noqa: F401  # fixture `server`
    services_fixture,  # noqa: F401  # fixture `services`
    tree_fixture,  # noqa: F401  # fixture `tree`
)
from support.device_services import mdp_request as _request
from support.device_services import tree_value as _value
from support.device_services import wait_entry as _wait_entry
from support.wait import wait_until

from raspy.actors.devices import DeviceServiceActor, HandleRequest
from raspy.cli.board_publisher import ClientPublisher
from raspy.client.clone import Change, CloneClient
from raspy.clock import SystemClock
from raspy.config import DevicesConfig
from raspy.devices.driver import Driver
from raspy.devices.reading import CONFIGURED_TTL_S, Reading
from raspy.devices.registries import fake_registry
from raspy.devices.registry import Registry
from raspy.devices.simulated import Cycle, SimulatedFactory, Wave
from raspy.devices.template import DeviceConfig, JsonValue
from raspy.storage.device_settings import DeviceSettings
from raspy.storage.store import Store

Context = zmq.Context[zmq.Socket[bytes]]


def _fake(*configs: dict[str, Any]) -> Registry:
    return fake_registry(HOST, DevicesConfig(fake_enabled=True, fake=configs))


def test_simulated_devices_publish_value_unit_timestamp_and_status(
    services: Services, tree: CloneClient
) -> None:
    """Issue 7: a poller publishes `/device/<fullname>/value` plus unit, timestamp and
    status, each JSON text."""
    clock = FakeClock(wall=START_WALL)
    services.start(
        _fake(
            {"name": "t", "oid": "sensor.temperature", "period_s": 60.0, "min": 10.0},
            {"name": "lamp", "oid": "switch"},
        ),
        clock,
    )
    _wait_entry(tree, "testhost.fake.lamp", "value", False)  # first of the two
    clock.advance(1.0)  # devices started together are spread over a second
    wait_until(
        lambda: len(tree.items(b"/device/testhost.fake.")) == 8,
        what="four entries of each device",
    )
    expected = Cycle(Wave.TRIANGLE, 60.0, 10.0, 25.0).value_at(START_WALL + 1.0)
    assert tree.items(b"/device/testhost.fake.t/") == [
        (b"/device/testhost.fake.t/status", b'"ok"'),
        (b"/device/testhost.fake.t/timestamp", b"1700000041.0"),
        (b"/device/testhost.fake.t/unit", '"°C"'.encode()),
        (b"/device/testhost.fake.t/value", json.dumps(expected).encode()),
    ]


def test_simulated_values_follow_the_clock_passed_in(
    services: Services, tree: CloneClient
) -> None:
    """A triangle wave of period 4 s from 0 to 8: 0, 4, 8, 4 at one-second polls."""
    clock = FakeClock(wall=START_WALL)
    services.start(
        _fake(
            {
                "name": "wave",
                "oid": "sensor",
                "period_s": 4.0,
                "min": 0.0,
                "max": 8.0,
                "poll_interval_s": 1.0,
            }
        ),
        clock,
    )
    for expected in (0.0, 4.0, 8.0, 4.0):
        _wait_entry(tree, "testhost.fake.wave", "value", expected)
        clock.advance(1.0)


class _BrokenSensor:
    """A driver with a bug: every read raises (not a DeviceError)."""

    def read(self, config: DeviceConfig, now: float) -> Reading:
        raise OSError("bus driver crashed")

    def execute(
        self, config: DeviceConfig, command: str, value: JsonValue, now: float
    ) -> Reading:
        raise OSError("bus driver crashed")

    def state(self) -> Mapping[str, JsonValue]:
        return {}

    def reset(self, config: DeviceConfig, now: float) -> Reading | None:
        return None


class _FactoryWithBrokenDevice(SimulatedFactory):
    """The simulated factory, except that a device named `broken` has _BrokenSensor."""

    def create(self, config: DeviceConfig) -> Driver:
        return _BrokenSensor() if config.name == "broken" else super().create(config)


def _with_broken_device() -> Registry:
    registry = Registry(HOST, "fake", _FactoryWithBrokenDevice())
    registry.add_all(
        [
            {"name": "broken", "oid": "sensor.temperature", "poll_interval_s": 1.0},
            {"name": "rtc", "oid": "clock.rtc", "poll_interval_s": 1.0},
        ]
    )
    return registry


def test_a_device_whose_read_raises_shows_its_status_and_the_others_keep_publishing(
    services: Services, tree: CloneClient
) -> None:
    """Issue 7: a failing read is counted, logged once per state change, retried with
    backoff and shown as the device's status; it never stops the other devices."""
    clock = FakeClock(wall=START_WALL)
    with capture_logs() as logs:
        services.start(_with_broken_device(), clock)
        _wait_entry(tree, "testhost.fake.broken", "status", "error")
        assert _value(tree, "testhost.fake.broken") is None
        assert _value(tree, "testhost.fake.broken", "unit") == "°C"
        for step in (1.0, 2.0, 4.0):  # the backoff after 1, 2 and 3 failures
            clock.advance(step)
            _wait_entry(tree, "testhost.fake.rtc", "value", clock.wall())
        wait_until(
            lambda: services.stats.get("devices.fake.read_errors") == 4,
            what="four failed reads counted",
        )
    assert services.stats.get("devices.fake.read_raised") == 4
    raised = [e for e in logs if e["event"] == "device_read_raised"]
    assert [(e["bus"], e["device"], e["log_level"]) for e in raised] == [
        ("fake", "broken", "error")
    ]
    failed = [e for e in logs if e["event"] == "device_read_failed"]
    assert failed == [
        {
            "event": "device_read_failed",
            "log_level": "warning",
            "component": "devices",
            "device": "testhost.fake.broken",
            "status": "error",
            "detail": "'OSError: bus driver crashed'",
        }
    ]


def test_a_command_to_a_simulated_dimmer_over_mdp_is_reflected_in_the_tree(
    services: Services, tree: CloneClient
) -> None:
    """Issue 7: a device service answers `<hostname>.<service>.devices`; `level` is a
    dimmer command, published at once."""
    services.start(_fake({"name": "hall", "oid": "dimmer"}), SystemClock())
    _wait_entry(tree, "testhost.fake.hall", "value", 0)
    status, reply = _request(
        services.edge, "testhost.fake.devices", action="level", device="hall", value=40
    )
    assert status == b"200"
    assert json.loads(reply)["reading"]["value"] == 40
    _wait_entry(tree, "testhost.fake.hall", "value", 40)
    status, reply = _request(
        services.edge, "testhost.fake.devices", action="off", device="hall"
    )
    assert status == b"200"
    _wait_entry(tree, "testhost.fake.hall", "value", 0)


def test_the_poll_action_reads_a_device_before_its_interval_is_up(
    services: Services, tree: CloneClient
) -> None:
    clock = FakeClock(wall=START_WALL)
    services.start(_fake({"name": "rtc", "oid": "clock.rtc"}), clock)  # every 10 s
    _wait_entry(tree, "testhost.fake.rtc", "value", START_WALL)
    clock.advance(3.0)
    status, reply = _request(
        services.edge, "testhost.fake.devices", action="poll", device="rtc"
    )
    assert (status, json.loads(reply)) == (
        b"200",
        {"v": 1, "action": "poll", "device": "rtc", "poll": "requested"},
    )
    _wait_entry(tree, "testhost.fake.rtc", "value", START_WALL + 3.0)


def test_a_new_poll_interval_from_the_config_action_reschedules_the_poller(
    services: Services, tree: CloneClient
) -> None:
    clock = FakeClock(wall=START_WALL)
    services.start(
        _fake({"name": "rtc", "oid": "clock.rtc", "poll_interval_s": 3600.0}), clock
    )
    _wait_entry(tree, "testhost.fake.rtc", "value", START_WALL)
    status, _ = _request(
        services.edge,
        "testhost.fake.devices",
        action="config",
        device="rtc",
        value={"poll_interval_s": 1.0},
    )
    assert status == b"200"

    def read_again() -> bool:
        clock.advance(0.5)  # the poller takes SetInterval at its own pace
        return bool(_value(tree, "testhost.fake.rtc") != START_WALL)

    wait_until(read_again, what="a read before the old interval of an hour")
    assert _value(tree, "testhost.fake.rtc") < START_WALL + 600.0


def test_a_config_change_and_a_reset_publish_the_configured_event(
    services: Services, zmq_context: Context
) -> None:
    """`config` with a value that changes the config, and a `reset` that undoes a
    change, set `/event/device/<fullname>/configured` to the wall time with a ttl
    (an ephemeral key: the MQTT bridge lists the service again on it); a read, a
    change to the same values and a reset with nothing to undo set nothing."""
    clock = FakeClock(wall=START_WALL)
    events = CloneClient(services.server.endpoints, b"/event/", context=zmq_context)
    seen: list[Change] = []
    try:
        events.wait_synced()
        events.on_change(seen.append)
        services.start(_fake({"name": "lamp", "oid": "switch"}), clock)
        key = b"/event/device/testhost.fake.lamp/configured"

        def ask(action: str, **more: JsonValue) -> None:
            status, _ = _request(
                services.edge, "testhost.fake.devices", action=action, **more
            )
            assert status == b"200"

        ask("config", device="lamp")
        ask("config", device="lamp", value={"info": ""})  # its value already
        ask("reset", device="lamp")  # nothing stored to undo
        clock.advance(1.0)
        ask("config", device="lamp", value={"friendly_name": "Kitchen"})
        clock.advance(5.0)
        ask("reset", device="lamp")
        wait_until(lambda: len(seen) >= 2, what="two events")
        ttl = ("ttl", f"{CONFIGURED_TTL_S:.0f}")
        assert [(c.key, c.body, ttl in c.props) for c in seen] == [
            (key, b"1700000041.0", True),  # the rename (nothing before it)
            (key, b"1700000046.0", True),  # the reset back to the file's name
        ]
    finally:
        events.close()


def test_a_reset_whose_deletion_is_not_stored_is_not_answered_done(
    services: Services, tmp_path: Path
) -> None:
    """`reset` deletes what `config` stored before it answers (README, "Device
    settings that last"). When the store refused the deletion, the reply was 200 all
    the same: the stored name stayed, on the device and after the next start. It is
    a 500 "not stored", as for `config`, and the device keeps what the store holds."""
    settings = Store.open(tmp_path / "settings")
    services.start(
        _fake({"name": "lamp", "oid": "switch"}),
        FakeClock(wall=START_WALL),
        settings=DeviceSettings(settings),
    )
    name: JsonValue = {"friendly_name": "Kitchen"}
    status, _ = _request(
        services.edge,
        "testhost.fake.devices",
        action="config",
        device="lamp",
        value=name,
    )
    assert status == b"200"
    settings.close()  # every write fails from now on, as on a failing card
    status, body = _request(
        services.edge, "testhost.fake.devices", action="reset", device="lamp"
    )
    reply = json.loads(body)
    assert (status, reply["error"]) == (b"500", "device_error")
    assert reply["detail"].startswith("not stored: store in ")
    _, body = _request(
        services.edge, "testhost.fake.devices", action="config", device="lamp"
    )
    assert json.loads(body)["config"]["friendly_name"] == "Kitchen"


def test_a_reset_to_a_friendly_name_another_device_took_is_refused_and_changes_nothing(
    services: Services, tmp_path: Path
) -> None:
    """`reset` returns a device to the file's values; a friendly name already used
    in the service is refused with 400 (README, "Device settings that last"). The
    file names `lamp` "Desk"; over MDP it became "Table" and `hall` took "Desk":
    a `reset` of `lamp` then raised out of the service (no answer, the service
    failed) after it had deleted lamp's stored rename. It is a 400 naming the
    clash, and nothing is changed; once `hall` has another name it is done."""
    settings = Store.open(tmp_path / "settings")
    try:
        lamp = {"name": "lamp", "oid": "switch", "friendly_name": "Desk"}
        registry = _fake(lamp, {"name": "hall", "oid": "dimmer"})
        stored = DeviceSettings(settings)
        services.start(registry, FakeClock(wall=START_WALL), settings=stored)

        def ask(action: str, device: str, **more: JsonValue) -> tuple[bytes, Any]:
            status, body = _request(
                services.edge, "testhost.fake.devices", action=action, device=device,
                **more,
            )  # fmt: skip
            return status, json.loads(body)

        assert ask("config", "lamp", value={"friendly_name": "Table"})[0] == b"200"
        assert ask("config", "hall", value={"friendly_name": "Desk"})[0] == b"200"
        status, reply = ask("reset", "lamp")
        assert (status, reply["error"]) == (b"400", "invalid_config")
        assert "'Desk' is already used by 'hall'" in reply["detail"]
        assert ask("config", "lamp")[1]["config"]["friendly_name"] == "Table"
        assert ask("get", "Desk")[1]["device"] == "hall"  # the service answers
        kept = stored.load("testhost.fake.").configs["testhost.fake.lamp"]
        assert kept == {"friendly_name": "Table"}
        assert ask("config", "hall", value={"friendly_name": "Hall"})[0] == b"200"
        assert ask("reset", "lamp")[0] == b"200"
        assert ask("get", "Desk")[1]["device"] == "lamp"
    finally:
        services.stop()
        settings.close()


def test_two_friendly_names_swapped_over_mdp_both_come_back_at_the_next_start(
    services: Services, tmp_path: Path
) -> None:
    """A `config` change over MDP is applied again after a restart (README, "Device
    settings that last"). `lamp` "Lamp" and `hall` "Hall" swapped their names in
    steps through a third; at the next start each stored rename was refused while
    the other still held its name (a cycle: retrying made no progress), and both
    kept the file's names. The stored names are applied as a whole."""
    settings = Store.open(tmp_path / "settings")
    try:
        lamp = {"name": "lamp", "oid": "switch", "friendly_name": "Lamp"}
        hall = {"name": "hall", "oid": "dimmer", "friendly_name": "Hall"}
        stored = DeviceSettings(settings)
        services.start(_fake(lamp, hall), FakeClock(wall=START_WALL), settings=stored)

        def config(device: str, **value: JsonValue) -> tuple[bytes, Any]:
            status, body = _request(
                services.edge, "testhost.fake.devices", action="config",
                device=device, **({"value": value} if value else {}),
            )  # fmt: skip
            return status, json.loads(body)

        for device, name in (("lamp", "Spare"), ("hall", "Lamp"), ("lamp", "Hall")):
            assert config(device, friendly_name=name)[0] == b"200", (device, name)
        services.stop()
        with capture_logs() as logs:
            services.start(
                _fake(lamp, hall), FakeClock(wall=START_WALL), settings=stored
            )
            names = {
                d: config(d)[1]["config"]["friendly_name"] for d in ("lamp", "hall")
            }
        assert names == {"lamp": "Hall", "hall": "Lamp"}
        assert [e for e in logs if e["event"] == "device_setting_not_applied"] == []
    finally:
        services.stop()
        settings.close()


def test_raspy_pollers_service_sends_the_configured_event_through_its_clone_client(
    services: Services, zmq_context: Context
) -> None:
    """On another board the service's publisher is its Clone client (of its own
    subtree only): the event, outside it, still reaches the hub's tree, with its ttl."""
    server = services.server
    board = CloneClient(server.endpoints, b"/device/board2.fake.", context=zmq_context)
    events = CloneClient(server.endpoints, b"/event/", context=zmq_context)
    seen: list[Change] = []
    clock = FakeClock(wall=START_WALL)
    registry = fake_registry(
        "board2",
        DevicesConfig(fake_enabled=True, fake=({"name": "lamp", "oid": "switch"},)),
    )
    ref = DeviceServiceActor.start(
        registry, ClientPublisher(board), clock=clock, stats=services.stats
    )
    try:
        events.wait_synced()
        events.on_change(seen.append)
        body = {"v": 1, "action": "config", "device": "lamp",
                "value": {"friendly_name": "Kitchen"}}  # fmt: skip
        status, _ = ref.ask(HandleRequest((json.dumps(body).encode(),)), timeout=5)
        assert status == b"200"
        wait_until(lambda: seen, what="the event at the hub")
        (change,) = seen
        assert (change.key, change.body) == (
            b"/event/device/board2.fake.lamp/configured",
            b"1700000040.0",
        )
        assert ("ttl", "60") in change.props
    finally:
        ref.stop(block=True, timeout=10)
        events.close()
        board.close()
