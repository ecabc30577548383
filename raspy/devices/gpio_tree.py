"""What the `gpio` service writes into the tree besides readings: its events' keys
(a button's presses and gestures, an output's switch-off by max_on_s), a switch's
pending change, and an input's first reading dated from when the tree last saw it
change.

Pure: the service's actor (raspy.actors.gpio) writes what these say, its events
through Events and a switch's pending key through PendingKeys, with the publisher
each is given.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Final

from raspy import json_text
from raspy.devices.gpio_gesture import Gesture
from raspy.devices.reading import Reading, Status, encode, value_key
from raspy.devices.template import JsonValue
from raspy.devices.tree import Publisher
from raspy.stats import Stats

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


def gesture_key(fullname: str, gesture: str) -> str:
    """Where a button's gestures go (value: wall ts): `/event/<fullname>/single`,
    `/double` or `/long` (raspy.devices.gpio_gesture)."""
    return f"{EVENT_TREE}{fullname}/{gesture}"


def gesture_of_key(key: str) -> tuple[str, Gesture] | None:
    """`(fullname, gesture)` of a gesture's event key, else None."""
    if not key.startswith(EVENT_TREE):
        return None
    fullname, slash, last = key[len(EVENT_TREE) :].rpartition("/")
    if not slash or fullname.count(".") < 2 or "/" in fullname:
        return None
    try:
        return fullname, Gesture(last)
    except ValueError:
        return None


class Events:
    """Writes a service's events into the tree: the key, the wall time as value."""

    def __init__(self, publisher: Publisher, stats: Stats, service: str) -> None:
        self._publisher = publisher
        self._stats = stats
        self._refused_stat = f"devices.{service}.keys_refused"

    def write(self, key: str, wall_ts: float) -> None:
        if self._publisher.set_many([(key.encode(), repr(wall_ts).encode())]):
            self._stats.incr(self._refused_stat)


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
    """Writes the pending keys of a service's switches, each only when the change
    it says (its state, its due time) is another than the one it last wrote or
    found at its start: its `detail` says how long the switch had been so when
    it was written, and a second `on` held as the first one was, a reload or a
    restart with the same change pending, writes nothing."""

    def __init__(self, publisher: Publisher, stats: Stats, service: str) -> None:
        self._publisher = publisher
        self._stats = stats
        self._refused_stat = f"devices.{service}.keys_refused"
        self._sent: dict[str, tuple[JsonValue, JsonValue] | None] = {}

    def write(self, fullname: str, pending: Mapping[str, JsonValue] | None) -> None:
        """`pending` (None: nothing, the key deleted) into the tree if it changed."""
        entry = self.changed(fullname, pending)
        if entry is not None and self._publisher.set_many([entry]):
            self._stats.incr(self._refused_stat)

    def found(self, fullname: str, tree: Mapping[str, bytes]) -> None:
        """At start: what the tree has (a crash may have left one behind)."""
        value = json_text.tree_value(tree.get(pending_key(fullname)))
        # anything but a change (any client may write the key) is written over
        self._sent[fullname] = (
            None if value is None else _change(value if isinstance(value, dict) else {})
        )

    def changed(
        self, fullname: str, pending: Mapping[str, JsonValue] | None
    ) -> tuple[bytes, bytes] | None:
        """The entry to write (an empty body deletes the key), or None if the tree
        says that change already."""
        change = None if pending is None else _change(pending)
        if self._sent.get(fullname) == change:
            return None
        self._sent[fullname] = change
        body = b"" if pending is None else encode(dict(pending))
        return pending_key(fullname).encode("utf-8"), body


def _change(pending: Mapping[str, JsonValue]) -> tuple[JsonValue, JsonValue]:
    return pending.get("state"), pending.get("due")
