"""Which tree keys go out and which devices MQTT may command: shell-style globs.

`*` matches any run of characters, `/` included, so `/device/*` is the whole device
subtree and `/device/pi.onewire.*` one service's devices. Pure.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from typing import Final

from raspy.errors import MalformedMessage, quote

_WILDCARDS: Final = "*?["  # what fnmatch gives a meaning; the rest is literal


def fixed_prefix(glob: str) -> str:
    """The literal start of a glob: every name it matches starts with it."""
    cuts = [i for i in (glob.find(char) for char in _WILDCARDS) if i >= 0]
    return glob[: min(cuts, default=len(glob))]


def minimal_prefixes(prefixes: Iterable[str]) -> tuple[str, ...]:
    """The prefixes that no other one covers (a shorter one they start with), sorted:
    what a subscription by prefix needs, each name received once."""
    kept: list[str] = []
    for prefix in sorted(set(prefixes), key=len):
        if not any(prefix.startswith(shorter) for shorter in kept):
            kept.append(prefix)
    return tuple(sorted(kept))


def event_prefixes(
    prefixes: Iterable[str], device_tree: str, event_tree: str
) -> tuple[str, ...]:
    """The event keys' prefixes of the devices under `prefixes`: a device's gestures
    are `<event_tree><fullname>/…` beside its `<device_tree><fullname>/…`, so
    `/device/pi.gpio.` asks for `/event/pi.gpio.`, and a prefix that `device_tree`
    starts with (`/`, `/device/`) for the whole event tree."""
    found: list[str] = []
    for prefix in prefixes:
        if device_tree.startswith(prefix):
            found.append(event_tree)
        elif prefix.startswith(device_tree):
            # up to the device's full name: `/device/pi.gpio.button/value` exposes
            # the button, whose gestures are `/event/pi.gpio.button/double`
            name, slash, _field = prefix[len(device_tree) :].partition("/")
            found.append(event_tree + name + slash)
    return minimal_prefixes(found)


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

    def prefixes(self) -> tuple[str, ...]:
        """The fewest prefixes that every name any glob matches starts with."""
        return minimal_prefixes(fixed_prefix(glob) for glob in self.globs)

    def __call__(self, name: str) -> bool:
        known = self._cache.get(name)
        if known is not None:
            return known
        found = self._pattern is not None and self._pattern.match(name) is not None
        if len(self._cache) < 100_000:  # a bound, not a policy: misses recompute
            self._cache[name] = found
        return found
