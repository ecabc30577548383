"""The pure parts of GPIO devices: debouncing, the max-on timer, the state at start,
the shortest time an output stays on or off.

No pins, no clock, no threads: every method takes `now` (monotonic s), so the tests
drive time by hand.
"""

from __future__ import annotations

import heapq
import math
from enum import StrEnum
from typing import Final

from raspy.devices.template import JsonValue


class Initial(StrEnum):
    """`initial`: the state an output takes when the daemon starts."""

    OFF = "off"
    ON = "on"
    RESTORE = "restore"  # the last state stored before the stop or crash


class OnStop(StrEnum):
    """`on_stop`: what a clean stop does to an output."""

    OFF = "off"
    KEEP = "keep"  # raspy leaves the pin alone (not released, not switched)


# `device_class` of a binary input that is a push button: it also publishes `pressed`
# events. Every other class (Home Assistant's: door, motion, window, ...) is a plain
# input, and is what the MQTT bridge tells Home Assistant the input is.
BUTTON: Final = "button"


def initial_level(initial: Initial, stored: JsonValue, full: int) -> int:
    """The level (0..full) an output starts at: `full` is 1 for a switch, 100 for a
    dimmer; a stored state that is missing or out of range counts as off."""
    if initial is Initial.ON:
        return full
    if initial is Initial.OFF:
        return 0
    if isinstance(stored, bool):
        return full if stored else 0
    if isinstance(stored, int) and 0 <= stored <= full:
        return stored
    return 0


# The shortest window after a reported change, whatever `bounce_time_s` says (0 is
# allowed): a floating or chattering pin makes thousands of edges a second, each one
# a tree write, a Clone update and a history sample, while no household input changes
# meaningfully more often than this.
MIN_WINDOW_S: Final = 0.02


class Debounce:
    """Leading-edge debouncing of one input.

    The first change is reported at once (no added latency); edges within
    `bounce_s` (at least MIN_WINDOW_S) after a reported change are held, and when that
    window ends the level then is reported if it differs from the last one reported.
    So a bouncing contact gives one change, and the final level is never lost.
    """

    def __init__(self, reported: bool | None = None) -> None:
        self.reported = reported
        self._window_end = -math.inf
        self._pending: bool | None = None

    def on_edge(self, active: bool, bounce_s: float, now: float) -> bool | None:
        """An edge at `now`; returns the value to report now, or None."""
        if now >= self._window_end:
            self._pending = None
            if active == self.reported:
                return None
            return self._report(active, bounce_s, now)
        self._pending = active
        return None

    def settle_at(self) -> float | None:
        """When on_settle() has something to decide (monotonic s), or None."""
        return self._window_end if self._pending is not None else None

    def on_settle(self, bounce_s: float, now: float) -> bool | None:
        """The window may have ended: the held level to report, or None."""
        if self._pending is None or now < self._window_end:
            return None
        level, self._pending = self._pending, None
        if level == self.reported:
            return None
        return self._report(level, bounce_s, now)

    def _report(self, active: bool, bounce_s: float, now: float) -> bool:
        self.reported = active
        self._window_end = now + max(bounce_s, MIN_WINDOW_S)
        return active


class OnTimer:
    """Deadlines of outputs that must switch off after `max_on_s` of being on."""

    def __init__(self) -> None:
        self._expires: dict[str, float] = {}
        self._heap: list[tuple[float, str]] = []

    def switched(self, name: str, on: bool, max_on_s: float, now: float) -> None:
        """`name` is now on or off; a new `on` keeps the deadline of the first one
        (being told "on" again does not extend the time)."""
        if not on or max_on_s <= 0:
            self._expires.pop(name, None)
            return
        if name in self._expires:
            return
        expires_at = now + max_on_s
        self._expires[name] = expires_at
        heapq.heappush(self._heap, (expires_at, name))

    def forget(self, name: str) -> None:
        self._expires.pop(name, None)

    def due(self, now: float) -> list[str]:
        """The outputs whose time is up at `now`; each is then forgotten."""
        expired: list[str] = []
        while self._heap and self._heap[0][0] <= now:
            expires_at, name = heapq.heappop(self._heap)
            if self._expires.get(name) == expires_at:
                del self._expires[name]
                expired.append(name)
        return expired

    def next_deadline(self) -> float | None:
        while self._heap:
            expires_at, name = self._heap[0]
            if self._expires.get(name) == expires_at:
                return expires_at
            heapq.heappop(self._heap)
        return None


# The largest `min_on_s` / `min_off_s`: a day. A relay held longer than that by raspy
# is a config mistake, not a protection.
MIN_HOLD_LIMIT_S: Final = 86400.0


def too_soon(
    on: bool, since: float, min_on_s: float, min_off_s: float, now: float
) -> str | None:
    """Why switching an output that is `on` (else off) since `since` (monotonic s)
    to the other state is refused at `now`, or None if it may switch.

    It may switch once it has been on for `min_on_s` (off for `min_off_s`); 0 is no
    limit. The reason says how long it has been so and how long is left, e.g.
    `off for 40s of min_off_s 300s: on in 260s`. A `since` after `now` (never from a
    monotonic clock) counts as now: the wait is then at most the whole minimum.
    """
    limit_s, field = (min_on_s, "min_on_s") if on else (min_off_s, "min_off_s")
    held_s = max(0.0, now - since)
    if held_s >= limit_s:
        return None
    state, to = ("on", "off") if on else ("off", "on")
    # the time held rounded down and the time left up (to 0.1 s): never "in 0s"
    held = math.floor(round(held_s * 10, 6)) / 10
    left = max(0.1, math.ceil(round((limit_s - held_s) * 10, 6)) / 10)
    return f"{state} for {held:g}s of {field} {limit_s:g}s: {to} in {left:g}s"
