"""This machine's time zone as a ZoneInfo, found as the C library finds it: the TZ
variable when set (a zone's name, or the path of a zone file), else the zone
/etc/localtime links to; /etc/timezone (Debian's) only when that link names none.

A ZoneInfo, not the fixed offset of `datetime.now().astimezone()`: a chart or a
schedule across a summer-time change keeps to the zone's own clock on both sides.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def zone_named(name: str) -> ZoneInfo | None:
    """The zone `name` names (`Europe/Berlin`), None for anything else."""
    try:
        return ZoneInfo(name) if name else None
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def _zone_of_file(path: str | Path) -> ZoneInfo | None:
    """The zone of a zone file, by the name it has under a zoneinfo folder once
    links are followed (/etc/localtime -> /usr/share/zoneinfo/Europe/Berlin); None
    for a file that has no such name (a copy)."""
    real = os.path.realpath(path)
    if "/zoneinfo/" not in real:
        return None
    return zone_named(real.split("/zoneinfo/", 1)[1])


def machine_zone(
    env: Mapping[str, str] | None = None, etc: Path = Path("/etc")
) -> ZoneInfo | None:
    """This machine's zone; None when it has no name ZoneInfo knows: a TZ that is a
    POSIX rule (`XST+3:30`) or empty (the C library's UTC), no zone in `etc`."""
    tz = (os.environ if env is None else env).get("TZ")
    if tz is not None:  # set: the C library reads it, not the files
        name = tz.removeprefix(":")
        return _zone_of_file(name) if name.startswith("/") else zone_named(name)
    linked = _zone_of_file(etc / "localtime")
    if linked is not None:
        return linked
    with contextlib.suppress(OSError, UnicodeError):
        return zone_named((etc / "timezone").read_text("utf-8").strip())
    return None
