"""Counters and gauges (SNMP-like statistics); snapshot() gives a plain dict.

Thread-safe: counters are bumped from actor threads and the edge I/O thread.
"""

from __future__ import annotations

import threading
from collections import defaultdict


class Stats:
    """Named integer counters and numeric gauges, e.g. `broker.rejected.short`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters: defaultdict[str, int] = defaultdict(int)
        self._gauges: dict[str, float] = {}

    def incr(self, name: str, count: int = 1) -> None:
        with self._lock:
            self._counters[name] += count

    def gauge(self, name: str, value: float) -> None:
        with self._lock:
            self._gauges[name] = value

    def get(self, name: str) -> float:
        with self._lock:
            if name in self._gauges:
                return self._gauges[name]
            return self._counters.get(name, 0)

    def counters(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counters)

    def gauges(self) -> dict[str, float]:
        with self._lock:
            return dict(self._gauges)

    def snapshot(self) -> dict[str, float]:
        with self._lock:
            merged: dict[str, float] = dict(self._counters)
            merged.update(self._gauges)
            return dict(sorted(merged.items()))
