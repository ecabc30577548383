"""What the `gpio` service writes into the tree besides readings: its events' keys
(a button's presses, an output's switch-off by max_on_s), and an input's first
reading dated from when the tree last saw it change.

Pure: the service's actor (raspy.actors.gpio) writes what these say.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Final

from raspy import json_text
from raspy.devices.reading import Reading, Status, value_key

EVENT_TREE: Final = "/event/"


def same_since(reading: Reading, fullname: str, tree: Mapping[str, bytes]) -> Reading:
    """An input's first reading, with the time the tree had for it if the level is the
    one the tree had (a reload, a restart): its timestamp says since when a door is
    open (inputs are never polled), not when raspy last started."""
    try:
        before = json_text.loads(tree.get(value_key(fullname)) or b"null")
        since = json_text.loads(tree.get(value_key(fullname, "timestamp")) or b"null")
    except ValueError:
        return reading
    unchanged = isinstance(before, bool) and before == reading.value
    if reading.status is not Status.OK or not unchanged:
        return reading
    if isinstance(since, bool) or not isinstance(since, int | float):
        return reading
    # a clock stepped back since: now is truer; any client may write the key, and
    # Python's JSON reads -Infinity, which no reading can be written with, and
    # integers too large for a float (math.isfinite() of one raises): comparisons
    # take both, exactly
    if not 0.0 <= since <= reading.wall_ts:
        return reading
    return dataclasses.replace(reading, wall_ts=float(since))


def pressed_key(fullname: str) -> str:
    """Where a button's presses go: `/event/<fullname>/pressed` (value: wall ts)."""
    return f"{EVENT_TREE}{fullname}/pressed"


def max_on_key(fullname: str) -> str:
    """Where an output's switch-off by max_on_s goes (value: wall ts): the tree says
    why a heater went off, and a scenario can tell the household."""
    return f"{EVENT_TREE}{fullname}/max_on_expired"
