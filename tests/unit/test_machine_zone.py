"""This machine's zone as a ZoneInfo, as the C library finds it: TZ when set (a
zone's name, or a zone file's path), else the zone /etc/localtime links to, else
/etc/timezone (an `etc` folder in tmp_path plays /etc)."""

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
@pytest.mark.parametrize(
    ("tz", "zone"),
    [
        (":{etc}/localtime", "America/Denver"),  # TZ=:/etc/localtime, a common one
        ("{etc}/localtime", "America/Denver"),
        (f"{_ZONEINFO}/Europe/Berlin", "Europe/Berlin"),
        (f":{_ZONEINFO}/Europe/Berlin", "Europe/Berlin"),
    ],
)
def test_a_tz_that_names_a_file_is_the_zone_of_that_file(
    tmp_path: Path, tz: str, zone: str
) -> None:
    """A TZ that is a path names a zone file, as for the C library; it was taken for
    a zone's name, no zone, and the core fell to UTC."""
    (tmp_path / "timezone").write_text("Asia/Tokyo\n", "utf-8")
    (tmp_path / "localtime").symlink_to(_ZONEINFO / "America" / "Denver")
    found = machine_zone({"TZ": tz.format(etc=tmp_path)}, tmp_path)
    assert found == ZoneInfo(zone)


@pytest.mark.timeout(10)
def test_without_tz_the_localtime_link_names_the_zone_whatever_etc_timezone_says(
    tmp_path: Path,
) -> None:
    """The C library reads /etc/localtime and never /etc/timezone: a stale one made
    a chart's zone differ from the times printed beside it."""
    (tmp_path / "timezone").write_text("Asia/Tokyo\n", "utf-8")
    (tmp_path / "localtime").symlink_to(_ZONEINFO / "America" / "Denver")
    assert machine_zone({}, tmp_path) == ZoneInfo("America/Denver")


@pytest.mark.timeout(10)
@pytest.mark.parametrize("localtime", ["none", "a copy"])
def test_without_a_localtime_link_etc_timezone_names_the_zone(
    tmp_path: Path, localtime: str
) -> None:
    (tmp_path / "timezone").write_text("Asia/Tokyo\n", "utf-8")
    if localtime == "a copy":  # a zone file copied, not linked: it has no name
        (tmp_path / "localtime").write_bytes((_ZONEINFO / "UTC").read_bytes())
    assert machine_zone({}, tmp_path) == ZoneInfo("Asia/Tokyo")


@pytest.mark.timeout(10)
def test_a_machine_with_no_zone_named_has_none(tmp_path: Path) -> None:
    assert machine_zone({}, tmp_path) is None
