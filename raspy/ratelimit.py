"""Log at most once per key per window, so a flood of bad input cannot fill the SD card.

Pure: time is passed in. Counting is done elsewhere (Stats); this only says "log now?".
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Final

_MAX_KEYS: Final = 4096


class LogRateLimiter:
    """True for the first event of a key in each window of `window_s` seconds."""

    def __init__(self, window_s: float = 60.0, max_keys: int = _MAX_KEYS) -> None:
        self._window_s = window_s
        self._max_keys = max_keys
        self._last: OrderedDict[Hashable, float] = OrderedDict()

    def should_log(self, key: Hashable, now: float) -> bool:
        last = self._last.get(key)
        if last is not None and now - last < self._window_s:
            return False
        self._last[key] = now
        self._last.move_to_end(key)
        while len(self._last) > self._max_keys:
            self._last.popitem(last=False)
        return True


class EventBudget:
    """At most `per_window` events of one name in each window; the rest are counted.

    Issue 18: the per-key limiter above bounds one peer's noise, this bounds the total,
    so no input can make raspy write more than a few kB/s of log. A window starts with
    the first event of its name; the number left out in a window that has ended comes
    back from due() once, for one summary line.
    """

    def __init__(
        self, per_window: int, window_s: float = 1.0, max_names: int = _MAX_KEYS
    ) -> None:
        self._per_window = per_window
        self._window_s = window_s
        self._max_names = max_names
        # name -> [window start, admitted in it, left out of it]
        self._windows: OrderedDict[str, list[float]] = OrderedDict()
        self._suppressing: set[str] = set()  # names with a count to report
        self._ended: list[tuple[str, int]] = []

    def admit(self, name: str, now: float) -> bool:
        """True if this event may be written."""
        window = self._windows.get(name)
        if window is None or now - window[0] >= self._window_s:
            if window is not None and window[2]:
                self._ended.append((name, int(window[2])))
                self._suppressing.discard(name)
            window = self._windows[name] = [now, 0, 0]
            self._windows.move_to_end(name)
            while len(self._windows) > self._max_names:
                old, dropped = self._windows.popitem(last=False)
                if dropped[2]:
                    self._ended.append((old, int(dropped[2])))
                    self._suppressing.discard(old)
        if window[1] < self._per_window:
            window[1] += 1
            return True
        window[2] += 1
        self._suppressing.add(name)
        return False

    def due(self, now: float) -> list[tuple[str, int]]:
        """(name, count left out) of every window with suppressed events that ended."""
        ended, self._ended = self._ended, []
        for name in list(self._suppressing):
            window = self._windows[name]
            if now - window[0] >= self._window_s:
                ended.append((name, int(window[2])))
                window[2] = 0
                self._suppressing.discard(name)
        return ended
