"""A device service's readings between its devices and the Clone tree.

What its actor (raspy.actors.devices) does with readings, on the actor's thread: a
poll's readings recorded on their devices and written in one hand-over (one taken
before a command's reading is stale and dropped, a failed one gets its device's
unit, a change of status is logged once, never per read); at a start, the tree's
copy of the service's keys read once and the readings of devices no longer there
deleted; back with the hub after a loss, every current reading written in full.
It never reads a device: reads block, and run on the poller's reader thread.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import structlog

from raspy.devices.reading import DEVICE_TREE, Reading, Status, device_of_key
from raspy.devices.registry import Device, Registry
from raspy.devices.tree import Publisher, ReadTree, TreeWriter
from raspy.stats import Stats

log = structlog.get_logger(component="devices")


class ServiceReadings:
    """The readings of one device service's Registry, as its tree gets them."""

    def __init__(
        self,
        registry: Registry,
        tree: TreeWriter,
        publisher: Publisher,
        stats: Stats,
        stored: ReadTree | None,
    ) -> None:
        self._registry = registry
        self._tree = tree
        self._publisher = publisher
        self._stats = stats
        self._name = registry.service
        # the tree under a prefix as it is at start (raspyd: the store with the
        # coalesced values not yet written laid over it): readings of devices gone
        # are deleted, and (for simulated devices) outputs take their last value
        # again; raspy-poller has none and sends ForgetGone once it has the hub's
        self._stored = stored
        # wall_ts of readings a command published: an older poll reading is stale
        self._commanded: dict[str, float] = {}

    def commanded(self, name: str, wall_ts: float) -> None:
        """A reading of `name` taken at `wall_ts` was published by a command (or by
        the service itself): a poll reading taken before it is stale."""
        self._commanded[name] = wall_ts

    def polled(self, readings: tuple[tuple[str, Reading], ...]) -> None:
        stats, name = self._stats, self._name
        stats.incr(f"devices.{name}.reads", len(readings))
        published: list[tuple[str, Reading]] = []
        for device_name, taken in readings:
            device = self._registry.find(device_name)
            if device is None:
                continue
            commanded_at = self._commanded.pop(device_name, None)
            if commanded_at is not None and taken.wall_ts < commanded_at:
                stats.incr(f"devices.{name}.stale_readings")  # read before a command
                continue
            last, reading = device.last, taken
            if reading.status is not Status.OK:
                stats.incr(f"devices.{name}.read_errors")
                if not reading.unit:
                    reading = dataclasses.replace(taken, unit=_unit(device))
            if device.record(reading):
                _log_change(device, last, reading)
            published.append((device.fullname, reading))
        self._tree.write_all(published)

    def stored(self) -> dict[str, bytes]:
        """This service's keys as the tree has them, read once per start."""
        if self._stored is None:
            return {}
        registry = self._registry
        return dict(
            self._stored(f"{DEVICE_TREE}{registry.hostname}.{registry.service}.")
        )

    def republish(self) -> None:
        self._tree.forget()
        current = [(d.fullname, d.last) for d in self._registry.devices()]
        count = self._tree.write_all((f, r) for f, r in current if r is not None)
        log.info(
            "device_readings_republished",
            service=self._registry.devices_service,
            count=count,
        )

    def forget_gone(self, stored: Mapping[str, bytes]) -> None:
        """Delete the readings of this service's devices that are no longer there (an
        entry removed from the config, a sensor gone at a restart): a scenario, the
        web face and MQTT would otherwise keep a fresh-looking "ok" for ever."""
        registry = self._registry
        known = set(registry.names())
        gone: dict[str, str] = {}  # key -> the device's full name
        for key in stored:
            found = device_of_key(key)
            if found is not None and found[0].split(".", 2)[2] not in known:
                gone[key] = found[0]
        if not gone:
            return
        self._publisher.set_many([(key.encode("utf-8"), b"") for key in sorted(gone)])
        self._stats.incr(f"devices.{self._name}.forgotten", len(gone))
        log.info(
            "device_readings_forgotten",
            service=registry.devices_service,
            devices=sorted(set(gone.values())),
        )


def _unit(device: Device) -> str:
    unit = device.config.settings.get("unit")
    return unit if isinstance(unit, str) else ""


def _log_change(device: Device, last: Reading | None, reading: Reading) -> None:
    """Once per status change (never per read); a first good reading is not news."""
    if reading.status is not Status.OK:
        log.warning(
            "device_read_failed",
            device=device.fullname,
            status=reading.status.value,
            detail=reading.detail,
        )
    elif last is not None:
        log.info("device_recovered", device=device.fullname, status=last.status.value)
