"""Device services and pollers over a real edge, Clone server and Store (issue 7).

Simulated devices run on a FakeClock where the values must be exact; 1-Wire sensors
are read from a temporary sysfs tree of real-format `w1_slave` files.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pykka
import pytest
import zmq
from structlog.testing import capture_logs
from support.clock import FakeClock
from support.clonesrv import CloneServer, clone_server
from support.edge_fixtures import EdgeHandle
from support.net import free_port_base
from support.sysfs import FakeW1Tree, scratchpad, w1_slave_text
from support.wait import wait_until

from raspy import config as config_mod
from raspy.actors import supervisor
from raspy.actors.devices import (
    DeviceServiceActor,
    Discover,
    MdpLink,
    fake_registry,
    onewire_discover,
    onewire_registry,
)
from raspy.actors.poller import PollerFailed
from raspy.client.clone import CloneClient
from raspy.client.mdp import Client
from raspy.clock import Clock, SystemClock
from raspy.config import DevicesConfig, StoreConfig
from raspy.devices.reading import Reading
from raspy.devices.registry import Driver, Registry
from raspy.devices.simulated import Cycle, SimulatedFactory, Wave
from raspy.devices.template import DeviceConfig, JsonValue
from raspy.stats import Stats
from raspy.storage.store import Store

Context = zmq.Context[zmq.Socket[bytes]]
HOST = "testhost"
START_WALL = 1_700_000_040.0  # a multiple of every period used here


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(tmp_path / "data", StoreConfig(map_size_initial_mb=1))
    yield opened
    opened.close()


@pytest.fixture
def server(zmq_context: Context, store: Store) -> Iterator[CloneServer]:
    with clone_server(zmq_context, store, SystemClock()) as running:
        yield running


@pytest.fixture
def tree(zmq_context: Context, server: CloneServer) -> Iterator[CloneClient]:
    client = CloneClient(server.endpoints, b"/device/", context=zmq_context)
    client.wait_synced()
    yield client
    client.close()


class Services:
    """Starts device services on the edge and the Clone server; stops them first."""

    def __init__(self, edge: EdgeHandle, server: CloneServer) -> None:
        self.edge = edge
        self.server = server
        self.stats = Stats()
        self.refs: list[pykka.ActorRef[Any]] = []

    def start(
        self, registry: Registry, clock: Clock, discover: Discover | None = None
    ) -> pykka.ActorRef[Any]:
        ref = DeviceServiceActor.start(
            registry,
            self.server.publisher,
            clock=clock,
            stats=self.stats,
            link=MdpLink(self.edge.ref, self.edge.outbox),
            discover=discover,
        )
        self.refs.append(ref)
        return ref

    def stop(self) -> None:
        for ref in reversed(self.refs):
            ref.stop(block=True, timeout=10)


@pytest.fixture
def services(edge: EdgeHandle, server: CloneServer) -> Iterator[Services]:
    running = Services(edge, server)
    yield running
    running.stop()


def _fake(*configs: dict[str, Any]) -> Registry:
    return fake_registry(HOST, DevicesConfig(fake_enabled=True, fake=configs))


def _value(tree: CloneClient, fullname: str, entry: str = "value") -> Any:
    body = tree.get(f"/device/{fullname}/{entry}".encode())
    return None if body is None else json.loads(body)


def _wait_entry(
    tree: CloneClient, fullname: str, entry: str, expected: object, what: str = ""
) -> None:
    wait_until(
        lambda: _value(tree, fullname, entry) == expected,
        what=what or f"{fullname}/{entry} == {expected!r}",
    )


def _request(edge: EdgeHandle, service: str, **document: JsonValue) -> list[bytes]:
    body = json.dumps({"v": 1, **document})
    with Client(edge.endpoint, context=edge.context, timeout_s=3, retries=1) as client:
        return client.request(service, body)


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


SENSOR_A = "28-00000000000a"
SENSOR_B = "28-00000000000b"
SENSOR_C = "28-00000000000c"


def _onewire(w1: FakeW1Tree, **settings: Any) -> tuple[Registry, Discover]:
    config = DevicesConfig(
        onewire_enabled=True,
        onewire_base_dir=str(w1.base_dir),
        onewire_poll_interval_s=1.0,
        **settings,
    )
    return onewire_registry(HOST, config), onewire_discover(config)


def test_onewire_sensors_are_discovered_and_faults_become_their_status(
    services: Services, tree: CloneClient, tmp_path: Path
) -> None:
    """Issue 7: 1-Wire sensors are found at start; a good reading, CRC NO, the 85 °C
    power-on value, an empty file and a sensor removed mid-run each show in the
    tree, and the other sensors keep publishing."""
    w1 = FakeW1Tree(tmp_path / "sys")
    w1.add_celsius(SENSOR_A, 21.5)
    w1.add(SENSOR_B, w1_slave_text(scratchpad(0x0150), crc_ok=False))
    w1.add(SENSOR_C, w1_slave_text(scratchpad(0x0550)))  # 85 °C
    clock = FakeClock(wall=START_WALL)
    registry, discover = _onewire(
        w1, onewire=({"name": "attic", "sensor_id": SENSOR_A},)
    )
    services.start(registry, clock, discover)
    a, b, c = (
        "testhost.onewire.attic",
        f"testhost.onewire.{SENSOR_B}",
        (f"testhost.onewire.{SENSOR_C}"),
    )
    _wait_entry(tree, b, "status", "crc_error")  # the first in name order
    clock.advance(1.0)  # sensors found together are spread over a second
    _wait_entry(tree, a, "value", 21.5)
    _wait_entry(tree, c, "status", "power_on_value")
    w1.remove(SENSOR_A)
    w1.set_celsius(SENSOR_B, -3.25)
    w1.write(SENSOR_C, "")
    clock.advance(60.0)  # past every backoff
    _wait_entry(tree, a, "status", "missing")
    assert _value(tree, a) is None
    _wait_entry(tree, b, "value", -3.25)
    assert _value(tree, b, "status") == "ok"
    _wait_entry(tree, c, "status", "empty")


def test_the_rescan_action_finds_a_sensor_plugged_in_later(
    services: Services, tree: CloneClient, tmp_path: Path
) -> None:
    w1 = FakeW1Tree(tmp_path / "sys")
    w1.add_celsius(SENSOR_A, 20.0)
    registry, discover = _onewire(w1)
    services.start(registry, SystemClock(), discover)
    _wait_entry(tree, f"testhost.onewire.{SENSOR_A}", "value", 20.0)
    w1.add_celsius(SENSOR_B, 18.0625)
    status, reply = _request(services.edge, "testhost.onewire.devices", action="rescan")
    assert (status, json.loads(reply)["rescan"]) == (b"200", "requested")
    _wait_entry(tree, f"testhost.onewire.{SENSOR_B}", "value", 18.0625)
    status, reply = _request(
        services.edge, "testhost.onewire.devices", action="list_keys"
    )
    assert json.loads(reply)["devices"] == [SENSOR_A, SENSOR_B]


def test_a_missing_onewire_bus_leaves_the_service_up_with_no_devices(
    services: Services, tmp_path: Path
) -> None:
    """No w1-gpio overlay: discovery fails, which is logged, not fatal."""
    config = DevicesConfig(
        onewire_enabled=True, onewire_base_dir=str(tmp_path / "no-such-dir")
    )
    with capture_logs() as logs:
        services.start(
            onewire_registry(HOST, config), SystemClock(), onewire_discover(config)
        )
        status, reply = _request(
            services.edge, "testhost.onewire.devices", action="list_keys"
        )
    assert (status, json.loads(reply)["devices"]) == (b"200", [])
    assert [e["event"] for e in logs if e["event"] == "device_rescan_failed"] == [
        "device_rescan_failed"
    ]


def _started_runtime(tmp_path: Path, text: str) -> supervisor.Runtime:
    cfg = config_mod.load(
        text,
        "test.toml",
        data_dir=str(tmp_path / "data"),
        hostname=HOST,
        network__port_base=free_port_base(),
    )
    return supervisor.start(cfg)


def test_the_runtime_starts_the_configured_device_services(tmp_path: Path) -> None:
    """start_devices(): `fake` from the config, wired to the daemon's edge and tree."""
    runtime = _started_runtime(
        tmp_path,
        '[devices]\nfake_enabled = true\n[[devices.fake]]\nname = "rtc"\n'
        'oid = "clock.rtc"\npoll_interval_s = 0.5\n',
    )
    try:
        names = [child.name for child in runtime.children]
        assert names[-2:] == ["clone", "devices.fake"]
        port_base = runtime.config.network.port_base
        with CloneClient(f"tcp://127.0.0.1:{port_base}", b"/device/") as tree:

            def rtc() -> Any:
                return _value(tree, "testhost.fake.rtc")

            seen = wait_until(rtc, what="the rtc in the tree")
            wait_until(lambda: rtc() != seen, what="the rtc to change")
    finally:
        runtime.stop()


def test_a_failed_device_service_is_restarted_by_the_supervisor(
    tmp_path: Path,
) -> None:
    """ARCHITECTURE.md: an actor's failure is logged with its cause and the supervisor
    restarts it; the restarted service polls and publishes again."""
    runtime = _started_runtime(
        tmp_path,
        '[devices]\nfake_enabled = true\n[[devices.fake]]\nname = "rtc"\n'
        'oid = "clock.rtc"\npoll_interval_s = 0.2\n',
    )
    try:
        child = runtime.children[-1]
        first = child.ref
        assert first is not None
        with capture_logs() as logs:
            first.tell(PollerFailed("fake", OSError("reader thread lost")))
            wait_until(
                lambda: child.ref is not None and child.ref is not first,
                what="the device service restarted",
                timeout_s=10,
            )
        failed = [e for e in logs if e["event"] == "device_service_failed"]
        assert [(e["service"], e["log_level"]) for e in failed] == [
            ("testhost.fake.devices", "error")
        ]
        port_base = runtime.config.network.port_base
        with CloneClient(f"tcp://127.0.0.1:{port_base}", b"/device/") as tree:
            seen = wait_until(
                lambda: _value(tree, "testhost.fake.rtc"), what="the rtc in the tree"
            )
            wait_until(
                lambda: _value(tree, "testhost.fake.rtc") != seen,
                what="the restarted service to publish",
            )
    finally:
        runtime.stop()
