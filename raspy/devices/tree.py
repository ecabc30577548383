"""Device readings into the Clone tree: `/device/<fullname>/value|unit|timestamp|status`.

TreeWriter keeps what it last sent per key and hands only the changed entries of a
whole poll batch to its Publisher at once: at a thousand readings a second the cost
per hand-over, not per entry, is what counts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

import structlog

from raspy.devices.reading import Reading, tree_entries, value_key
from raspy.errors import quote
from raspy.stats import Stats

log = structlog.get_logger(component="devices")


ReadTree = Callable[[str], Iterable[tuple[str, bytes]]]
"""The tree under a key prefix, (key, body) pairs: what a part reads once at start
(raspy.actors.clone.server.read_tree in raspyd)."""


class Publisher(Protocol):
    """Where readings go: ClonePublisher in raspyd, a CloneClient in raspy-poller."""

    def set_many(
        self, entries: Sequence[tuple[bytes, bytes]]
    ) -> list[tuple[bytes, str]]:
        """Send plain sets; returns the refused keys with the reason."""
        ...


class DevicePublisher(Publisher, Protocol):
    """A device service's Publisher: its readings, and its events with a ttl (a
    device's config changed): ClonePublisher in raspyd, raspy-poller's over its
    Clone client."""

    def set(self, key: bytes, body: bytes, *, ttl_s: float | None = None) -> None:
        """Send one set; `ttl_s` makes the key ephemeral (docs/protocols.md §6.6).
        ValueError for a key the Clone tree refuses."""
        ...


class TreeWriter:
    """Writes readings as Clone entries: only those that changed since the last
    write, and all four whenever the status changes (so a stale key heals).

    A key the Clone tree refuses (over [clone] max_key_bytes, §6.2) is counted and
    logged once; the device's other entries still go out.
    """

    def __init__(self, publisher: Publisher, stats: Stats, service: str) -> None:
        self._publisher = publisher
        self._stats = stats
        self._refused_stat = f"devices.{service}.keys_refused"
        self._last: dict[str, bytes] = {}
        self._refused: set[str] = set()

    def write(self, fullname: str, reading: Reading) -> int:
        """Publish `reading` of `fullname`; returns how many keys were sent."""
        return self.write_all([(fullname, reading)])

    def write_all(self, readings: Iterable[tuple[str, Reading]]) -> int:
        """Publish several readings in one hand-over; returns how many keys were sent."""
        batch: list[tuple[bytes, bytes]] = []
        for fullname, reading in readings:
            batch.extend(self._changed(fullname, reading))
        if not batch:
            return 0
        refused = self._publisher.set_many(batch)
        for key, reason in refused:
            self._refuse(key.decode("utf-8", "replace"), reason)
        return len(batch) - len(refused)

    def forget(self) -> None:
        """Forget what was sent: the next write of each device sends all its keys.

        raspy-poller calls it when it is back with the hub after a loss, since the
        hub may have marked its readings offline meanwhile (raspy.devices.offline)."""
        self._last.clear()

    def _changed(self, fullname: str, reading: Reading) -> list[tuple[bytes, bytes]]:
        entries = tree_entries(fullname, reading)
        last = self._last
        status_key = value_key(fullname, "status")
        every = last.get(status_key) != entries[status_key]
        changed: list[tuple[bytes, bytes]] = []
        for key, body in entries.items():
            if every or last.get(key) != body:
                last[key] = body
                changed.append((key.encode("utf-8"), body))
        return changed

    def _refuse(self, key: str, reason: str) -> None:
        self._stats.incr(self._refused_stat)
        if key not in self._refused:
            self._refused.add(key)
            log.warning("device_key_refused", key=quote(key), reason=reason)
