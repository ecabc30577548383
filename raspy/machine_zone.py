"""This machine's time zone as a ZoneInfo, found as the C library finds it: the TZ
variable when set, else /etc/timezone, else the zone /etc/localtime links to.

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


def machine_zone(
    env: Mapping[str, str] | None = None, etc: Path = Path("/etc")
) -> ZoneInfo | None:
    """This machine's zone; None when it has no name ZoneInfo knows: a TZ that is a
    POSIX rule (`XST+3:30`) or empty (the C library's UTC), no zone in `etc`."""
    tz = (os.environ if env is None else env).get("TZ")
    if tz is not None:  # set: the C library reads it, not the files
        return zone_named(tz.removeprefix(":"))
    candidates: list[str] = []
    with contextlib.suppress(OSError, UnicodeError):
        candidates.append((etc / "timezone").read_text("utf-8").strip())
    link = os.path.realpath(etc / "localtime")
    if "/zoneinfo/" in link:
        candidates.append(link.split("/zoneinfo/", 1)[1])
    for name in candidates:
        zone = zone_named(name)
        if zone is not None:
            return zone
    return None
