"""The pure parts of GPIO devices: debouncing, the max-on timer, the state at start,
the shortest time a switch stays on or off and the change it holds until then.

No pins, no clock, no threads: every method takes `now` (monotonic s), so the tests
drive time by hand.
"""

from __future__ import annotations

import heapq
import math
from enum import StrEnum
from typing import Final

from raspy.devices.template import JsonValue
from raspy.records import frozen


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


class Deadlines:
    """A deadline (monotonic s) for each name, the earliest first: the outputs to
    switch off after max_on_s (OnTimer), the changes held by min_on_s / min_off_s."""

    def __init__(self) -> None:
        self._expires: dict[str, float] = {}
        self._heap: list[tuple[float, str]] = []

    def set(self, name: str, expires_at: float) -> None:
        """`name`'s deadline, replacing any other it had."""
        if self._expires.get(name) == expires_at:
            return
        self._expires[name] = expires_at
        heapq.heappush(self._heap, (expires_at, name))

    def forget(self, name: str) -> None:
        self._expires.pop(name, None)

    def get(self, name: str) -> float | None:
        """`name`'s deadline, or None."""
        return self._expires.get(name)

    def due(self, now: float) -> list[str]:
        """The names whose time is up at `now`; each is then forgotten."""
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


class OnTimer(Deadlines):
    """Deadlines of outputs that must switch off after `max_on_s` of being on."""

    def switched(self, name: str, on: bool, max_on_s: float, now: float) -> None:
        """`name` is now on or off; a new `on` keeps the deadline of the first one
        (being told "on" again does not extend the time)."""
        if not on or max_on_s <= 0:
            self.forget(name)
            return
        if name in self._expires:
            return
        self.set(name, now + max_on_s)


# The largest `min_on_s` / `min_off_s`: a day. A relay held longer than that by raspy
# is a config mistake, not a protection.
MIN_HOLD_LIMIT_S: Final = 86400.0


def hold_left_s(
    on: bool, since: float, min_on_s: float, min_off_s: float, now: float
) -> float:
    """How long an output that is `on` (else off) since `since` (monotonic s) must
    still wait at `now` before it may switch to the other state; 0: it may now.

    It may switch once it has been on for `min_on_s` (off for `min_off_s`); 0 is no
    limit. A `since` after `now` (never from a monotonic clock) counts as now: the
    wait is then at most the whole minimum."""
    limit_s = min_on_s if on else min_off_s
    return max(0.0, limit_s - max(0.0, now - since))


def _left_shown(left_s: float) -> float:
    """A wait as said: rounded up to 0.1 s, never 0 (never "in 0s")."""
    return max(0.1, math.ceil(round(left_s * 10, 6)) / 10)


def too_soon(
    on: bool, since: float, min_on_s: float, min_off_s: float, now: float
) -> str | None:
    """Why an output that is `on` (else off) since `since` (monotonic s) may not
    switch to the other state at `now` (see hold_left_s), or None if it may.

    The reason says how long it has been so and how long is left, e.g.
    `off for 40s of min_off_s 300s: on in 260s`.
    """
    left_s = hold_left_s(on, since, min_on_s, min_off_s, now)
    if left_s <= 0:
        return None
    limit_s, field = (min_on_s, "min_on_s") if on else (min_off_s, "min_off_s")
    held_s = max(0.0, now - since)
    state, to = ("on", "off") if on else ("off", "on")
    # the time held rounded down and the time left up (to 0.1 s)
    held = math.floor(round(held_s * 10, 6)) / 10
    return f"{state} for {held:g}s of {field} {limit_s:g}s: {to} in {_left_shown(left_s):g}s"


def heading_to(
    command: str, value: JsonValue, on: bool, pending: bool | None
) -> bool | None:
    """The state a switch's `command` (with `value`) asks for, or None if it is no
    switching command (its own checks answer it). `toggle` flips the state the
    switch is headed for: the change held for it if there is one, else its own."""
    match command, value:
        case ("on", None):
            return True
        case ("off", None):
            return False
        case ("toggle", None):
            return not (on if pending is None else pending)
        case ("state", bool()):
            return value
    return None


@frozen
class Hold:
    """A change held by min_on_s / min_off_s: the switch goes to `state` by itself
    at `due` (monotonic s), `in_s` from the command (as said: rounded up to 0.1)."""

    state: bool
    due: float
    in_s: float
    detail: str

    def as_json(self) -> dict[str, JsonValue]:
        """The reply's `pending`."""
        return {"state": self.state, "in_s": self.in_s, "detail": self.detail}


class Verdict(StrEnum):
    """What a switching command does to a switch with min_on_s / min_off_s."""

    NOW = "now"  # carried out now (the pin switches, or is as asked already)
    HOLD = "hold"  # pending: the switch goes there by itself when the limit ends
    CANCEL = "cancel"  # as asked already, with a change pending: that one dropped


@frozen
class Decision:
    verdict: Verdict
    hold: Hold | None = None  # with HOLD


def decide(
    command: str,
    value: JsonValue,
    *,
    on: bool,
    since: float,
    pending: bool | None,
    min_on_s: float,
    min_off_s: float,
    now: float,
) -> Decision | None:
    """What `command` does to a switch that is `on` (else off) since `since`, with
    `pending` the state held for it (None: none), at `now`; None if it is no
    switching command. The latest command wins: one to the state the switch has
    drops the pending change; one to the other state is held until the limit ends
    (a second one keeps the time of the first: it runs from the last change)."""
    wanted = heading_to(command, value, on, pending)
    if wanted is None:
        return None
    if wanted == on:
        return Decision(Verdict.NOW if pending is None else Verdict.CANCEL)
    detail = too_soon(on, since, min_on_s, min_off_s, now)  # None: it may now
    if detail is None:
        return Decision(Verdict.NOW)
    left_s = hold_left_s(on, since, min_on_s, min_off_s, now)
    hold = Hold(wanted, now + left_s, _left_shown(left_s), detail)
    return Decision(Verdict.HOLD, hold)
