"""DeviceStartup: what a device service takes on at start, under DeviceServiceActor.

The devices discovery finds (`_rescan`, again on the `rescan` action), and the value
simulated outputs had before a restart or a reload, taken once from the first copy of
the tree: the stored one at start, or (raspy-poller) the hub's, with the value the
board kept itself where the copy has none or an older one (`_resume`). A base class of
DeviceServiceActor (`__init__.py`), not a part it holds, so that no call goes through
another object; DeviceServiceActor sets the state below, and DeviceRequests
(`requests.py`, the class between them) carries out the effects (`_apply`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import pykka
import structlog

from raspy import json_text
from raspy.clock import Clock
from raspy.devices.reading import TIMESTAMP_FIELD, value_key
from raspy.devices.registries import Discover
from raspy.devices.registry import Device, Registry
from raspy.devices.service import handle_request
from raspy.devices.service_vocabulary import OK, Effect, Request
from raspy.devices.template import JsonValue
from raspy.errors import DeviceError, quote
from raspy.stats import Stats
from raspy.storage.device_settings import Saved, ServiceSettings

log = structlog.get_logger(component="devices")


class DeviceStartup(pykka.ThreadingActor):
    """`_rescan` and `_resume`; DeviceServiceActor sets the state they use."""

    _registry: Registry
    _settings: ServiceSettings
    _clock: Clock
    _stats: Stats
    _discover: Discover | None
    _name: str
    # simulated outputs take their value again from the first copy of the tree
    _resume_outputs: bool
    # devices a request changed before that copy came: not resumed
    _commanded: set[str]

    def _apply(self, effect: Effect) -> None:
        """DeviceRequests': carry out one effect of a handled request."""
        raise NotImplementedError

    def _kept_value(self, device: Device, copy_since: float) -> JsonValue | None:
        """An output's value kept by the service itself (raspy-poller: its own data
        dir), if it is as new as the copy's (`copy_since`: when the copy's value
        was read; -inf when the copy has none); None if it keeps none, or an older
        one."""
        return None

    def _resume(self, stored: Mapping[str, bytes]) -> None:
        """Simulated outputs (a switch, a dimmer) take the value they had before a
        restart or a reload, as a real relay keeps its state (GPIO: initial =
        restore); sensors refuse the set and keep polling. Once, from the first
        copy of the tree: a later one (a board back with its hub) is older than
        what the outputs were set to meanwhile; so is the first copy for a device
        a request changed before it came (raspy-poller answers as soon as its
        worker is connected, and a copy held up comes seconds later). An output
        takes the value the service kept itself (`_kept_value`) over the copy's
        where the copy has none (the hub's offline mark of a board away: `null`) or
        an older one: a board killed after it answered a command, before the
        reading reached the hub, kept what the command set, and the hub did not
        have it. A null is never set on an output."""
        if not self._resume_outputs:
            return
        self._resume_outputs = False
        commanded, self._commanded = self._commanded, set()
        now = self._clock.wall()
        for device in self._registry.devices():
            if device.name in commanded:
                continue
            value = _value_in(stored, device.fullname)
            # none in the copy (marked offline): never a command, any kept one wins
            copy_since = -math.inf if value is None else _since_in(stored, device)
            kept = self._kept_value(device, copy_since)
            if kept is not None:
                value = kept
            if value is None:
                continue
            request = Request("set", device.name, value)
            handled = handle_request(self._registry, request, now)
            if handled.reply[0] == OK:
                for effect in handled.effects:
                    self._apply(effect)

    def _rescan(self, saved: Saved | None = None) -> list[Device]:
        """Add what discovery finds, each on its own: one refused (its id another
        device's friendly name) is logged and leaves the others added. At a start
        (`saved`: what the store holds, not applied yet) a friendly name stored
        for a device there is taken as well: the sensor is refused, not the
        rename. The new devices (sub-devices included)."""
        if self._discover is None:
            return []
        try:
            configs = self._discover(self._registry)
        except DeviceError as exc:
            self._stats.incr(f"devices.{self._name}.rescan_failed")
            log.warning("device_rescan_failed", service=self._name, reason=str(exc))
            return []
        known = set(self._registry.names())
        present = known | {c.get("name") for c in configs}
        taken = {} if saved is None else self._settings.friendly_names(saved, present)
        for config in configs:
            try:
                holder = taken.get(config.get("name"))
                if holder is not None and holder != config.get("name"):
                    raise DeviceError(
                        f"device {quote(str(config['name']))}: name: already the "
                        f"friendly name of {quote(holder)}"
                    )
                self._registry.add(config)
            except DeviceError as exc:
                self._stats.incr(f"devices.{self._name}.discovered_refused")
                log.warning(
                    "device_discovered_refused", service=self._name, reason=str(exc)
                )
        found = [d for d in self._registry.devices() if d.name not in known]
        self._settings.found(found)
        if found:
            log.info("devices_discovered", service=self._name, count=len(found))
        return found


def _since_in(tree: Mapping[str, bytes], device: Device) -> float:
    """When a device's value in a copy of the tree was read (its `timestamp`, the
    board's wall time); -inf if the copy does not say."""
    body = tree.get(value_key(device.fullname, TIMESTAMP_FIELD))
    try:
        since = json_text.loads(body) if body else None
    except ValueError:
        return -math.inf
    if isinstance(since, bool) or not isinstance(since, int | float):
        return -math.inf
    return float(since)


def _value_in(tree: Mapping[str, bytes], fullname: str) -> JsonValue | None:
    """A device's value in a copy of the tree; None if it has none (an offline
    mark's `null`, no key, a body that is not JSON)."""
    body = tree.get(value_key(fullname))
    if not body:
        return None
    try:
        value: JsonValue = json_text.loads(body)
    except ValueError:
        return None
    return value
