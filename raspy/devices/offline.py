"""Remote device services gone quiet: when their readings are marked offline (pure).

A remote device service (raspy-poller on another board) publishes readings into the
hub's tree; when it stops for good its last "ok" readings would look fresh for ever.
The hub's broker says when a service loses its last worker; after `grace_s` without
one, each of its devices found in the tree is written `offline` (value null), once
per outage: the write budget of an SD card counts. The poller heals them itself
when it is back (it sends every reading again). Each device's mark expects the
keys as they were read, so a board retired or back before it lands keeps what it
did. Services the hub hosts itself are never marked. No clock here: `now`
(monotonic s) comes in.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from raspy import json_text
from raspy.devices.reading import Reading, Status, device_of_key, tree_entries
from raspy.devices.registry import devices_service_of
from raspy.names import DEVICES_SUFFIX
from raspy.records import frozen


def subtree_of(service: str) -> str:
    """The tree prefix of a devices service's readings: `/device/<host>.<svc>.`."""
    return f"/device/{service.removesuffix(DEVICES_SUFFIX)}."


class OfflineWatch:
    """Which remote devices services are due to be marked offline, and when.

    A service is waiting from the moment it has no worker (or, at start, from when
    its readings are found in the tree without one) until `grace_s` later; then it
    is due once, and not again until a worker came back and went again.
    """

    def __init__(self, grace_s: float, hosted: Iterable[str]) -> None:
        if grace_s <= 0:
            raise ValueError(f"grace_s must be > 0, got {grace_s}")
        self.grace_s = grace_s
        self._hosted = frozenset(hosted)
        self._waiting: dict[str, float] = {}  # service -> when it is due
        self._available: set[str] = set()

    def watched(self, service: str) -> bool:
        """A devices service this hub does not host itself."""
        return service.endswith(DEVICES_SUFFIX) and service not in self._hosted

    def found(self, services: Iterable[str], now: float) -> None:
        """Services with readings in the tree at start: each waits from `now` unless
        a worker of it is already known."""
        for service in services:
            if self.watched(service) and service not in self._available:
                self._waiting.setdefault(service, now + self.grace_s)

    def availability(self, service: str, available: bool, now: float) -> None:
        """The broker says `service` gained its first worker or lost its last."""
        if not self.watched(service):
            return
        if available:
            self._available.add(service)
            self._waiting.pop(service, None)
        else:
            self._available.discard(service)
            self._waiting.setdefault(service, now + self.grace_s)

    def retry(self, service: str, at: float) -> None:
        """A mark that could not be written (the Clone server did not answer): due
        again at `at`, unless a worker of the service came back meanwhile."""
        if self.watched(service) and service not in self._available:
            self._waiting.setdefault(service, at)

    def next_deadline(self) -> float | None:
        """When due() next has something; None while nothing waits."""
        return min(self._waiting.values(), default=None)

    def due(self, now: float) -> list[str]:
        """The services whose grace ended by `now`, each once per outage (sorted)."""
        ready = sorted(s for s, at in self._waiting.items() if at <= now)
        for service in ready:
            del self._waiting[service]
        return ready


def services_in(keys: Iterable[str]) -> set[str]:
    """The devices services whose devices have keys among `keys`."""
    found: set[str] = set()
    for key in keys:
        device = device_of_key(key)
        if device is not None:
            found.add(devices_service_of(device[0]))
    return found


@frozen
class OfflineMark:
    """A device's offline reading (its four keys in `entries`), to be written only
    while every key of it that was read is still at the sequence number it was
    read at (`expect`): a board retired, or back, in the meantime wins."""

    fullname: str
    expect: tuple[tuple[str, int], ...]
    entries: dict[str, bytes]


def offline_marks(
    records: Iterable[tuple[str, int, bytes]], wall_ts: float
) -> list[OfflineMark]:
    """The devices among a service's records (key, seq, body) that are not offline
    yet, each with its four keys written as an offline reading (value null, the
    unit kept, the time it was marked): as any status change is written, so a stale
    key heals too. Sorted by device."""
    units: dict[str, str] = {}
    statuses: dict[str, bytes] = {}
    seen: dict[str, list[tuple[str, int]]] = {}
    for key, seq, body in records:
        device = device_of_key(key)
        if device is None:
            continue
        fullname, field = device
        units.setdefault(fullname, "")
        seen.setdefault(fullname, []).append((key, seq))
        if field == "unit":
            units[fullname] = _text(body)
        elif field == "status":
            statuses[fullname] = body
    offline = json.dumps(Status.OFFLINE.value).encode()
    marks: list[OfflineMark] = []
    for fullname in sorted(name for name in units if statuses.get(name) != offline):
        reading = Reading(None, units[fullname], Status.OFFLINE, wall_ts)
        entries = tree_entries(fullname, reading)
        marks.append(OfflineMark(fullname, tuple(seen[fullname]), entries))
    return marks


def _text(body: bytes) -> str:
    try:
        value = json_text.loads(body)
    except ValueError:
        return ""
    return value if isinstance(value, str) else ""
