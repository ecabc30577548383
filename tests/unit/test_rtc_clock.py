"""clock.rtc read from sysfs, and the clock's health from adjtimex (issue 12)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support.rtc_sysfs import FakeRtcTree

from raspy import clockhealth
from raspy.clockhealth import ClockHealth, ClockSource, interpret
from raspy.devices import rtc
from raspy.devices.builtin_kinds import BUILTIN
from raspy.devices.kinds import validate
from raspy.devices.reading import Reading, Status
from raspy.devices.registry import Device
from raspy.devices.template import DeviceConfig
from raspy.errors import DeviceError

NOW = 1_700_000_000.25


@pytest.fixture
def tree(tmp_path: Path) -> FakeRtcTree:
    return FakeRtcTree(tmp_path / "class" / "rtc")


def _device(tree: FakeRtcTree) -> Device:
    factory = rtc.RtcFactory(tree.root)
    config: DeviceConfig = validate(
        BUILTIN,
        {"name": "rtc0", "oid": "clock.rtc"},
        lambda oid: factory.fields(oid) or (),
    )
    return Device(
        "host.rtc.rtc0", BUILTIN.get("clock.rtc"), config, factory.create(config), None
    )


def test_the_rtc_time_is_read_from_since_epoch_and_its_drift_kept(
    tree: FakeRtcTree,
) -> None:
    tree.add("rtc0", 1_700_000_003)
    device = _device(tree)
    assert device.read(NOW) == Reading(1_700_000_003, "s", Status.OK, NOW)
    assert device.driver.state() == {"drift": 2.75}
    assert rtc.read_rtc(tree.root, "rtc0") == rtc.RtcSample(
        "rtc-ds1307 1-0068", 1_700_000_003
    )


def test_the_rtc_takes_no_command_and_says_it_is_a_read_only_clock(
    tree: FakeRtcTree,
) -> None:
    tree.add("rtc0", 1_700_000_003)
    device = _device(tree)
    with pytest.raises(DeviceError, match=r"^device 'rtc0': set: read-only clock$"):
        device.driver.execute(device.config, "set", 1, NOW)


def test_a_missing_rtc_is_an_error_status_naming_the_file(tree: FakeRtcTree) -> None:
    reading = _device(tree).read(NOW)
    assert (reading.status, reading.value) == (Status.ERROR, None)
    assert reading.detail == (
        f"{tree.root}/rtc0/since_epoch: no such file (is the RTC overlay on?)"
    )


def test_a_garbled_since_epoch_is_an_error_status(tree: FakeRtcTree) -> None:
    tree.add("rtc0", 5)
    tree.write("rtc0", "since_epoch", "12ab\n")
    reading = _device(tree).read(NOW)
    assert reading.detail == "since_epoch: expected whole seconds, got '12ab\\n'"


def test_an_rtc_that_fails_a_read_has_no_drift_until_it_reads_again(
    tree: FakeRtcTree,
) -> None:
    """`drift` answered the last good read's drift while the RTC read `error` (its
    battery gone flat, the I2C bus stuck), as if it were the current one."""
    tree.add("rtc0", 1_700_000_003)
    device = _device(tree)
    device.read(NOW)
    tree.write("rtc0", "since_epoch", "garbage\n")
    assert device.read(NOW + 10).status is Status.ERROR
    assert device.driver.state() == {}
    tree.set_time("rtc0", 1_700_000_020)
    device.read(NOW + 20)
    assert device.driver.state() == {"drift": -0.25}


@pytest.mark.parametrize(
    ("text", "expected"), [("0\n", 0), ("1700000000\n", 1_700_000_000), ("42", 42)]
)
def test_since_epoch_is_decimal_seconds(text: str, expected: int) -> None:
    assert rtc.parse_since_epoch(text) == expected


@given(st.text(max_size=30))
def test_any_since_epoch_text_parses_or_raises_a_device_error(text: str) -> None:
    try:
        value = rtc.parse_since_epoch(text)
    except DeviceError:
        return
    assert 0 <= value < 2**40


def test_the_rtc_factory_refuses_a_name_that_is_not_an_rtc(tree: FakeRtcTree) -> None:
    factory = rtc.RtcFactory(tree.root)
    config = validate(
        BUILTIN,
        {"name": "r", "oid": "clock.rtc", "rtc": "../x"},
        lambda oid: factory.fields(oid) or (),
    )
    assert factory.problems(config) == ["rtc: expected rtc0, rtc1, ..., got '../x'"]


# --- adjtimex ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("call", "expected"),
    [
        ((0, 0x2001, 400_000, 1_500),
         ClockHealth(True, "ok", 0x2001, 0.4, 0.0015)),
        ((5, 0x0040, 16_000_000, 16_000_000),
         ClockHealth(False, "error", 0x0040, 16.0, 16.0)),
        ((0, 0x0041, 1_000, 1_000),  # STA_UNSYNC set although the state is ok
         ClockHealth(False, "ok", 0x0041, 0.001, 0.001)),
        ((1, 0x0011, 0, 0),
         ClockHealth(True, "insert_leap", 0x0011, 0.0, 0.0)),
    ],
    ids=["synchronised", "unsynchronised", "unsync-bit", "leap-second"],
)  # fmt: skip
def test_adjtimex_results_are_read_as_clock_health(
    call: tuple[int, int, int, int], expected: ClockHealth
) -> None:
    assert interpret(*call) == expected


def test_the_source_is_ntp_when_synchronised_else_the_rtc_or_none() -> None:
    synced, unsynced = interpret(0, 0, 0, 0), interpret(5, 0x40, 0, 0)
    assert [
        synced.source(rtc_present=False),
        unsynced.source(rtc_present=True),
        unsynced.source(rtc_present=False),
    ] == [ClockSource.NTP, ClockSource.RTC, ClockSource.NONE]


@given(
    st.integers(-(2**31), 2**31),
    st.integers(0, 2**31),
    st.integers(-(2**40), 2**40),
    st.integers(-(2**40), 2**40),
)
def test_any_adjtimex_result_is_clock_health_or_a_value_error(
    code: int, status: int, max_error_us: int, esterror_us: int
) -> None:
    try:
        health = interpret(code, status, max_error_us, esterror_us)
    except ValueError:
        assert code not in range(6)
        return
    assert health.max_error_s >= 0
    assert health.estimated_error_s >= 0


def test_adjtimex_answers_on_this_machine() -> None:
    """The ctypes call itself: read-only, no privilege needed."""
    health = clockhealth.read_kernel()
    assert health.state in ("ok", "insert_leap", "delete_leap", "leap_in_progress",
                            "leap_done", "error")  # fmt: skip
    assert health.synchronised == (
        health.state != "error" and not health.status & clockhealth.STA_UNSYNC
    )


@given(st.binary(max_size=30), st.binary(max_size=30))
def test_any_sysfs_bytes_read_as_a_sample_or_a_device_error(
    since_epoch: bytes, name: bytes
) -> None:
    """The RTC's files as the kernel (or a broken overlay) leaves them: a sample, or
    the DeviceError the device's reading shows as its status."""
    with tempfile.TemporaryDirectory() as folder:
        rtc_dir = Path(folder) / "rtc0"
        rtc_dir.mkdir()
        (rtc_dir / "since_epoch").write_bytes(since_epoch)
        (rtc_dir / "name").write_bytes(name)
        try:
            sample = rtc.read_rtc(Path(folder), "rtc0")
        except DeviceError:
            return
    assert sample.since_epoch >= 0
