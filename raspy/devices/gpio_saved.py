"""What the store holds of each GPIO output, for `initial = "restore"`: the record a
change makes, and none when nothing changed.

The SD card's writes are counted: a scenario saying `on` every few minutes to a relay
that is on, or a second `on` held as the first one was, is no write. A record is the
output's value, since when it holds (an output on: its switch-on's wall time, which
max_on_s counts from) and, with `initial = "restore"`, the change min_on_s /
min_off_s hold for it (raspy.devices.gpio_hold), so a start holds it again.

The store is reached only through what it is given (StateSaver: the store's
device table in raspyd), on the caller's thread; a write that fails is logged and
counted, never raised: the pin has switched all the same. It is tried again, with
the output's state as it is then, from the service's alarm (`retry_at`, `due`), with
backoff, until one succeeds: a heater switched on while the store failed would
otherwise come back off at the next start.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Protocol

import structlog

from raspy.backoff import Backoff, BackoffPolicy
from raspy.devices.gpio import GpioOutput
from raspy.devices.gpio_logic import Initial
from raspy.devices.registry import Device
from raspy.devices.template import JsonValue
from raspy.errors import StoreError
from raspy.stats import Stats

log = structlog.get_logger(component="gpio")

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


@dataclass(frozen=True, slots=True)
class StateRecord:
    """An output's state to store: `since` the epoch s it holds from."""

    value: JsonValue
    since: float
    pending: bool | None
    on_since: float | None  # monotonic: the same switch-on is the same record


def keeps_pending(device: Device) -> bool:
    """Is a held change stored (and held again at start) for this output?"""
    return Initial(device.config.text("initial")) is Initial.RESTORE


class SavedStates:
    """The record the store has for each output (by full name), as far as this
    service has written or read it; `saver` None: nothing is stored."""

    def __init__(self, saver: StateSaver | None, stats: Stats, service: str) -> None:
        self._saver = saver
        self._stats = stats
        self._failed_stat = f"devices.{service}.state_not_stored"
        self._saved: dict[str, tuple[JsonValue, float | None, bool | None]] = {}
        self._unsaved: set[str] = set()  # device names whose last write failed
        self._backoff = Backoff(SAVE_RETRY)
        self._retry_at: float | None = None

    def store(
        self, device: Device, driver: GpioOutput, now: float, wall: float
    ) -> None:
        """The output's state as it is at monotonic `now` (epoch `wall`), durable
        unless the store has it so already."""
        record = self.change(device, driver, now, wall)
        if self._saver is None or record is None:
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
        self.written(device.fullname, record)
        self._settled(device.name)

    def _settled(self, name: str) -> None:
        self._unsaved.discard(name)
        if not self._unsaved:
            self._backoff.reset()
            self._retry_at = None

    def retry_at(self) -> float | None:
        """When states whose write failed are tried again (monotonic), or None."""
        return self._retry_at if self._unsaved else None

    def due(self, now: float) -> list[str]:
        """The names of the outputs to store again now (store() each, as it is)."""
        if self._retry_at is None or now < self._retry_at:
            return []
        return sorted(self._unsaved)

    def forget(self, name: str) -> None:
        """An output gone from the service: nothing of it to store again."""
        self._settled(name)

    def change(
        self, device: Device, driver: GpioOutput, now: float, wall: float
    ) -> StateRecord | None:
        """The record to write for the output as it is at monotonic `now` (epoch
        `wall`), or None if the store has it so already."""
        on_since = driver.on_since(now)
        pending = driver.pending if keeps_pending(device) else None
        value = driver.value()
        if self._saved.get(device.fullname) == (value, on_since, pending):
            return None
        since = wall if on_since is None else wall - (now - on_since)
        return StateRecord(value, since, pending, on_since)

    def written(self, fullname: str, record: StateRecord) -> None:
        self._saved[fullname] = (record.value, record.on_since, record.pending)

    def found(
        self,
        device: Device,
        driver: GpioOutput,
        stored: JsonValue,
        pending: bool | None,
        now: float,
    ) -> None:
        """At start: the record read (`stored`, None: none), if the output opened
        as it says (so that the same state again is no write)."""
        if stored is None or stored != driver.value() or pending != driver.pending:
            return
        self._saved[device.fullname] = (stored, driver.on_since(now), pending)
