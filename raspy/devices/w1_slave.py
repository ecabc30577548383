"""The text of a 1-Wire thermometer's `w1_slave` file read: its scratchpad checked
(the CRC), decoded by family (12-bit, DS18S20, MAX31850) and the known bad values
told apart. Pure, never raises: a sensor fault is a reading status, never an exception.

w1thermsensor gives the table of sensor families (names, 12-bit format); raspy does
not parse through it, because it reports a CRC failure and an all-zero scratchpad as
the same error, and it passes 127.9375 °C and about -110 °C off as temperatures. The
files themselves are read in raspy.devices.onewire.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from raspy.devices.reading import Status
from raspy.errors import quote
from raspy.records import frozen

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
_HEX_BYTES: Final = r"((?:[0-9a-fA-F]{2} ){9})"
_CRC_LINE: Final = re.compile(_HEX_BYTES + r": crc=([0-9a-fA-F]{2}) (YES|NO)")
_TEMP_LINE: Final = re.compile(_HEX_BYTES + r"t=(-?[0-9]{1,7})")


@frozen
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


@frozen
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
    scratchpad = checked_scratchpad(lines[0])
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


def checked_scratchpad(first_line: str) -> bytes | W1Result:
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


def model_of(family: Family, scratchpad: bytes | None) -> str:
    """The part a sensor is: its family's name, but for family 3b what its
    configuration register says (UNTOLD_3B if it has not been read)."""
    if family.code != FAMILY_3B:
        return family.name
    if scratchpad is None:
        return UNTOLD_3B
    return MAX31850 if scratchpad[4] & _MAX31850_CONFIG_BIT else DS1825
