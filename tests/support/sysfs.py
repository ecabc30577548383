"""A fake 1-Wire sysfs tree: real-format `w1_slave` files with correct CRC bytes.

Layout as on a Pi: `<root>/bus/w1/devices/<id>` is a symlink to
`<root>/devices/w1_bus_master1/<id>`, which holds `w1_slave`; the bus master has its
own entry in the devices directory too.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from raspy.devices.w1_slave import crc8

POWER_ON_RAW = 0x0550  # 85 °C
DS18B20 = 0x28
DS18S20 = 0x10
FAMILY_3B = 0x3B  # DS1825 thermometer, and MAX31850 thermocouple converter


def scratchpad(raw: int, config: int = 0x7F) -> bytes:
    """A DS18B20 scratchpad for a raw 1/16 °C count: 8 bytes and their CRC."""
    body = bytearray(raw.to_bytes(2, "little", signed=True))
    remain = 0x10 - (raw & 0x0F)  # COUNT_REMAIN, as real sensors report it
    body += bytes([0x4B, 0x46, config, 0xFF, remain, 0x10])
    return bytes(body) + bytes([crc8(bytes(body))])


def max31850_scratchpad(
    celsius: float, *, faults: int = 0, address: int = 0, cold_junction: float = 25.0
) -> bytes:
    """A MAX31850 scratchpad: the thermocouple in 1/4 °C (bits 15-2 of bytes 0-1,
    bit 0 set when any of `faults` is), the cold junction in 1/16 °C (bits 15-4 of
    bytes 2-3) over the fault bits (0 open circuit, 1 short to GND, 2 short to
    VCC), the configuration register (bits 7-4 read 1, 3-0 the address pins),
    three reserved bytes and the CRC."""
    quarters = round(celsius * 4)
    assert quarters / 4 == celsius, celsius
    word = quarters << 2 | (1 if faults else 0)
    junction = round(cold_junction * 16) << 4 | faults & 0b111
    body = word.to_bytes(2, "little", signed=True)
    body += junction.to_bytes(2, "little", signed=True)
    body += bytes([0xF0 | address, 0xFF, 0xFF, 0xFF])
    return body + bytes([crc8(body)])


def raw_of(celsius: float) -> int:
    """The raw 1/16 °C count of a temperature (which must be a multiple of 1/16)."""
    raw = round(celsius * 16)
    assert raw / 16 == celsius, celsius
    return raw


def w1_slave_text(
    data: bytes, *, crc_ok: bool = True, t_milli: int | None = None
) -> str:
    """The two lines the kernel writes for 9 scratchpad bytes.

    With crc_ok False the last byte is spoiled, so the kernel says NO. `t=` is the
    kernel's m°C for a 12-bit family unless given.
    """
    if not crc_ok:
        data = data[:8] + bytes([data[8] ^ 0xA5])
    computed = crc8(data[:8])
    verdict = "YES" if computed == data[8] else "NO"
    hex_bytes = "".join(f"{b:02x} " for b in data)
    if t_milli is None:
        t_milli = int(int.from_bytes(data[:2], "little", signed=True) * 1000 / 16)
    return f"{hex_bytes}: crc={computed:02x} {verdict}\n{hex_bytes}t={t_milli}\n"


class FakeW1Tree:
    """Builds and changes a sysfs tree under `root`; `base_dir` is what raspy reads."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.base_dir = root / "bus" / "w1" / "devices"
        self._master = root / "devices" / "w1_bus_master1"
        self.base_dir.mkdir(parents=True)
        self._master.mkdir(parents=True)
        (self.base_dir / "w1_bus_master1").symlink_to(self._master)

    def add(self, sensor_id: str, text: str) -> None:
        """Plug in a sensor whose `w1_slave` holds `text`."""
        folder = self._master / sensor_id
        folder.mkdir()
        (folder / "w1_slave").write_text(text, encoding="ascii")
        (self.base_dir / sensor_id).symlink_to(folder)

    def add_celsius(self, sensor_id: str, celsius: float) -> None:
        self.add(sensor_id, w1_slave_text(scratchpad(raw_of(celsius))))

    def write(self, sensor_id: str, text: str) -> None:
        """Replace what the sensor's `w1_slave` says."""
        (self._master / sensor_id / "w1_slave").write_text(text, encoding="ascii")

    def set_celsius(self, sensor_id: str, celsius: float) -> None:
        self.write(sensor_id, w1_slave_text(scratchpad(raw_of(celsius))))

    def remove(self, sensor_id: str) -> None:
        """Unplug a sensor: its entry and folder vanish, as the kernel does."""
        (self.base_dir / sensor_id).unlink()
        shutil.rmtree(self._master / sensor_id)


def release_fifo(fifo: Path) -> None:
    """End every read blocked on `fifo` (a sensor's w1_slave made a FIFO: a hung
    bus): each writer that opens and closes it gives the waiting readers an end of
    file. A writer cannot open it once no reader has it open (ENXIO): then none is
    left. Bounded, for a reader slow to close."""
    for _ in range(100_000):
        try:
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            return
    raise AssertionError(f"a reader of {fifo} did not let go")
