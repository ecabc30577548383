"""A fake `/sys/class/rtc` tree: real-format `since_epoch` and `name` files.

As on a Pi with a DS3231 (`dtoverlay=i2c-rtc,ds3231`): `<root>/rtc0` is a symlink to
the device's folder, which holds `since_epoch` (whole seconds and a newline), `name`
(the driver and the bus device), `date`, `time` and `hctosys`.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path


class FakeRtcTree:
    """Builds and changes an RTC class directory under `root` (what raspy reads)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._devices = root.parent / "devices" / "i2c-1" / "1-0068" / "rtc"
        self.root.mkdir(parents=True)
        self._devices.mkdir(parents=True)

    def add(self, rtc: str, since_epoch: int, name: str = "rtc-ds1307 1-0068") -> None:
        folder = self._devices / rtc
        folder.mkdir()
        (self.root / rtc).symlink_to(folder)
        (folder / "name").write_text(f"{name}\n", encoding="ascii")
        (folder / "hctosys").write_text("1\n", encoding="ascii")
        self.set_time(rtc, since_epoch)

    def set_time(self, rtc: str, since_epoch: int) -> None:
        folder = self._devices / rtc
        moment = dt.datetime.fromtimestamp(since_epoch, tz=dt.UTC)
        (folder / "since_epoch").write_text(f"{since_epoch}\n", encoding="ascii")
        (folder / "date").write_text(f"{moment:%Y-%m-%d}\n", encoding="ascii")
        (folder / "time").write_text(f"{moment:%H:%M:%S}\n", encoding="ascii")

    def write(self, rtc: str, file: str, text: str) -> None:
        (self._devices / rtc / file).write_text(text, encoding="ascii")
