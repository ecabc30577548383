"""Which tree keys go out and which devices MQTT may command: shell-style globs.

`*` matches any run of characters, `/` included, so `/device/*` is the whole device
subtree and `/device/pi.onewire.*` one service's devices. Pure.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable

from raspy.errors import MalformedMessage, quote


class GlobFilter:
    """True for a name matching any of the globs; the answer is cached per name."""

    def __init__(self, globs: Iterable[str], *, rooted: bool = False) -> None:
        self.globs = tuple(globs)
        for glob in self.globs:
            if rooted and not glob.startswith("/"):
                raise MalformedMessage("mqtt", "bad_glob", quote(glob))
        joined = "|".join(fnmatch.translate(glob) for glob in self.globs)
        self._pattern = re.compile(joined) if joined else None
        self._cache: dict[str, bool] = {}

    def __call__(self, name: str) -> bool:
        known = self._cache.get(name)
        if known is not None:
            return known
        found = self._pattern is not None and self._pattern.match(name) is not None
        if len(self._cache) < 100_000:  # a bound, not a policy: misses recompute
            self._cache[name] = found
        return found
