"""This machine's zone as a ZoneInfo: TZ when set, else /etc/timezone, else the
zone /etc/localtime links to (an `etc` folder in tmp_path plays /etc)."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from raspy.machine_zone import machine_zone

_ZONEINFO = Path("/usr/share/zoneinfo")


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    ("tz", "zone"),
    [
        ("Europe/Berlin", "Europe/Berlin"),
        (":America/Denver", "America/Denver"),
        ("XST+3:30", None),  # a POSIX rule: no zone of that name
        ("", None),  # the C library's UTC, not the files'
    ],
)
def test_a_tz_set_is_the_zone_whatever_the_files_say(
    tmp_path: Path, tz: str, zone: str | None
) -> None:
    (tmp_path / "timezone").write_text("Asia/Tokyo\n", "utf-8")
    found = machine_zone({"TZ": tz}, tmp_path)
    assert found == (None if zone is None else ZoneInfo(zone))


@pytest.mark.timeout(10)
def test_without_tz_etc_timezone_names_the_zone(tmp_path: Path) -> None:
    (tmp_path / "timezone").write_text("Asia/Tokyo\n", "utf-8")
    (tmp_path / "localtime").symlink_to(_ZONEINFO / "America" / "Denver")
    assert machine_zone({}, tmp_path) == ZoneInfo("Asia/Tokyo")


@pytest.mark.timeout(10)
def test_without_tz_or_etc_timezone_the_localtime_link_names_it(tmp_path: Path) -> None:
    (tmp_path / "timezone").write_text("Not/A_Zone\n", "utf-8")
    (tmp_path / "localtime").symlink_to(_ZONEINFO / "America" / "Denver")
    assert machine_zone({}, tmp_path) == ZoneInfo("America/Denver")


@pytest.mark.timeout(10)
def test_a_machine_with_no_zone_named_has_none(tmp_path: Path) -> None:
    assert machine_zone({}, tmp_path) is None
