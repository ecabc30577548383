"""A time as the command-line tools print it: the wall clock of a zone and that
zone's UTC offset, `2026-12-04 07:00:00 +01:00`.

The tools may run on another machine than the hub, whose `[core] timezone` most of
their replies do not carry (a scenario's `get` does: `raspy scenario show` passes it
in): a bare `07:00:00` would not say which 07:00 it is. They print in the zone given,
else this machine's (the TZ variable chooses another), and name it by its offset,
which, unlike an abbreviation such as CST, means one thing, and changes from line to
line across a DST switch. The text reads back through `raspy history --since`.
Machine-readable output (--json, dump files) keeps its epoch seconds.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, tzinfo

_CLOCK_CHARS = len("YYYY-MM-DD HH:MM:SS")


def wall_text(wall_ts: float, zone: tzinfo | None = None) -> str:
    """Epoch seconds as `YYYY-MM-DD HH:MM:SS ±HH:MM` in `zone` (None: this machine's);
    a number no calendar holds (NaN, 1e300) as the number."""
    try:
        moment = datetime.fromtimestamp(wall_ts, UTC).astimezone(zone)
        text = moment.isoformat(sep=" ", timespec="seconds")
    except (OverflowError, OSError, ValueError):
        return json.dumps(wall_ts)
    return f"{text[:_CLOCK_CHARS]} {text[_CLOCK_CHARS:]}"
