"""1-Wire thermometers (DS18B20 and relatives, and the MAX31850 thermocouple
converter, which shares the DS1825's family code) read through the Linux sysfs tree.

The `w1_slave` format is parsed here by a pure function, parse_w1_slave(); only
read_w1_slave() and discover() touch files. w1thermsensor gives the table of sensor
families (names, 12-bit format); raspy does not read through it, because its base
directory is a class attribute shared by the whole process, it reports a CRC failure
and an all-zero scratchpad as the same error, and it passes 127.9375 °C and about
-110 °C off as temperatures. A sensor fault is a reading status, never an exception.

How to enable 1-Wire on a Raspberry Pi:

1. Wire each DS18B20: GND to ground, VDD to 3.3 V, DQ (data) to GPIO4 (pin 7), and
   one 4.7 kΩ pull-up resistor between DQ and 3.3 V for the whole bus.
2. Add `dtoverlay=w1-gpio` to /boot/config.txt (/boot/firmware/config.txt on
   Raspberry Pi OS Bookworm; `dtoverlay=w1-gpio,gpiopin=N` for another pin), reboot.
3. `ls /sys/bus/w1/devices/` lists one `28-xxxxxxxxxxxx` directory per sensor; `cat`
   its `w1_slave` shows `... crc=.. YES` and `t=21375` (21.375 °C). raspy never loads
   kernel modules itself (W1THERMSENSOR_NO_KERNEL_MODULE=1); the overlay does.

A read takes 750 to 950 ms (the sensor converts while the kernel waits), so callers
read off any thread that others wait for, and never let an error end the polling.
"""

from __future__ import annotations

import functools
import os
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Final

from raspy.devices.reading import Reading, Status
from raspy.devices.registry import Driver, ReadOnlySensor, Registry
from raspy.devices.template import (
    DeviceConfig,
    FieldSpec,
    JsonValue,
    ValueSpec,
    ValueType,
)
from raspy.errors import DeviceError, quote

DEFAULT_BASE_DIR: Final = "/sys/bus/w1/devices"
SLAVE_FILE: Final = "w1_slave"
SENSOR_ID: Final = re.compile(r"([0-9a-f]{2})-[0-9a-f]{12}")
OID: Final = "sensor.temperature"
POWER_ON_C: Final = 85.0  # DS18B20 power-on reset value of the scratchpad
RANGE_C: Final = (-55.0, 125.0)  # the datasheet range of the DS18x20 family
# Family 3b is the DS1825 thermometer and the MAX31850 thermocouple converter. The
# top bit of the configuration register (scratchpad byte 4) tells them apart: it
# reads 0 on a DS1825 (0 R1 R0 1 AD3-AD0), 1 on a MAX31850 (bits 7-4 read 1).
FAMILY_3B: Final = 0x3B
# The DS18S20 (family 10) counts ½ °C in scratchpad bytes 0-1; the kernel's `t=` adds
# its extended resolution (COUNT_REMAIN, COUNT_PER_C), within ¼ °C of that count
# when the bytes agree. Further than this from it, `t=` is not the sensor's.
FAMILY_DS18S20: Final = 0x10
_DS18S20_AGREE_C: Final = 0.5
_MAX31850_CONFIG_BIT: Final = 0x80
MAX31850: Final = "MAX31850"
DS1825: Final = "DS1825"
UNTOLD_3B: Final = "DS1825 or MAX31850"  # a family-3b part not read yet
# What a MAX31850 can report (types K to E; the widest, S and R, to +1768 °C)
MAX31850_RANGE_C: Final = (-270.0, 1768.0)
# MAX31850 byte 0 bit 0: a fault; byte 2 bits 0-2 say which
_MAX31850_FAULTS: Final = (
    (0x01, "open circuit"),
    (0x02, "short to GND"),
    (0x04, "short to VCC"),
)
_MAX_FILE_BYTES: Final = 4096
_HEX_BYTES: Final = r"((?:[0-9a-fA-F]{2} ){9})"
_CRC_LINE: Final = re.compile(_HEX_BYTES + r": crc=([0-9a-fA-F]{2}) (YES|NO)")
_TEMP_LINE: Final = re.compile(_HEX_BYTES + r"t=(-?[0-9]{1,7})")


@dataclass(frozen=True, slots=True)
class Family:
    """A 1-Wire thermometer family: code (first byte of the id), name, 12-bit format."""

    code: int
    name: str
    twelve_bit: bool


@functools.cache
def families() -> Mapping[int, Family]:
    """The thermometer families w1thermsensor knows, by family code."""
    # w1thermsensor runs modprobe on import unless told not to: raspy never loads
    # kernel modules (that needs root; the w1-gpio overlay does it at boot).
    os.environ["W1THERMSENSOR_NO_KERNEL_MODULE"] = "1"
    from w1thermsensor import Sensor

    return MappingProxyType(
        {
            int(member.value): Family(
                int(member.value),
                str(member.name),
                bool(member.comply_12bit_standard()),
            )
            for member in Sensor
        }
    )


@dataclass(frozen=True, slots=True)
class W1Result:
    """What one `w1_slave` file says: a status, °C when OK, and a detail if not."""

    status: Status
    celsius: float | None = None
    detail: str = ""


def crc8(data: bytes) -> int:
    """Dallas/Maxim CRC-8 (x^8 + x^5 + x^4 + 1, LSB first), as the scratchpad uses."""
    crc = 0
    for byte in data:
        for bit in range(8):
            mix = (crc ^ (byte >> bit)) & 1
            crc >>= 1
            if mix:
                crc ^= 0x8C
    return crc


def classify(celsius: float) -> W1Result:
    """A temperature as a result: the known bad values become their status."""
    if celsius == POWER_ON_C:
        return W1Result(
            Status.POWER_ON_VALUE, None, "85 °C: no conversion since power-on"
        )
    if celsius > RANGE_C[1]:
        return W1Result(Status.OUT_OF_RANGE, None, f"{celsius} °C above the range")
    if celsius < RANGE_C[0]:
        return W1Result(Status.UNPLUGGED, None, f"{celsius} °C below the range")
    return W1Result(Status.OK, celsius)


def parse_w1_slave(text: str, family_code: int) -> W1Result:
    """Parse the two lines of a `w1_slave` file, e.g.

        72 01 4b 46 7f ff 0e 10 57 : crc=57 YES
        72 01 4b 46 7f ff 0e 10 57 t=23125

    Pure; never raises. 12-bit families are decoded from the scratchpad bytes (1/16 °C,
    two's complement, LSB first); others (DS18S20) from the kernel's `t=` (m°C),
    which for a DS18S20 must agree with its scratchpad (see _ds18s20). The kernel
    ends the file with a newline: text without one was cut short (`t=231` of
    `t=23125` would read 0.231 °C), and is refused.
    """
    if not text.strip():
        return W1Result(Status.EMPTY, None, "empty file")
    if not text.endswith("\n"):
        return W1Result(Status.MALFORMED, None, "truncated: no newline at the end")
    lines = text.splitlines()
    scratchpad = _scratchpad(lines[0])
    if isinstance(scratchpad, W1Result):
        return scratchpad
    if len(lines) < 2 or not lines[1].strip():
        return W1Result(Status.EMPTY, None, "no temperature line")
    temp_line = _TEMP_LINE.fullmatch(lines[1].strip())
    if temp_line is None or bytes.fromhex(temp_line[1]) != scratchpad:
        return W1Result(Status.MALFORMED, None, f"line 2: {quote(lines[1])}")
    if scratchpad == bytes(9):
        return W1Result(Status.ZERO_SCRATCHPAD, None, "all-zero scratchpad")
    if family_code == FAMILY_3B and scratchpad[4] & _MAX31850_CONFIG_BIT:
        return _thermocouple(scratchpad)
    family = families().get(family_code)
    if family is not None and family.twelve_bit:
        celsius = _sixteenths(scratchpad) / 16.0
    elif family_code == FAMILY_DS18S20:
        return _ds18s20(scratchpad, int(temp_line[2]))
    else:
        celsius = int(temp_line[2]) / 1000.0
    return classify(celsius)


def _ds18s20(scratchpad: bytes, t_milli: int) -> W1Result:
    """A DS18S20's `t=` (m°C), refused when it is more than ½ °C from the count of
    its scratchpad (bytes 0-1: ½ °C, two's complement, LSB first): a value cut short
    or the kernel's `t=0` for a scratchpad it could not convert (COUNT_PER_C 0)."""
    halves = int.from_bytes(scratchpad[:2], "little", signed=True) / 2.0
    celsius = t_milli / 1000.0
    if abs(celsius - halves) > _DS18S20_AGREE_C:
        return W1Result(
            Status.MALFORMED,
            None,
            f"t={t_milli} is not the scratchpad's {halves} °C",
        )
    return classify(celsius)


def _scratchpad(first_line: str) -> bytes | W1Result:
    """The 9 bytes of a `w1_slave` file's first line if its CRC holds, else why not."""
    crc_line = _CRC_LINE.fullmatch(first_line.strip())
    if crc_line is None:
        return W1Result(Status.MALFORMED, None, f"line 1: {quote(first_line)}")
    scratchpad = bytes.fromhex(crc_line[1])
    if crc_line[3] == "NO":
        return W1Result(Status.CRC_ERROR, None, f"crc={crc_line[2]} NO")
    if crc8(scratchpad[:8]) != scratchpad[8]:
        return W1Result(Status.CRC_ERROR, None, "crc does not match the bytes")
    return scratchpad


def _thermocouple(scratchpad: bytes) -> W1Result:
    """A MAX31850's scratchpad: a fault as its status, else the cold-junction
    compensated temperature (bytes 0-1: 1/4 °C in bits 15-2, bit 1 reserved, bit 0
    the fault flag) checked against the thermocouple range."""
    if scratchpad[0] & 0x01:
        found = [name for bit, name in _MAX31850_FAULTS if scratchpad[2] & bit]
        return W1Result(
            Status.THERMOCOUPLE_FAULT,
            None,
            "thermocouple: " + (", ".join(found) or "fault, cause not given"),
        )
    raw = int.from_bytes(scratchpad[:2], "little", signed=True) & ~0b11
    celsius = raw / 16.0
    low, high = MAX31850_RANGE_C
    if not low <= celsius <= high:
        return W1Result(Status.OUT_OF_RANGE, None, f"{celsius} °C outside the range")
    return W1Result(Status.OK, celsius)


def _sixteenths(scratchpad: bytes) -> int:
    """The raw count of a 12-bit family, its undefined low bits cleared: at 9, 10 or
    11 bits (configuration register, byte 4, bits 5-6) the sensor leaves the last
    3, 2 or 1 bits undefined, as the kernel's own `t=` does not count them."""
    raw = int.from_bytes(scratchpad[:2], "little", signed=True)
    bits = 9 + (scratchpad[4] >> 5 & 0b11)
    return raw & ~((1 << (12 - bits)) - 1)


def read_w1_slave(base_dir: Path, sensor_id: str) -> W1Result:
    """Read and parse one sensor's file; blocks while the sensor converts. Never raises
    for a fault: a vanished sensor is MISSING, another OS error UNREADABLE."""
    text = _read_text(base_dir, sensor_id)
    if isinstance(text, W1Result):
        return text
    return parse_w1_slave(text, int(sensor_id[:2], 16))


def _read_text(base_dir: Path, sensor_id: str) -> str | W1Result:
    """A sensor's `w1_slave` text; blocks while it converts; a fault as its result."""
    path = base_dir / sensor_id / SLAVE_FILE
    try:
        with path.open("rb") as file:
            raw = file.read(_MAX_FILE_BYTES)
    except (FileNotFoundError, NotADirectoryError):
        return W1Result(Status.MISSING, None, f"{sensor_id} is gone from the bus")
    except OSError as exc:
        return W1Result(
            Status.UNREADABLE, None, f"{type(exc).__name__}: {exc.strerror}"
        )
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError:
        return W1Result(Status.MALFORMED, None, "not ASCII text")


def model_of(family: Family, scratchpad: bytes | None) -> str:
    """The part a sensor is: its family's name, but for family 3b what its
    configuration register says (UNTOLD_3B if it has not been read)."""
    if family.code != FAMILY_3B:
        return family.name
    if scratchpad is None:
        return UNTOLD_3B
    return MAX31850 if scratchpad[4] & _MAX31850_CONFIG_BIT else DS1825


def read_scratchpad(base_dir: Path, sensor_id: str) -> bytes | None:
    """The 9 bytes of a sensor's scratchpad if its `w1_slave` reads whole and its
    CRC holds, else None; blocks while the sensor converts; never raises."""
    text = _read_text(base_dir, sensor_id)
    if isinstance(text, W1Result):
        return None
    scratchpad = _scratchpad(text.partition("\n")[0])
    if isinstance(scratchpad, W1Result) or scratchpad == bytes(9):
        return None
    return scratchpad


@dataclass(frozen=True, slots=True)
class FoundSensor:
    """A thermometer present on the bus: its id (e.g. `28-0316a2792aff`), family
    and the part it is (`model`: the family's name unless told, see model_of)."""

    sensor_id: str
    family: Family
    model: str


def identify(base_dir: Path, sensor: FoundSensor) -> FoundSensor:
    """`sensor` named by what it is: a family-3b part is read once (its
    configuration register tells a DS1825 from a MAX31850); others need no read."""
    if sensor.family.code != FAMILY_3B:
        return sensor
    scratchpad = read_scratchpad(base_dir, sensor.sensor_id)
    return FoundSensor(
        sensor.sensor_id, sensor.family, model_of(sensor.family, scratchpad)
    )


def identify_all(
    base_dir: Path, sensors: list[FoundSensor], timeout_s: float
) -> tuple[list[FoundSensor], list[str]]:
    """identify() for each sensor, the reads side by side on threads of their own,
    all within `timeout_s`: the caller is the device service's actor, which must
    not hang on a bus that does not answer (a read blocks in the kernel, and
    cannot be cut short). A part not told in time stays UNTOLD_3B, its thread
    left to end with its read; returns the sensors and the ids not told in time.
    Only the log names the part: a sensor's name and keys are its id either way."""
    told: dict[str, FoundSensor] = {}
    lock = threading.Lock()

    def tell(sensor: FoundSensor) -> None:
        result = identify(base_dir, sensor)
        with lock:
            told[sensor.sensor_id] = result

    threads = [
        threading.Thread(
            target=tell, args=(sensor,), name="raspy-w1-identify", daemon=True
        )
        for sensor in sensors
        if sensor.family.code == FAMILY_3B
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout_s
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    with lock:
        found = [told.get(sensor.sensor_id, sensor) for sensor in sensors]
        late = [
            s.sensor_id
            for s in sensors
            if s.family.code == FAMILY_3B and s.sensor_id not in told
        ]
    return found, late


def discover(base_dir: Path) -> list[FoundSensor]:
    """The thermometers under `base_dir`, sorted by id, named by family (a family-3b
    part as UNTOLD_3B until identify() reads it); DeviceError if unreadable."""
    try:
        names = [entry.name for entry in base_dir.iterdir()]
    except OSError as exc:
        raise DeviceError(
            f"1-Wire: cannot list {base_dir}: {exc.strerror} "
            "(is dtoverlay=w1-gpio in config.txt?)"
        ) from exc
    found = []
    for name in sorted(names):
        match = SENSOR_ID.fullmatch(name)
        family = families().get(int(match[1], 16)) if match else None
        if family is not None:
            found.append(FoundSensor(name, family, model_of(family, None)))
    return found


def new_sensors(found: list[FoundSensor], registry: Registry) -> list[FoundSensor]:
    """The found sensors the registry does not have yet."""
    known = {d.config.settings.get("sensor_id") for d in registry.devices()}
    return [
        sensor
        for sensor in found
        if sensor.sensor_id not in known and registry.find(sensor.sensor_id) is None
    ]


def new_configs(
    found: list[FoundSensor], registry: Registry
) -> list[dict[str, JsonValue]]:
    """Configs for found sensors the registry does not have yet (named by their id,
    whatever the part: the id is the device's name and key, the model is not)."""
    return [
        {"name": sensor.sensor_id, "oid": OID, "sensor_id": sensor.sensor_id}
        for sensor in new_sensors(found, registry)
    ]


def from_celsius(celsius: float, unit: str) -> float:
    """°C in the unit of a sensor.temperature (°C, °F or K)."""
    if unit == "°F":
        return celsius * 9.0 / 5.0 + 32.0
    if unit == "K":
        return celsius + 273.15
    return celsius


class OneWireSensor(ReadOnlySensor):
    """The driver of one thermometer; read-only; holds only the base directory."""

    def __init__(self, base_dir: Path) -> None:
        self._base_dir = base_dir

    def read(self, config: DeviceConfig, now: float) -> Reading:
        result = read_w1_slave(self._base_dir, config.text("sensor_id"))
        unit = config.text("unit")
        if result.celsius is None:
            return Reading.failed(result.status, unit, now, result.detail)
        return Reading(from_celsius(result.celsius, unit), unit, Status.OK, now)


class OneWireFactory:
    """Drivers for the `onewire` service: sensor.temperature with a sensor_id."""

    def __init__(self, base_dir: str | Path = DEFAULT_BASE_DIR) -> None:
        self.base_dir = Path(base_dir)

    @property
    def rescan_supported(self) -> bool:
        return True

    def fields(self, oid: str) -> tuple[FieldSpec, ...] | None:
        if oid != OID:
            return None
        spec = ValueSpec(ValueType.STR, max_length=15)
        return (
            FieldSpec("sensor_id", spec, "1-Wire id, e.g. 28-0316a2792aff", None, True),
        )

    def problems(self, config: DeviceConfig) -> list[str]:
        sensor_id = config.text("sensor_id")
        match = SENSOR_ID.fullmatch(sensor_id)
        if match is None or int(match[1], 16) not in families():
            codes = ", ".join(f"{code:02x}" for code in sorted(families()))
            return [
                f"sensor_id: expected a thermometer id (family {codes}, 12 hex "
                f"digits), got {quote(sensor_id)}"
            ]
        return []

    def create(self, config: DeviceConfig) -> Driver:
        return OneWireSensor(self.base_dir)
