"""The device service of a board (raspy-poller), on a daemon thread so that one
stuck past its stop cannot hold the process, stopped within STOP_TIMEOUT_S, and the
reply to a request it did not answer within ASK_TIMEOUT_S; its simulated outputs'
state kept in its data dir, for a start that finds the hub's copy marked offline."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import pykka
import structlog

from raspy.actors import devices
from raspy.devices.reading import Reading, Status
from raspy.devices.registry import Device
from raspy.devices.service_vocabulary import (
    DEVICE_ERROR,
    Request,
    parse_request,
    refused,
)
from raspy.devices.template import JsonValue
from raspy.errors import StoreError
from raspy.storage.device_settings import Saved

log = structlog.get_logger(component="raspy-poller")

ASK_TIMEOUT_S: Final = 5.0
STOP_TIMEOUT_S: Final = 10.0


class BoardDeviceService(devices.DeviceServiceActor):
    """The board's device service, on a daemon thread: one stuck past its stop (a
    read or a write the kernel does not end) must not keep the process from its
    exit, which Python holds for every thread that is not a daemon (systemd ended
    it at its stop timeout). raspy-poller has no outputs to put in a safe state.

    Its simulated outputs (`fake`: a switch, a dimmer) take their value at start
    from the hub's copy of its readings; a board away longer than the hub's grace
    finds them marked offline there (value null), and only the board knew them. So
    each output's value is kept in its data dir when a command changes it (a
    change only: the card's writes count), and taken where the hub's copy has
    none. Without a data dir nothing is kept: such outputs start off."""

    use_daemon_thread = True

    def _started(self, stored: Mapping[str, bytes], saved: Saved) -> None:
        self._kept: dict[str, JsonValue] = dict(saved.states)

    def _kept_value(self, device: Device) -> JsonValue | None:
        value = self._kept.get(device.fullname)
        if value is not None:
            log.info("output_state_from_board", device=device.fullname, value=value)
        return value

    def _published(self, device: Device, reading: Reading) -> None:
        """A command set an output: its value kept, if it changed. A store that
        refuses is logged: the output has changed all the same, and the hub's copy
        of it is what the next start takes first."""
        stored = self._settings.stored
        value, fullname = reading.value, device.fullname
        if stored is None or reading.status is not Status.OK or value is None:
            return
        if fullname in self._kept and self._kept[fullname] == value:
            return
        try:
            stored.save_state(fullname, value, reading.wall_ts)
        except StoreError as exc:
            self._kept.pop(fullname, None)  # the next command tries again
            self._stats.incr(f"devices.{self._name}.state_not_stored")
            log.error("output_state_not_stored", device=fullname, reason=str(exc))
            return
        self._kept[fullname] = value


def stopped(service: pykka.ActorRef[Any]) -> bool:
    """Stop the device service; False if it is still running after the timeout."""
    try:
        service.stop(block=True, timeout=STOP_TIMEOUT_S)
    except pykka.Timeout:
        structlog.get_logger(component="raspy-poller").error(
            "device_service_stop_timeout", timeout_s=STOP_TIMEOUT_S
        )
        return False
    return True


def not_answered(body: Sequence[bytes]) -> tuple[bytes, bytes]:
    """The 500 for a request the device service did not answer in time (a rescan
    held up by parts that do not answer, a read the kernel holds)."""
    request = parse_request(body)
    action = request.action if isinstance(request, Request) else None
    log.warning("device_request_timeout", action=action, timeout_s=ASK_TIMEOUT_S)
    return refused(
        DEVICE_ERROR,
        action,
        "device_error",
        f"the device service did not answer within {ASK_TIMEOUT_S:g} s; it may "
        "still carry the request out",
    )
