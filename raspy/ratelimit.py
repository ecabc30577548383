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
