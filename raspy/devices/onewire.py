"""1-Wire thermometers (DS18B20 and relatives, and the MAX31850 thermocouple
converter, which shares the DS1825's family code) read through the Linux sysfs tree:
the bus listed, a family-3b part told, a sensor's `w1_slave` file read, the drivers.

Only read_w1_slave(), read_scratchpad() and discover() touch files; the text is
parsed by raspy.devices.w1_slave. raspy does not read through w1thermsensor, because
its base directory is a class attribute shared by the whole process. A sensor fault
is a reading status, never an exception.

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

import re
import threading
import time
from pathlib import Path
from typing import Final

from raspy.devices.driver import Driver, ReadOnlySensor
from raspy.devices.reading import Reading, Status
from raspy.devices.registry import Registry
from raspy.devices.template import (
    DeviceConfig,
    FieldSpec,
    JsonValue,
    ValueSpec,
    ValueType,
)
from raspy.devices.w1_slave import (
    FAMILY_3B,
    Family,
    W1Result,
    checked_scratchpad,
    families,
    model_of,
    parse_w1_slave,
)
from raspy.errors import DeviceError, quote
from raspy.records import frozen

DEFAULT_BASE_DIR: Final = "/sys/bus/w1/devices"
SLAVE_FILE: Final = "w1_slave"
SENSOR_ID: Final = re.compile(r"([0-9a-f]{2})-[0-9a-f]{12}")
OID: Final = "sensor.temperature"
_MAX_FILE_BYTES: Final = 4096
_OVERLAY_HINT: Final = "is dtoverlay=w1-gpio in config.txt?"
_BUS_MASTER: Final = "w1_bus_master"


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
        return W1Result(Status.MISSING, None, _missing(base_dir, sensor_id))
    except OSError as exc:
        return W1Result(
            Status.UNREADABLE, None, f"{type(exc).__name__}: {exc.strerror}"
        )
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError:
        return W1Result(Status.MALFORMED, None, "not ASCII text")


def _missing(base_dir: Path, sensor_id: str) -> str:
    """Why a sensor's file is not there: the sensor off the bus, or no bus at all,
    or no bus master on it (the overlay not loaded), or no driver serving a sensor
    on it: none but the first is mended at the sensor's wiring."""
    if not base_dir.is_dir():
        return f"no 1-Wire bus: {base_dir} does not exist ({_OVERLAY_HINT})"
    if (base_dir / sensor_id).is_dir():
        return (
            f"{sensor_id} is on the bus but has no {SLAVE_FILE} file (is the "
            "w1-therm module loaded?)"
        )
    if not _has_bus_master(base_dir):
        return f"no 1-Wire bus master in {base_dir} ({_OVERLAY_HINT})"
    return f"{sensor_id} is gone from the bus"


def _has_bus_master(base_dir: Path) -> bool:
    """Whether the w1 core lists a bus master (`w1_bus_master1`, ...): none, and
    no sensor can be on the bus. True if it cannot be told."""
    try:
        return any(e.name.startswith(_BUS_MASTER) for e in base_dir.iterdir())
    except OSError:
        return True


def read_scratchpad(base_dir: Path, sensor_id: str) -> bytes | None:
    """The 9 bytes of a sensor's scratchpad if its `w1_slave` reads whole and its
    CRC holds, else None; blocks while the sensor converts; never raises."""
    text = _read_text(base_dir, sensor_id)
    if isinstance(text, W1Result):
        return None
    scratchpad = checked_scratchpad(text.partition("\n")[0])
    if isinstance(scratchpad, W1Result) or scratchpad == bytes(9):
        return None
    return scratchpad


@frozen
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
            f"1-Wire: cannot list {base_dir}: {exc.strerror} ({_OVERLAY_HINT})"
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
