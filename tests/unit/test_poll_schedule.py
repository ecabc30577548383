"""PollSchedule and the device-service helpers that need no threads (issue 7: pollers)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

from raspy.actors.poller import PolledDevice
from raspy.config import DevicesConfig
from raspy.devices.poll_schedule import PollSchedule, stagger
from raspy.devices.reading import Reading, Status
from raspy.devices.registries import fake_registry, onewire_registry
from raspy.devices.tree import TreeWriter
from raspy.errors import ConfigError
from raspy.stats import Stats


def _never_read(wall_ts: float) -> Reading:
    raise AssertionError("not read in these tests")


def test_schedule_polls_each_device_on_its_interval_without_drift() -> None:
    """Issue 7: one poller per bus, each device on its poll interval."""
    schedule = PollSchedule()
    schedule.add("a", 1.0, due=10.0)
    schedule.add("b", 2.5, due=10.5)
    assert schedule.next_deadline() == 10.0
    assert schedule.take_due(9.9) == []
    assert schedule.take_due(10.6) == ["a", "b"]
    assert schedule.next_deadline() is None  # both are being read
    schedule.done("a", True, now=10.7)
    schedule.done("b", True, now=10.8)
    assert schedule.next_deadline() == 11.0
    assert schedule.take_due(12.99) == ["a"]
    schedule.done("a", True, now=13.0)  # 12.0 was missed: next at 14.0
    assert schedule.take_due(13.0) == ["b"]
    assert schedule.next_deadline() == 14.0


def test_a_slow_bus_skips_missed_turns_instead_of_reading_twice_in_a_row() -> None:
    schedule = PollSchedule()
    schedule.add("slow", 1.0, due=0.0)
    assert schedule.take_due(0.0) == ["slow"]
    schedule.done("slow", True, now=3.5)  # the read took 3.5 s
    assert schedule.next_deadline() == 4.0


def test_a_failing_device_is_retried_with_doubling_backoff_up_to_the_ceiling() -> None:
    """Issue 7: a failing read is retried with backoff."""
    schedule = PollSchedule(retry_initial_s=1.0, retry_max_s=8.0)
    schedule.add("x", 2.0, due=0.0)
    now, waits = 0.0, []
    for _ in range(6):
        assert schedule.take_due(now) == ["x"]
        schedule.done("x", False, now)
        deadline = schedule.next_deadline()
        assert deadline is not None
        waits.append(deadline - now)
        now = deadline
    assert waits == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert schedule.failures("x") == 6
    assert schedule.take_due(now) == ["x"]
    schedule.done("x", True, now)
    assert schedule.failures("x") == 0
    assert schedule.next_deadline() == now + 2.0


def test_backoff_never_waits_less_than_a_long_interval_allows() -> None:
    schedule = PollSchedule(retry_initial_s=1.0, retry_max_s=60.0)
    assert schedule.backoff_s(300.0, 1) == 1.0
    assert schedule.backoff_s(300.0, 20) == 300.0
    assert schedule.backoff_s(10.0, 1000) == 60.0


def test_poll_now_reads_at_once_or_again_right_after_a_read_in_progress() -> None:
    """Device service `poll` action: read it now."""
    schedule = PollSchedule()
    schedule.add("a", 60.0, due=100.0)
    schedule.poll_now("a", now=5.0)
    assert schedule.take_due(5.0) == ["a"]
    schedule.poll_now("a", now=5.1)  # busy: remembered
    assert schedule.take_due(5.1) == []
    schedule.done("a", True, now=5.2)
    assert schedule.take_due(5.2) == ["a"]
    schedule.poll_now("nobody", now=5.3)  # unknown names are ignored


def test_a_shorter_interval_brings_the_next_read_in() -> None:
    """Device service `config` action: ConfigChanged reschedules the poller."""
    schedule = PollSchedule()
    schedule.add("a", 3600.0, due=0.0)
    assert schedule.take_due(0.0) == ["a"]
    schedule.done("a", True, now=0.0)
    schedule.set_interval("a", 1.0, now=10.0)
    assert schedule.next_deadline() == 11.0
    schedule.set_interval("a", 7200.0, now=10.5)  # longer: the next read stays
    assert schedule.next_deadline() == 11.0


def test_removed_devices_are_never_due_again() -> None:
    schedule = PollSchedule()
    schedule.add("a", 1.0, due=0.0)
    schedule.add("b", 1.0, due=0.0)
    schedule.remove("a")
    assert schedule.take_due(1.0) == ["b"]
    schedule.done("a", True, now=1.0)
    assert len(schedule) == 1


def test_a_non_positive_interval_is_refused() -> None:
    with pytest.raises(ValueError, match="interval must be > 0"):
        PollSchedule().add("a", 0.0, due=0.0)


@settings(max_examples=100)
@example([(1.0, False, 0.0), (0.1, True, 1.0)])  # 2.0 - 1.1 rounds below 0.9
@given(
    st.lists(
        st.tuples(st.floats(0.1, 100.0), st.booleans(), st.floats(0.0, 5.0)),
        min_size=1,
        max_size=40,
    )
)
def test_the_next_read_is_always_in_the_future_and_bounded(
    steps: list[tuple[float, bool, float]],
) -> None:
    """Whatever reads succeed or fail, the next deadline is after the read ended and
    at most max(interval, 60 s) away."""
    schedule = PollSchedule()
    now = 0.0
    for interval_s, ok, read_s in steps:
        schedule.add("d", interval_s, due=now)
        assert schedule.take_due(now) == ["d"]
        now += read_s
        schedule.done("d", ok, now)
        deadline = schedule.next_deadline()
        assert deadline is not None
        assert now < deadline <= now + max(interval_s, 60.0) + 1e-6
        now = deadline


def test_devices_added_together_are_spread_over_at_most_a_second() -> None:
    devices = [PolledDevice(f"d{i}", 10.0, _never_read) for i in range(4)]
    assert stagger(devices, 100.0) == [
        ("d0", 100.0),
        ("d1", 100.25),
        ("d2", 100.5),
        ("d3", 100.75),
    ]
    fast = [PolledDevice("f", 0.2, _never_read), PolledDevice("g", 0.2, _never_read)]
    assert stagger(fast, 0.0) == [("f", 0.0), ("g", 0.1)]


class RecordingPublisher:
    """Records what a TreeWriter publishes (a real object, not a mock); refuses
    keys over 255 bytes as ClonePublisher does (docs/protocols.md §6.2)."""

    def __init__(self) -> None:
        self.sent: list[tuple[bytes, bytes]] = []

    def set_many(
        self, entries: Sequence[tuple[bytes, bytes]]
    ) -> list[tuple[bytes, str]]:
        refused: list[tuple[bytes, str]] = []
        for key, body in entries:
            if len(key) > 255:
                refused.append(
                    (key, f"clone: key_too_long: key of {len(key)} bytes (at most 255)")
                )
            else:
                self.sent.append((key, body))
        return refused


def test_tree_writer_sends_changed_entries_and_all_four_on_a_status_change() -> None:
    """Issue 7: `/device/<fullname>/value` plus unit, timestamp, status."""
    publisher = RecordingPublisher()
    tree = TreeWriter(publisher, Stats(), "fake")
    prefix = b"/device/h.fake.t/"
    assert tree.write("h.fake.t", Reading(20.5, "°C", Status.OK, 1.0)) == 4
    assert publisher.sent == [
        (prefix + b"value", b"20.5"),
        (prefix + b"unit", '"°C"'.encode()),
        (prefix + b"timestamp", b"1.0"),
        (prefix + b"status", b'"ok"'),
    ]
    publisher.sent.clear()
    assert tree.write("h.fake.t", Reading(20.5, "°C", Status.OK, 2.0)) == 1
    assert publisher.sent == [(prefix + b"timestamp", b"2.0")]
    publisher.sent.clear()
    tree.write("h.fake.t", Reading.failed(Status.MISSING, "°C", 3.0, "gone"))
    assert publisher.sent == [
        (prefix + b"value", b"null"),
        (prefix + b"unit", '"°C"'.encode()),
        (prefix + b"timestamp", b"3.0"),
        (prefix + b"status", b'"missing"'),
    ]


def test_tree_writer_sends_all_four_again_after_forget() -> None:
    """raspy-poller back with the hub: the hub may have marked the readings offline,
    so the same reading goes out in full."""
    publisher = RecordingPublisher()
    tree = TreeWriter(publisher, Stats(), "fake")
    reading = Reading(20.5, "°C", Status.OK, 1.0)
    tree.write("h.fake.t", reading)
    assert tree.write("h.fake.t", reading) == 0
    tree.forget()
    assert tree.write("h.fake.t", reading) == 4


def test_a_key_the_tree_refuses_is_counted_and_logged_once() -> None:
    publisher, stats = RecordingPublisher(), Stats()
    tree = TreeWriter(publisher, stats, "fake")
    fullname = "h.fake." + "x" * 234  # /value and /unit fit, /status does not
    with capture_logs() as logs:
        for wall_ts in (1.0, 2.0):
            tree.write(fullname, Reading(1.0, "", Status.OK, wall_ts))
    assert [key for key, _ in publisher.sent] == [
        f"/device/{fullname}/value".encode(),
        f"/device/{fullname}/unit".encode(),
    ]
    assert stats.get("devices.fake.keys_refused") == 3
    assert [e["event"] for e in logs] == ["device_key_refused", "device_key_refused"]


def test_a_bad_fake_device_config_is_a_config_error_naming_device_and_field() -> None:
    config = DevicesConfig(
        fake_enabled=True,
        fake=({"name": "attic", "oid": "sensor.temperature", "period_s": -1.0},),
    )
    with pytest.raises(ConfigError) as caught:
        fake_registry("host", config)
    assert caught.value.problems == [
        "devices.fake: device 'attic': period_s: expected a number in "
        "1..31622400, got -1.0"
    ]


def test_without_fake_device_tables_the_builtin_simulated_set_is_used() -> None:
    registry = fake_registry("host", DevicesConfig(fake_enabled=True))
    assert "outdoor" in registry.names()
    assert registry.devices_service == "host.fake.devices"


def test_named_onewire_sensors_take_the_configured_poll_interval() -> None:
    config = DevicesConfig(
        onewire_enabled=True,
        onewire_poll_interval_s=30.0,
        onewire=({"name": "attic", "sensor_id": "28-0316a2792aff"},),
    )
    device = onewire_registry("host", config).get("attic")
    assert device.config.real("poll_interval_s") == 30.0
    assert device.fullname == "host.onewire.attic"


def test_one_onewire_sensor_under_two_names_is_a_config_error() -> None:
    """As a GPIO pin used twice is: two entries of one sensor made two devices,
    each reading it (a 0.75 s conversion) and writing its value."""
    config = DevicesConfig(
        onewire_enabled=True,
        onewire=(
            {"name": "attic", "sensor_id": "28-0316a2792aff"},
            {"name": "roof", "sensor_id": "28-0316a2792aff"},
        ),
    )
    with pytest.raises(ConfigError) as caught:
        onewire_registry("host", config)
    assert caught.value.problems == [
        "devices.onewire[1].sensor_id: '28-0316a2792aff' is already used by "
        "devices.onewire[0]"
    ]


def test_an_out_of_range_onewire_poll_interval_is_a_config_error() -> None:
    config = DevicesConfig(onewire_enabled=True, onewire_poll_interval_s=0.0)
    with pytest.raises(ConfigError, match="onewire_poll_interval_s"):
        onewire_registry("host", config)
