"""The driver seams of a device service: what a driver does (read, execute, state,
reset) and what makes one (DriverFactory, with a kind's extra fields and checks),
apart from the Registry that holds a driver for each device, so that each grows
alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final, Protocol

from raspy.devices.reading import Reading
from raspy.devices.template import DeviceConfig, FieldSpec, JsonValue
from raspy.errors import DeviceError, quote

_NO_STATE: Final[Mapping[str, JsonValue]] = MappingProxyType({})


class Driver(Protocol):
    """What talks to (or simulates) one device; the config is passed on every call."""

    def read(self, config: DeviceConfig, now: float) -> Reading:
        """The main value at `now` (epoch s); a device fault is a status, not a raise.

        May block (a DS18B20 read takes about 750 ms); raises only DeviceError.
        """
        ...

    def execute(
        self, config: DeviceConfig, command: str, value: JsonValue, now: float
    ) -> Reading:
        """Run a writable command whose value was checked against its spec.

        In memory only, never blocks. Returns the main value after it; raises
        DeviceError if the device refuses.
        """
        ...

    def state(self) -> Mapping[str, JsonValue]:
        """Values of the readable commands held in memory (not sensor values)."""
        ...

    def reset(self, config: DeviceConfig, now: float) -> Reading | None:
        """Back to the initial state: the main value, or None if a read must tell.

        In memory only; never raises.
        """
        ...


class ReadOnlySensor:
    """The Driver parts every read-only sensor shares: no commands, no state, nothing
    to reset. Subclasses give read(), and `WHAT` to name themselves in refusals."""

    WHAT = "sensor"

    def execute(
        self, config: DeviceConfig, command: str, value: JsonValue, now: float
    ) -> Reading:
        raise DeviceError(
            f"device {quote(config.name)}: {command}: read-only {self.WHAT}"
        )

    def state(self) -> Mapping[str, JsonValue]:
        return _NO_STATE

    def reset(self, config: DeviceConfig, now: float) -> Reading | None:
        return None


class DriverFactory(Protocol):
    """What a device-owning service (fake, onewire, ...) plugs into its Registry."""

    @property
    def rescan_supported(self) -> bool:
        """Whether the service discovers devices on a bus (the `rescan` action)."""
        ...

    def fields(self, oid: str) -> tuple[FieldSpec, ...] | None:
        """The driver's own config fields for `oid`; None if it has no such driver."""
        ...

    def problems(self, config: DeviceConfig) -> list[str]:
        """Checks across fields, each as `field: reason`; empty if all is fine."""
        ...

    def create(self, config: DeviceConfig) -> Driver:
        """A new driver in its initial state."""
        ...
