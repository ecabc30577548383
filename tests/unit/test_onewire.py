"""1-Wire thermometers against a temporary sysfs tree of real-format files (issue 7)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support.sysfs import (
    DS18B20,
    DS18S20,
    FAMILY_3B,
    POWER_ON_RAW,
    FakeW1Tree,
    max31850_scratchpad,
    raw_of,
    scratchpad,
    w1_slave_text,
)

from raspy.devices import onewire, w1_slave
from raspy.devices.onewire import (
    FoundSensor,
    OneWireFactory,
    discover,
    identify,
    new_configs,
    read_w1_slave,
)
from raspy.devices.reading import Reading, Status
from raspy.devices.registry import Registry
from raspy.devices.w1_slave import W1Result, families, parse_w1_slave
from raspy.errors import DeviceError

NOW = 1_700_000_000.0
ATTIC = "28-0316a2792aff"
CELLAR = "28-000005e2fdc3"
REAL_SAMPLE = (
    "72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57 t=23125\n"
)


@pytest.fixture
def tree(tmp_path: Path) -> FakeW1Tree:
    return FakeW1Tree(tmp_path)


def _registry(tree: FakeW1Tree) -> Registry:
    registry = Registry("pi", "onewire", OneWireFactory(tree.base_dir))
    registry.add_all(new_configs(discover(tree.base_dir), registry))
    return registry


def _poll(registry: Registry) -> dict[str, Reading]:
    return {d.name: d.read(NOW) for d in registry.devices()}


def test_fake_tree_writes_the_format_the_kernel_writes() -> None:
    """The builder matches a w1_slave file read from a real DS18B20."""
    assert w1_slave_text(scratchpad(0x0172)) == REAL_SAMPLE


def test_w1thermsensor_supplies_the_family_table_without_loading_modules() -> None:
    """Issue 7: w1thermsensor with W1THERMSENSOR_NO_KERNEL_MODULE=1 set first."""
    table = families()
    assert os.environ["W1THERMSENSOR_NO_KERNEL_MODULE"] == "1"
    assert table[DS18B20] == w1_slave.Family(DS18B20, "DS18B20", twelve_bit=True)
    assert table[DS18S20].twelve_bit is False


def test_discovery_finds_thermometers_and_ignores_other_entries(
    tree: FakeW1Tree,
) -> None:
    """Issue 7: sensors discovered at start; the bus master and non-thermometer
    families (a DS2413 switch, a ghost 00- entry) are not sensors."""
    tree.add_celsius(ATTIC, 21.375)
    tree.add_celsius(CELLAR, 12.5)
    tree.add("3a-000000123456", "")
    tree.add("00-800000000000", "")
    assert discover(tree.base_dir) == [
        FoundSensor(CELLAR, families()[DS18B20], "DS18B20"),
        FoundSensor(ATTIC, families()[DS18B20], "DS18B20"),
    ]


def test_missing_base_directory_is_a_device_error(tmp_path: Path) -> None:
    with pytest.raises(DeviceError, match="dtoverlay=w1-gpio"):
        discover(tmp_path / "absent")


def test_good_reading_is_ok_in_the_configured_unit(tree: FakeW1Tree) -> None:
    """Issue 7 test: good reading."""
    tree.add_celsius(ATTIC, 21.375)
    registry = _registry(tree)
    assert registry.names() == [ATTIC]
    assert _poll(registry) == {ATTIC: Reading(21.375, "°C", Status.OK, NOW)}
    registry.configure(ATTIC, {"unit": "°F"})
    assert registry.get(ATTIC).read(NOW).value == pytest.approx(70.475)
    registry.configure(ATTIC, {"unit": "K"})
    assert registry.get(ATTIC).read(NOW).value == pytest.approx(294.525)


@pytest.mark.parametrize(
    ("text", "status", "detail"),
    [
        pytest.param(
            w1_slave_text(scratchpad(0x0172), crc_ok=False),
            Status.CRC_ERROR,
            "crc=57 NO",
            id="crc-no",
        ),
        pytest.param(
            w1_slave_text(scratchpad(POWER_ON_RAW)),
            Status.POWER_ON_VALUE,
            "85 °C: no conversion since power-on",
            id="85C",
        ),
        pytest.param("", Status.EMPTY, "empty file", id="empty"),
        pytest.param(
            w1_slave_text(bytes(9)),
            Status.ZERO_SCRATCHPAD,
            "all-zero scratchpad",
            id="zero-scratchpad",
        ),
        pytest.param(
            w1_slave_text(scratchpad(0x07FF)),
            Status.OUT_OF_RANGE,
            "127.9375 °C above the range",
            id="127.9375C",
        ),
        pytest.param(
            w1_slave_text(scratchpad(raw_of(-110.0))),
            Status.UNPLUGGED,
            "-110.0 °C below the range",
            id="minus-110C",
        ),
        pytest.param(
            REAL_SAMPLE.splitlines()[0] + "\n",
            Status.EMPTY,
            "no temperature line",
            id="cut-short",
        ),
        pytest.param("hello\n", Status.MALFORMED, "line 1: 'hello'", id="garbage"),
    ],
)
def test_bad_reads_become_a_typed_status(
    tree: FakeW1Tree, text: str, status: Status, detail: str
) -> None:
    """Issue 7 test: CRC NO, 85 °C, empty file (and the other DS18B20 pitfalls of
    docs/architecture.md) are a device status, not a crash."""
    tree.add_celsius(ATTIC, 20.0)
    registry = _registry(tree)
    tree.write(ATTIC, text)
    assert _poll(registry) == {ATTIC: Reading(None, "°C", status, NOW, detail)}


def test_sensor_removed_mid_run_is_missing_and_the_others_still_read(
    tree: FakeW1Tree,
) -> None:
    """Issue 7 test: sensor removed mid-run."""
    tree.add_celsius(ATTIC, 21.0)
    tree.add_celsius(CELLAR, 12.5)
    registry = _registry(tree)
    tree.remove(ATTIC)
    assert _poll(registry) == {
        ATTIC: Reading(
            None, "°C", Status.MISSING, NOW, f"{ATTIC} is gone from the bus"
        ),
        CELLAR: Reading(12.5, "°C", Status.OK, NOW),
    }


def test_a_named_sensor_without_a_bus_says_the_bus_is_missing_not_the_sensor(
    tmp_path: Path,
) -> None:
    """A sensor named in the config, on a Pi whose 1-Wire overlay is not loaded
    (no /sys/bus/w1 at all): its status said `28-...: gone from the bus`, which
    sent a household to its wiring rather than to config.txt."""
    base_dir = tmp_path / "sys" / "bus" / "w1" / "devices"
    reading = read_w1_slave(base_dir, ATTIC)
    assert reading == W1Result(
        Status.MISSING,
        None,
        f"no 1-Wire bus: {base_dir} does not exist (is dtoverlay=w1-gpio in "
        "config.txt?)",
    )


def test_a_named_sensor_without_a_bus_master_says_the_bus_master_is_missing(
    tree: FakeW1Tree,
) -> None:
    """The w1 core's folder with no `w1_bus_master*` in it (the w1-gpio overlay not
    loaded, or its pin not wired): no sensor can answer, and the status said this
    one was gone from the bus."""
    (tree.base_dir / "w1_bus_master1").unlink()
    assert read_w1_slave(tree.base_dir, ATTIC) == W1Result(
        Status.MISSING,
        None,
        f"no 1-Wire bus master in {tree.base_dir} (is dtoverlay=w1-gpio in "
        "config.txt?)",
    )


def test_a_sensor_on_the_bus_without_its_file_says_no_driver_serves_it(
    tree: FakeW1Tree,
) -> None:
    """A thermometer the bus lists but the w1-therm driver does not serve (its
    module not loaded) has a folder and no `w1_slave`: its status said it was gone
    from the bus, where it plainly is."""
    tree.add_celsius(ATTIC, 21.0)
    (tree.base_dir / ATTIC / "w1_slave").unlink()
    assert read_w1_slave(tree.base_dir, ATTIC) == W1Result(
        Status.MISSING,
        None,
        f"{ATTIC} is on the bus but has no w1_slave file (is the w1-therm module "
        "loaded?)",
    )


def test_unreadable_file_is_unreadable(tree: FakeW1Tree) -> None:
    """Issue 7: an unreadable file becomes a status (here w1_slave is a folder)."""
    tree.add_celsius(ATTIC, 21.0)
    registry = _registry(tree)
    slave = tree.root / "devices" / "w1_bus_master1" / ATTIC / "w1_slave"
    slave.unlink()
    slave.mkdir()
    reading = registry.get(ATTIC).read(NOW)
    assert (reading.value, reading.status) == (None, Status.UNREADABLE)


def test_non_ascii_bytes_are_malformed(tree: FakeW1Tree) -> None:
    tree.add_celsius(ATTIC, 21.0)
    registry = _registry(tree)
    slave = tree.root / "devices" / "w1_bus_master1" / ATTIC / "w1_slave"
    slave.write_bytes(b"\xff\xfe")
    assert registry.get(ATTIC).read(NOW).status is Status.MALFORMED


def test_rescan_adds_only_new_sensors(tree: FakeW1Tree) -> None:
    """Issue 7: sensors discovered at start and on a rescan command."""
    tree.add_celsius(ATTIC, 21.0)
    registry = _registry(tree)
    registry.configure(ATTIC, {"info": "attic"})
    tree.add_celsius(CELLAR, 12.5)
    added = registry.add_all(new_configs(discover(tree.base_dir), registry))
    assert [d.name for d in added] == [CELLAR]
    assert new_configs(discover(tree.base_dir), registry) == []


def test_named_sensor_keeps_its_name_across_rescans(tree: FakeW1Tree) -> None:
    tree.add_celsius(ATTIC, 21.0)
    registry = Registry("pi", "onewire", OneWireFactory(tree.base_dir))
    registry.add({"name": "attic", "oid": "sensor.temperature", "sensor_id": ATTIC})
    assert new_configs(discover(tree.base_dir), registry) == []
    assert registry.get("attic").read(NOW).value == 21.0


def test_config_with_a_bad_sensor_id_is_refused(tree: FakeW1Tree) -> None:
    registry = Registry("pi", "onewire", OneWireFactory(tree.base_dir))
    with pytest.raises(DeviceError) as caught:
        registry.add({"name": "t", "oid": "sensor.temperature", "sensor_id": "3a-1"})
    assert str(caught.value) == (
        "device 't': sensor_id: expected a thermometer id "
        "(family 10, 22, 28, 3b, 42, 12 hex digits), got '3a-1'"
    )
    with pytest.raises(DeviceError, match="sensor_id: required"):
        registry.add({"name": "t", "oid": "sensor.temperature"})


def test_ds18s20_temperature_comes_from_the_kernel_t_value() -> None:
    """DS18S20 (family 10) is not 12-bit: the kernel's t= carries the value."""
    data = bytes([0x2E, 0x00, 0x4B, 0x46, 0xFF, 0xFF, 0x0C, 0x10])
    text = w1_slave_text(data + bytes([w1_slave.crc8(data)]), t_milli=22750)
    assert parse_w1_slave(text, DS18S20) == W1Result(Status.OK, 22.75)


def _ds18s20_text(halves: int, count_remain: int, t_milli: str | None = None) -> str:
    """A DS18S20's file for a count of `halves` ½ °C and its COUNT_REMAIN (of 16),
    with the `t=` the kernel computes from them (w1_therm's w1_DS18S20_convert_temp)
    unless given."""
    data = halves.to_bytes(2, "little", signed=True)
    data += bytes([0x4B, 0x46, 0xFF, 0xFF, count_remain, 0x10])
    text = w1_slave_text(data + bytes([w1_slave.crc8(data)]), t_milli=0)
    kernel = (halves >> 1) * 1000 - 250 + 1000 * (16 - count_remain) // 16
    return text.replace("t=0\n", f"t={kernel if t_milli is None else t_milli}\n")


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        pytest.param(
            _ds18s20_text(46, 12, "231"),
            "t=231 is not the scratchpad's 23.0 °C",
            id="cut",
        ),
        pytest.param(
            _ds18s20_text(46, 12, "0"), "t=0 is not the scratchpad's 23.0 °C", id="zero"
        ),
        pytest.param(
            _ds18s20_text(-21, 4, "-1"),
            "t=-1 is not the scratchpad's -10.5 °C",
            id="negative",
        ),
    ],
)
def test_a_ds18s20_t_value_far_from_its_scratchpad_is_refused(
    text: str, detail: str
) -> None:
    """A `t=` cut short (`t=231` of `t=23125`) read 0.231 °C; so did the kernel's
    `t=0` for a scratchpad it could not convert. The scratchpad counts ½ °C."""
    assert parse_w1_slave(text, DS18S20) == W1Result(Status.MALFORMED, None, detail)


@pytest.mark.parametrize(
    "family", [DS18B20, DS18S20, FAMILY_3B], ids=["ds18b20", "ds18s20", "3b"]
)
@pytest.mark.parametrize("cut", [1, 3], ids=["newline", "digits"])
def test_a_file_cut_short_is_refused_as_truncated(family: int, cut: int) -> None:
    """The kernel ends the file with a newline; without one it was cut short."""
    text = _ds18s20_text(46, 12) if family == DS18S20 else REAL_SAMPLE
    assert parse_w1_slave(text[:-cut], family) == W1Result(
        Status.MALFORMED, None, "truncated: no newline at the end"
    )


@given(halves=st.integers(-55 * 2, 125 * 2), remain=st.integers(1, 8))
def test_a_ds18s20_reads_the_kernels_t_value_when_its_bytes_agree(
    halves: int, remain: int
) -> None:
    """The count of ½ °C is the temperature rounded; COUNT_REMAIN agrees with it
    (1-8 for an odd count, 9-16 for an even one): the kernel's finer `t=` is read,
    and judged as any temperature (85 °C, the range)."""
    remain += 0 if halves % 2 else 8
    text = _ds18s20_text(halves, remain)
    t_milli = int(text.rsplit("t=", 1)[1])
    assert parse_w1_slave(text, DS18S20) == w1_slave.classify(t_milli / 1000)


@given(
    halves=st.integers(-55 * 2, 125 * 2),
    remain=st.integers(1, 16),
    keep=st.integers(1, 6),
)
def test_a_ds18s20_t_value_cut_short_is_refused_or_agrees(
    halves: int, remain: int, keep: int
) -> None:
    """Whatever digits of `t=` are left, the value read is within ½ °C of the
    scratchpad's count, or the reading is refused."""
    text = _ds18s20_text(halves, remain)
    t_text = text.rsplit("t=", 1)[1].strip()[:keep]
    if t_text in ("", "-"):
        return
    result = parse_w1_slave(_ds18s20_text(halves, remain, t_text), DS18S20)
    cut_c = int(t_text) / 1000
    if abs(cut_c - halves / 2) <= 0.5:
        assert result == w1_slave.classify(cut_c)
    else:
        assert result.status is Status.MALFORMED


@given(
    text=st.text(max_size=120).filter(lambda t: t.strip() and not t.endswith("\n")),
    family=st.sampled_from([DS18B20, DS18S20, FAMILY_3B]),
)
def test_any_text_without_a_final_newline_is_malformed(text: str, family: int) -> None:
    assert parse_w1_slave(text, family).status is Status.MALFORMED


@given(raw=st.integers(-55 * 16, 125 * 16))
def test_every_raw_count_in_range_reads_back_as_sixteenths(raw: int) -> None:
    result = parse_w1_slave(w1_slave_text(scratchpad(raw)), DS18B20)
    if raw == POWER_ON_RAW:
        assert result.status is Status.POWER_ON_VALUE
    else:
        assert result == W1Result(Status.OK, raw / 16)


@given(text=st.text(max_size=120) | st.just(REAL_SAMPLE))
def test_any_text_parses_to_a_status_without_raising(text: str) -> None:
    result = parse_w1_slave(text, DS18B20)
    assert isinstance(result.status, Status)
    assert (result.celsius is None) is (result.status is not Status.OK)


@given(
    data=st.binary(min_size=9, max_size=9),
    drop=st.integers(0, 90),
)
def test_damaged_real_format_parses_to_a_status_without_raising(
    data: bytes, drop: int
) -> None:
    text = w1_slave_text(data)
    result = parse_w1_slave(text[:drop] + text[drop + 1 :], DS18B20)
    assert (result.celsius is None) is (result.status is not Status.OK)


@given(
    raw=st.integers(-55 * 16, 125 * 16),
    bits=st.sampled_from([9, 10, 11, 12]),
)
def test_at_a_lower_resolution_the_undefined_low_bits_are_not_counted(
    raw: int, bits: int
) -> None:
    """At 9-11 bits a DS18B20 leaves the last 3-1 bits of its count undefined:
    whatever they hold, the reading is the count in steps of that resolution."""
    config = 0x1F | (bits - 9) << 5  # 0x1F, 0x3F, 0x5F, 0x7F
    step = 1 << (12 - bits)
    result = parse_w1_slave(w1_slave_text(scratchpad(raw, config)), DS18B20)
    if result.status is Status.OK:
        assert result.celsius == (raw // step * step) / 16
    else:
        assert (raw // step * step) == POWER_ON_RAW


THERMOCOUPLE = "3b-0000001a2b3c"


def test_a_max31850_reads_far_beyond_the_ds18b20_range(tree: FakeW1Tree) -> None:
    """Family 3b with the top configuration bit set is a MAX31850: 300 °C is a
    reading (a DS18B20 or DS1825 would be out of range), 85 °C is no power-on value."""
    tree.add(THERMOCOUPLE, w1_slave_text(max31850_scratchpad(300.0, address=5)))
    registry = _registry(tree)
    assert registry.names() == [THERMOCOUPLE]
    assert _poll(registry) == {THERMOCOUPLE: Reading(300.0, "°C", Status.OK, NOW)}
    for celsius in (85.0, -200.25, 1372.75, 0.0):
        tree.write(THERMOCOUPLE, w1_slave_text(max31850_scratchpad(celsius)))
        assert registry.get(THERMOCOUPLE).read(NOW).value == celsius


@pytest.mark.parametrize(
    ("faults", "detail"),
    [
        (0b001, "thermocouple: open circuit"),
        (0b010, "thermocouple: short to GND"),
        (0b100, "thermocouple: short to VCC"),
        (0b110, "thermocouple: short to GND, short to VCC"),
    ],
)
def test_a_max31850_fault_is_a_status_not_a_reading(
    tree: FakeW1Tree, faults: int, detail: str
) -> None:
    text = w1_slave_text(max31850_scratchpad(2047.75, faults=faults))
    tree.add(THERMOCOUPLE, text)
    registry = _registry(tree)
    assert _poll(registry) == {
        THERMOCOUPLE: Reading(None, "°C", Status.THERMOCOUPLE_FAULT, NOW, detail)
    }


def test_a_max31850_beyond_any_thermocouple_is_out_of_range() -> None:
    result = parse_w1_slave(w1_slave_text(max31850_scratchpad(1800.0)), FAMILY_3B)
    assert result == W1Result(Status.OUT_OF_RANGE, None, "1800.0 °C outside the range")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (raw_of(21.5), W1Result(Status.OK, 21.5)),
        (
            POWER_ON_RAW,
            W1Result(
                Status.POWER_ON_VALUE, None, "85 °C: no conversion since power-on"
            ),
        ),
        (
            raw_of(300.0),
            W1Result(Status.OUT_OF_RANGE, None, "300.0 °C above the range"),
        ),
    ],
)
def test_a_ds1825_keeps_the_thermometer_rules(raw: int, expected: W1Result) -> None:
    """Its configuration register (0 R1 R0 1, then the address pins) has the top bit
    clear: the 3b thermometer keeps the DS18B20's range and 85 °C rule."""
    text = w1_slave_text(scratchpad(raw, config=0x7A))
    assert parse_w1_slave(text, FAMILY_3B) == expected


DS1825_ID = "3b-000000a1b2c3"


def test_a_family_3b_part_is_named_by_what_its_scratchpad_says(
    tree: FakeW1Tree,
) -> None:
    """Family 3b is a DS1825 or a MAX31850: until read, discovery says both; once
    read, what it is. Other families are named by their code alone. The id stays
    the device's name either way."""
    tree.add(THERMOCOUPLE, w1_slave_text(max31850_scratchpad(300.0)))
    tree.add(DS1825_ID, w1_slave_text(scratchpad(raw_of(21.0))))
    tree.add_celsius(ATTIC, 21.0)
    found = discover(tree.base_dir)
    assert [(s.sensor_id, s.model) for s in found] == [
        (ATTIC, "DS18B20"),
        (THERMOCOUPLE, "DS1825 or MAX31850"),
        (DS1825_ID, "DS1825 or MAX31850"),
    ]
    assert [identify(tree.base_dir, s).model for s in found] == [
        "DS18B20",
        "MAX31850",
        "DS1825",
    ]
    tree.write(THERMOCOUPLE, w1_slave_text(max31850_scratchpad(20.0), crc_ok=False))
    assert identify(tree.base_dir, found[1]).model == "DS1825 or MAX31850"
    registry = Registry("pi", "onewire", OneWireFactory(tree.base_dir))
    configs = new_configs([identify(tree.base_dir, s) for s in found], registry)
    assert [c["name"] for c in configs] == [ATTIC, THERMOCOUPLE, DS1825_ID]


@given(
    data=st.binary(max_size=120)
    | st.builds(
        lambda text, cut: text.encode()[:cut],
        st.just(REAL_SAMPLE),
        st.integers(0, len(REAL_SAMPLE)),
    ),
    sensor_id=st.sampled_from([ATTIC, "3b-0000001a2b3c", "10-000802b4a3f1"]),
)
def test_any_bytes_in_the_sensor_file_read_to_a_status_without_raising(
    data: bytes, sensor_id: str
) -> None:
    """The kernel's file as bytes (not ASCII, cut short mid-conversion): a reading's
    status, and a scratchpad of 9 bytes or none; never an exception."""
    with tempfile.TemporaryDirectory() as base:
        folder = Path(base) / sensor_id
        folder.mkdir()
        (folder / "w1_slave").write_bytes(data)
        result = read_w1_slave(Path(base), sensor_id)
        pad = onewire.read_scratchpad(Path(base), sensor_id)
    assert isinstance(result.status, Status)
    assert pad is None or len(pad) == 9
