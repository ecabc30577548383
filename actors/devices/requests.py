"""DeviceRequests: a device service's requests carried out, under DeviceServiceActor.

A request handled (raspy.devices.service) comes back as a reply and effects; here
they are carried out on the actor's thread: a reading published, a poll asked, a
changed config stored and the device polled at its new interval, a rescan's new
devices given what the store kept for them. A config the store refused is undone
and said so; a `reset` takes the config file's values back. Also the hooks a
service with hardware of its own overrides on this path (actors/gpio.py). A base
class of DeviceServiceActor (`__init__.py`), as DeviceStartup is, so that no call
goes through another object; DeviceServiceActor sets the state below.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pykka
import structlog

from raspy.actors import poller as poller_mod
from raspy.actors.devices.startup import DeviceStartup
from raspy.devices.reading import CONFIGURED_TTL_S, Reading, configured_key
from raspy.devices.registry import Device
from raspy.devices.service import handle_request
from raspy.devices.service_readings import ServiceReadings
from raspy.devices.service_vocabulary import (
    BAD_REQUEST,
    OK,
    ConfigChanged,
    Effect,
    Handled,
    PollRequested,
    Publish,
    Request,
    RescanRequested,
    device_error,
    parse_request,
    refused,
)
from raspy.devices.template import DeviceConfig
from raspy.devices.tree import DevicePublisher, TreeWriter
from raspy.errors import StoreError

log = structlog.get_logger(component="devices")


class DeviceRequests(DeviceStartup):
    """`_handle` and the effects it carries out; DeviceServiceActor sets the state."""

    _publisher: DevicePublisher
    _tree: TreeWriter
    _readings: ServiceReadings
    _poller: pykka.ActorRef[Any] | None

    # --- hooks for services with hardware of their own (actors/gpio.py) --------------
    def _polled_devices(self) -> list[poller_mod.PolledDevice]:
        return [_polled(d) for d in self._registry.devices()]

    def _as_meant(self, request: Request) -> Request:
        """`request` as the service reads it (gpio: a pin by its canonical name)."""
        return request

    def _before_handle(self, request: Request) -> tuple[bytes, bytes] | None:
        """A reply that replaces the common handling of `request`, or None."""
        return None

    def _published(self, device: Device, reading: Reading) -> None:
        """A command changed `device`; its reading was published."""

    # --- requests ---------------------------------------------------------------------
    def _handle(self, body: Sequence[bytes]) -> tuple[bytes, bytes]:
        self._stats.incr(f"devices.{self._name}.requests")
        request = parse_request(body)
        if isinstance(request, Handled):
            return request.reply
        if request.action == "reset" and request.value is None:  # checked first
            problem = self._settings.back_to_file_problem(request.device)
            if problem is not None:
                return refused(BAD_REQUEST, "reset", "invalid_config", problem)
        request = self._as_meant(request)
        replaced = self._before_handle(request)
        if replaced is not None:
            return replaced
        target = (
            None if request.device is None else self._registry.resolve(request.device)
        )
        before = None if target is None else target.config
        handled = handle_request(self._registry, request, self._clock.wall())
        try:
            for effect in handled.effects:
                self._apply(effect)
        except StoreError as exc:  # not stored, so not done: undo and say so
            if before is not None:
                self._registry.configure(before.name, before.as_dict())
            self._stats.incr(f"devices.{self._name}.store_failed")
            log.error("device_settings_not_stored", service=self._name, reason=str(exc))
            return device_error("config", f"not stored: {exc}")
        if request.action == "reset" and handled.reply[0] == OK and before:
            refusal = self._back_to_file(before.name)
            if refusal is not None:
                return refusal
        if target is not None and target.config != before:
            self._configured(target.fullname)
        return handled.reply

    def _configured(self, fullname: str) -> None:
        """A device's config changed (`config` with a value that changed something,
        `log`, a `reset` that undid a change): `/event/device/<fullname>/configured`,
        the wall time, ephemeral. The MQTT bridge lists the service again on it
        (a friendly name reaches Home Assistant now, not at the next start), and
        it is the one thing both share when this service runs on another board."""
        key = configured_key(fullname).encode("utf-8")
        body = repr(self._clock.wall()).encode()
        try:
            self._publisher.set(key, body, ttl_s=CONFIGURED_TTL_S)
        except ValueError as exc:  # a name too long for a Clone key: not announced
            self._stats.incr(f"devices.{self._name}.keys_refused")
            log.warning("device_key_refused", key=fullname, reason=str(exc))

    def _back_to_file(self, name: str) -> tuple[bytes, bytes] | None:
        """`reset`: the config file's values again, and nothing stored over them;
        the error reply if the store refused the deletion (the device keeps what
        the store holds, as after a failed `config`)."""
        try:
            config = self._settings.back_to_file(name, self._clock.wall())
        except StoreError as exc:
            self._stats.incr(f"devices.{self._name}.store_failed")
            log.error("device_settings_not_stored", service=self._name, reason=str(exc))
            return device_error("reset", f"not stored: {exc}")
        if config is not None:
            self._reschedule(name, config)
        return None

    def _apply(self, effect: Effect) -> None:
        match effect:
            case Publish(device=name, fullname=fullname, reading=reading):
                if self._resume_outputs:  # a request before the first copy
                    self._commanded.add(name)
                self._readings.commanded(name, reading.wall_ts)
                self._tree.write(fullname, reading)
                self._published(self._registry.get(name), reading)
            case PollRequested(device=name):
                self._tell_poller(poller_mod.PollNow(name))
            case ConfigChanged(device=name, config=config):
                self._settings.save(name, config, self._clock.wall())
                self._reschedule(name, config)
            case RescanRequested():
                found = self._rescan()
                if found:
                    self._apply_saved({d.name for d in found})
                    self._tell_poller(
                        poller_mod.AddDevices(tuple(_polled(d) for d in found))
                    )

    def _apply_saved(self, names: set[str]) -> None:
        """What was stored for devices a rescan found; a store that cannot be read
        leaves them at their found settings (they are polled all the same)."""
        try:
            self._settings.apply_saved(self._settings.load(), names)
        except StoreError as exc:
            self._stats.incr(f"devices.{self._name}.store_failed")
            log.error(
                "device_settings_not_applied", service=self._name, reason=str(exc)
            )

    def _reschedule(self, name: str, config: DeviceConfig) -> None:
        interval_s = config.real("poll_interval_s")
        polled = {p.name for p in self._polled_devices()}
        for each in (name, *(c.name for c in self._registry.children(name))):
            if each in polled:
                self._tell_poller(poller_mod.SetInterval(each, interval_s))

    def _tell_poller(self, message: poller_mod.Command) -> None:
        if self._poller is None:
            return
        try:
            self._poller.tell(message)
        except pykka.ActorDeadError as exc:  # the supervisor restarts the service
            raise RuntimeError(f"device poller of {self._name} is gone") from exc


def _polled(device: Device) -> poller_mod.PolledDevice:
    return poller_mod.PolledDevice(
        device.name, device.config.real("poll_interval_s"), device.read
    )
