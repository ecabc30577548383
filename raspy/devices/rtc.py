"""The real-time clock (`clock.rtc`) read through sysfs: `/sys/class/rtc/rtc0`.

parse_since_epoch() is pure; read_rtc() reads two small files (`since_epoch`, whole
seconds of the RTC, and `name`, the driver). The sysfs directory is configurable, so
tests build a directory of real-format files. The reading's value is the RTC's time;
`drift` (a read-only command) is the RTC minus the system clock at the read.

On a Pi: a DS3231 board on the I2C pins and `dtoverlay=i2c-rtc,ds3231` in config.txt
give `/sys/class/rtc/rtc0`; the Pi 5 has one built in.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Final

from raspy.devices.driver import Driver, ReadOnlySensor
from raspy.devices.reading import Reading, Status
from raspy.devices.template import (
    DeviceConfig,
    FieldSpec,
    JsonValue,
    ValueSpec,
    ValueType,
)
from raspy.errors import DeviceError, quote
from raspy.records import frozen

DEFAULT_SYSFS_DIR: Final = "/sys/class/rtc"
OID: Final = "clock.rtc"
RTC_NAME: Final = re.compile(r"rtc[0-9]{1,3}")
_MAX_FILE_BYTES: Final = 256
_EPOCH_LIMIT: Final = 2**40  # far beyond any clock; rejects garbage


@frozen
class RtcSample:
    """One read of an RTC: its driver's name and its whole seconds since the epoch."""

    driver: str
    since_epoch: int


def parse_since_epoch(text: str) -> int:
    """The content of `since_epoch` (decimal seconds and a newline); DeviceError."""
    stripped = text.strip()
    if not stripped.isascii() or not stripped.isdigit():
        raise DeviceError(f"since_epoch: expected whole seconds, got {quote(text)}")
    value = int(stripped)
    if value >= _EPOCH_LIMIT:
        raise DeviceError(f"since_epoch: {value} is out of range")
    return value


def drift_s(sample: RtcSample, system_wall: float) -> float:
    """RTC minus system clock (s); the RTC counts whole seconds, so |drift| < 1 s
    is as good as it gets."""
    return sample.since_epoch - system_wall


def _read_text(path: Path) -> str:
    try:
        with path.open("rb") as file:
            raw = file.read(_MAX_FILE_BYTES)
    except FileNotFoundError as exc:
        raise DeviceError(f"{path}: no such file (is the RTC overlay on?)") from exc
    except OSError as exc:
        raise DeviceError(f"{path}: {exc.strerror}") from exc
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError as exc:
        raise DeviceError(f"{path}: not ASCII text") from exc


def read_rtc(sysfs_dir: Path, rtc: str) -> RtcSample:
    """Read `<sysfs_dir>/<rtc>/since_epoch` and `name`; DeviceError if unreadable."""
    folder = sysfs_dir / rtc
    since_epoch = parse_since_epoch(_read_text(folder / "since_epoch"))
    driver = _read_text(folder / "name").strip()
    return RtcSample(driver, since_epoch)


class RtcClock(ReadOnlySensor):
    """The driver of one RTC: read-only; keeps the drift of its last read."""

    WHAT = "clock"

    def __init__(self, sysfs_dir: Path) -> None:
        self._sysfs_dir = sysfs_dir
        self._drift: float | None = None

    def read(self, config: DeviceConfig, now: float) -> Reading:
        """The RTC's time; a read that fails (DeviceError: a status) leaves no
        drift, which is that of the last good read no more."""
        self._drift = None
        sample = read_rtc(self._sysfs_dir, config.text("rtc"))
        self._drift = drift_s(sample, now)
        return Reading(sample.since_epoch, config.text("unit"), Status.OK, now)

    def state(self) -> Mapping[str, JsonValue]:
        return MappingProxyType({} if self._drift is None else {"drift": self._drift})

    def reset(self, config: DeviceConfig, now: float) -> Reading | None:
        self._drift = None
        return None


class RtcFactory:
    """Drivers for the `rtc` service: clock.rtc on `<sysfs_dir>/<rtc>`."""

    def __init__(self, sysfs_dir: str | Path = DEFAULT_SYSFS_DIR) -> None:
        self.sysfs_dir = Path(sysfs_dir)

    @property
    def rescan_supported(self) -> bool:
        return False

    def fields(self, oid: str) -> tuple[FieldSpec, ...] | None:
        if oid != OID:
            return None
        spec = ValueSpec(ValueType.STR, max_length=8)
        return (FieldSpec("rtc", spec, "the sysfs RTC, e.g. rtc0", "rtc0"),)

    def problems(self, config: DeviceConfig) -> list[str]:
        rtc = config.text("rtc")
        if RTC_NAME.fullmatch(rtc) is None:
            return [f"rtc: expected rtc0, rtc1, ..., got {quote(rtc)}"]
        return []

    def create(self, config: DeviceConfig) -> Driver:
        return RtcClock(self.sysfs_dir)
