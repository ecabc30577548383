"""What the `gpio` service writes into the tree besides readings: its events' keys
(a button's presses, an output's switch-off by max_on_s), a switch's pending change,
and an input's first reading dated from when the tree last saw it change.

Pure: the service's actor (raspy.actors.gpio) writes what these say.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Final

from raspy import json_text
from raspy.devices.reading import Reading, Status, value_key
from raspy.devices.template import JsonValue

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


PENDING_FIELD: Final = "pending"


def pending_key(fullname: str) -> str:
    """Where a switch's change held by min_on_s / min_off_s is said, while there
    is one: `/device/<fullname>/pending`, `{"state", "due", "detail"}` (`due`: the
    epoch s it switches at), so that every reader sees it, not only the sender."""
    return value_key(fullname, PENDING_FIELD)


class PendingKeys:
    """The pending keys as this service last wrote them (or found them at its
    start): a key is written only when what it says changes."""

    def __init__(self) -> None:
        self._sent: dict[str, bytes] = {}

    def found(self, fullname: str, tree: Mapping[str, bytes]) -> None:
        """At start: what the tree has (a crash may have left one behind)."""
        self._sent[fullname] = tree.get(pending_key(fullname)) or b""

    def changed(
        self, fullname: str, pending: Mapping[str, JsonValue] | None
    ) -> tuple[bytes, bytes] | None:
        """The entry to write (an empty body deletes the key), or None if the tree
        has it so already."""
        body = b"" if pending is None else _json(pending)
        if self._sent.get(fullname, b"") == body:
            return None
        self._sent[fullname] = body
        return pending_key(fullname).encode("utf-8"), body


def _json(value: Mapping[str, JsonValue]) -> bytes:
    return json.dumps(value, ensure_ascii=False, allow_nan=False).encode()
