"""Simulated devices of the `fake` service, with the clock passed in (issue 7)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support.clock import FakeClock

from raspy.devices.reading import Reading, Status
from raspy.devices.registry import Device, Registry
from raspy.devices.simulated import Cycle, SimulatedFactory, Wave, default_configs
from raspy.errors import DeviceError

START = 1_700_000_400.0  # a multiple of 600 s: every default cycle starts here


@pytest.fixture
def registry() -> Registry:
    return Registry("pi", "fake", SimulatedFactory())


def _sensor(registry: Registry, **fields: object) -> Device:
    return registry.add(
        {"name": "attic", "oid": "sensor.temperature", "min": 10, "max": 20, **fields}
    )


def test_cyclic_sensor_goes_min_to_max_at_half_period_and_back(
    registry: Registry,
) -> None:
    """Issue 7: cyclic sensors (period, min, max, unit): min -> max at half period
    -> min."""
    device = _sensor(registry, period_s=60)
    clock = FakeClock(wall=START)
    values = []
    for _ in range(5):
        values.append(device.read(clock.wall()).value)
        clock.advance(15)
    assert values == [10.0, 15.0, 20.0, 15.0, 10.0]
    assert device.read(START + 30) == Reading(20.0, "°C", Status.OK, START + 30)


def test_ramp_rises_linearly_over_the_period_and_starts_again(
    registry: Registry,
) -> None:
    """Issue 7: linear ramps."""
    device = _sensor(registry, wave="ramp", period_s=40)
    values = [device.read(START + t).value for t in (0, 10, 20, 30, 40)]
    assert values == [10.0, 12.5, 15.0, 17.5, 10.0]


def test_phase_shifts_the_cycle(registry: Registry) -> None:
    device = _sensor(registry, period_s=60, phase_s=15)
    assert device.read(START).value == 15.0


def test_sensor_value_depends_only_on_the_time_passed_in(registry: Registry) -> None:
    """Issue 7: deterministic given the clock; reads have no memory."""
    first = _sensor(registry, period_s=77)
    other = Registry("pi", "fake", SimulatedFactory())
    second = _sensor(other, period_s=77)
    times = [START + t for t in (5.5, 1000.25, 3.0, 5.5)]
    assert [first.read(t) for t in times] == [second.read(t) for t in times]
    assert first.read(times[0]) == first.read(times[3])


def test_readings_come_in_steps_of_the_resolution(registry: Registry) -> None:
    """A sensor reads in steps as a real one does, if configured to."""
    device = _sensor(registry, period_s=60, resolution=0.01)
    assert device.read(START + 1).value == 10.33  # 10 + 10 * 2/60 = 10.333…
    coarse = registry.add(
        {"name": "cellar", "oid": "sensor.temperature", "min": 10, "max": 20}
        | {"period_s": 60, "resolution": 0.5}
    )
    assert [coarse.read(START + t).value for t in (1, 2, 4)] == [10.5, 10.5, 11.5]
    exact = _sensor(registry, period_s=60, name="loft")  # by default: exact
    assert exact.read(START + 1).value == 10 + 10 * (2 / 60)


@given(
    period_s=st.floats(1.0, 86400.0),
    low=st.floats(-1000.0, 1000.0),
    span=st.floats(0.0, 1000.0),
    resolution=st.sampled_from([0.01, 0.0625, 0.1, 0.5, 7.0]),
    now=st.floats(0.0, 4e9),
)
def test_stepped_values_stay_in_range_on_the_steps(
    period_s: float, low: float, span: float, resolution: float, now: float
) -> None:
    cycle = Cycle(Wave.TRIANGLE, period_s, low, low + span, resolution=resolution)
    value = cycle.value_at(now)
    assert low <= value <= low + span
    steps = value / resolution
    assert value in (low, low + span) or abs(steps - round(steps)) < 1e-6


@given(
    wave=st.sampled_from(Wave),
    period_s=st.floats(1.0, 86400.0),
    low=st.floats(-1000.0, 1000.0),
    span=st.floats(0.0, 1000.0),
    now=st.floats(0.0, 4e9),
)
def test_cycle_stays_between_min_and_max(
    wave: Wave, period_s: float, low: float, span: float, now: float
) -> None:
    value = Cycle(wave, period_s, low, low + span).value_at(now)
    assert low - 1e-6 <= value <= low + span + 1e-6


def test_sensor_defaults_depend_on_the_kind(registry: Registry) -> None:
    humidity = registry.add({"name": "bath", "oid": "sensor.humidity"})
    assert (humidity.config.settings["min"], humidity.config.settings["max"]) == (
        30.0,
        70.0,
    )
    with pytest.raises(DeviceError) as caught:
        registry.add({"name": "odd", "oid": "sensor.humidity", "max": 120})
    assert str(caught.value) == (
        "device 'odd': max: expected a number in 0..100, got 120"
    )


def test_simulated_switch_accepts_on_off_toggle_and_state(registry: Registry) -> None:
    """Issue 7: a simulated switch accepts commands."""
    lamp = registry.add({"name": "lamp", "oid": "switch"})
    run = lamp.driver.execute
    assert lamp.read(START) == Reading(False, "", Status.OK, START)
    assert run(lamp.config, "on", None, START).value is True
    assert run(lamp.config, "toggle", None, START).value is False
    assert run(lamp.config, "state", True, START).value is True
    assert run(lamp.config, "off", None, START) == Reading(False, "", Status.OK, START)
    assert dict(lamp.driver.state()) == {"state": False}


def test_simulated_dimmer_remembers_its_level_across_off_and_on(
    registry: Registry,
) -> None:
    """Issue 7: a simulated dimmer accepts commands."""
    dimmer = registry.add({"name": "hall", "oid": "dimmer"})
    run = dimmer.driver.execute
    assert run(dimmer.config, "on", None, START) == Reading(100, "%", Status.OK, START)
    assert run(dimmer.config, "level", 40, START).value == 40
    assert run(dimmer.config, "off", None, START).value == 0
    assert run(dimmer.config, "on", None, START).value == 40
    assert dimmer.driver.reset(dimmer.config, START) == Reading(
        0, "%", Status.OK, START
    )
    assert run(dimmer.config, "on", None, START).value == 100


def test_tv_parts_step_within_their_bounds(registry: Registry) -> None:
    registry.add({"name": "tv", "oid": "media.tv"})
    channel, volume = registry.get("tv.channel"), registry.get("tv.volume")
    assert channel.driver.execute(channel.config, "down", None, START).value == 1
    assert channel.driver.execute(channel.config, "up", None, START).value == 2
    assert volume.driver.execute(volume.config, "volume", 98, START).value == 98
    assert volume.driver.execute(volume.config, "up", None, START).value == 100
    volume.driver.execute(volume.config, "mute", True, START)
    assert dict(volume.driver.state()) == {"volume": 100, "mute": True}


def test_camera_counts_snapshots_and_clock_reads_the_time(registry: Registry) -> None:
    camera = registry.add({"name": "door", "oid": "media.camera"})
    camera.driver.execute(camera.config, "snapshot", None, START)
    assert camera.read(START).value == 1
    rtc = registry.add({"name": "rtc", "oid": "clock.rtc"})
    assert rtc.read(START + 1.5) == Reading(START + 1.5, "s", Status.OK, START + 1.5)


def test_command_a_driver_does_not_know_is_a_device_error(registry: Registry) -> None:
    lamp = registry.add({"name": "lamp", "oid": "switch"})
    with pytest.raises(DeviceError):
        lamp.driver.execute(lamp.config, "level", 5, START)
    sensor = _sensor(registry)
    with pytest.raises(DeviceError):
        sensor.driver.execute(sensor.config, "value", 5.0, START)


def test_make_run_defaults_are_valid_and_cover_every_simulated_kind(
    registry: Registry,
) -> None:
    """Issue 7: simulated devices are on in `make run`, so a newcomer sees live data."""
    registry.add_all(default_configs())
    oids = {d.config.oid for d in registry.devices()}
    assert oids == {
        "sensor.temperature",
        "sensor.humidity",
        "sensor.wind",
        "switch",
        "dimmer",
        "media.tv",
        "media.tv.channel",
        "media.tv.volume",
        "clock.rtc",
    }
    readings = [d.read(START + 7) for d in registry.devices()]
    assert {r.status for r in readings} == {Status.OK}
