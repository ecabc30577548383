"""What the store holds of each output of a device service, as far as the service
wrote or read it: a record is written only when it changed, and one the store
refused is tried again.

The SD card's writes are counted: a command saying `on` to an output that is on is no
write. The store is reached only through what it is given (StateSaver: the store's
device table), on the caller's thread; a write that fails is logged and counted,
never raised: the output has changed all the same. It is tried again, with the
output's state as it is then, from the service's own timer (`retry_at`, `retry`: the
GPIO service's alarm, a board's polls), with backoff, until one succeeds: an output
switched off while the store failed would otherwise come back on at the next start.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, Protocol

import structlog

from raspy.backoff import Backoff, BackoffPolicy
from raspy.devices.registry import Device
from raspy.devices.template import JsonValue
from raspy.errors import StoreError
from raspy.records import frozen
from raspy.stats import Stats

log = structlog.get_logger(component="devices")

SAVE_RETRY: Final = BackoffPolicy(initial_s=2.0, max_s=60.0)


class StateSaver(Protocol):
    """Where states go (raspy.storage.device_settings.DeviceSettings)."""

    def save_state(
        self,
        fullname: str,
        value: JsonValue,
        wall_ts: float,
        pending: bool | None = None,
    ) -> None:
        """Durable on return; StoreError if not."""
        ...


@frozen
class StateRecord:
    """An output's state to store: `since` the epoch s it holds from; `pending` the
    change held for it (GPIO with `initial = "restore"`), `on_since` its switch-on
    (monotonic: the same switch-on is the same record)."""

    value: JsonValue
    since: float
    pending: bool | None = None
    on_since: float | None = None

    @property
    def kept(self) -> tuple[JsonValue, float | None, bool | None]:
        """What makes two records the same write (`since` alone does not)."""
        return (self.value, self.on_since, self.pending)


class SavedStates:
    """The record the store has for each output (by full name), and the outputs
    (by name) whose last write failed; `saver` None: nothing is stored."""

    def __init__(self, saver: StateSaver | None, stats: Stats, service: str) -> None:
        self._saver = saver
        self._stats = stats
        self._failed_stat = f"devices.{service}.state_not_stored"
        self._saved: dict[str, tuple[JsonValue, float | None, bool | None]] = {}
        self._unsaved: set[str] = set()  # device names whose last write failed
        self._backoff = Backoff(SAVE_RETRY)
        self._retry_at: float | None = None

    def put(self, device: Device, record: StateRecord, now: float) -> None:
        """`record` durable for `device` at monotonic `now`, unless the store has
        it so already."""
        if self._saver is None or self.has(device.fullname, record):
            self._settled(device.name)
            return
        try:
            self._saver.save_state(
                device.fullname, record.value, record.since, record.pending
            )
        except StoreError as exc:
            self._stats.incr(self._failed_stat)
            log.error(
                "device_state_not_stored", device=device.fullname, reason=str(exc)
            )
            self._unsaved.add(device.name)
            self._retry_at = self._backoff.failed(now)
            return
        self._saved[device.fullname] = record.kept
        self._settled(device.name)

    def has(self, fullname: str, record: StateRecord) -> bool:
        """Does the store have `record` for the output already?"""
        return self._saved.get(fullname) == record.kept

    def found(self, fullname: str, record: StateRecord) -> None:
        """At start: the store has `record` for the output (so the same state again
        is no write)."""
        self._saved[fullname] = record.kept

    def _settled(self, name: str) -> None:
        self._unsaved.discard(name)
        if not self._unsaved:
            self._backoff.reset()
            self._retry_at = None

    def retry_at(self) -> float | None:
        """When states whose write failed are tried again (monotonic), or None."""
        return self._retry_at if self._unsaved else None

    def due(self, now: float) -> list[str]:
        """The names of the outputs to store again now (retry() puts each, as it is)."""
        if self._retry_at is None or now < self._retry_at:
            return []
        return sorted(self._unsaved)

    def retry(
        self,
        now: float,
        current: Callable[[str], tuple[Device, StateRecord] | None],
        at: float,
    ) -> None:
        """Store again, at monotonic `at`, each output whose write failed if its
        retry is due by `now` (math.inf: due or not), as `current` gives it now
        (its device and record; None: gone from the service, forgotten)."""
        for name in self.due(now):
            found = current(name)
            if found is None:
                self.forget(name)
            else:
                self.put(found[0], found[1], at)

    def forget(self, name: str) -> None:
        """An output gone from the service: nothing of it to store again."""
        self._settled(name)
