"""The device service of a board (raspy-poller), on a daemon thread so that one
stuck past its stop cannot hold the process, stopped within STOP_TIMEOUT_S, and the
reply to a request it did not answer within ASK_TIMEOUT_S; its simulated outputs'
state kept in its data dir, for a start that finds the hub's copy marked offline,
or older (the board killed before its reading reached the hub)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Final

import pykka
import structlog

from raspy.actors.devices import DeviceServiceActor
from raspy.actors.poller import DevicesRead
from raspy.devices.reading import Reading, Status
from raspy.devices.registry import Device
from raspy.devices.saved_states import SavedStates, StateRecord
from raspy.devices.service_vocabulary import (
    DEVICE_ERROR,
    Request,
    parse_request,
    refused,
)
from raspy.devices.template import JsonValue
from raspy.storage.device_settings import Saved

log = structlog.get_logger(component="raspy-poller")

ASK_TIMEOUT_S: Final = 5.0
STOP_TIMEOUT_S: Final = 10.0


class BoardDeviceService(DeviceServiceActor):
    """The board's device service, on a daemon thread: one stuck past its stop (a
    read or a write the kernel does not end) must not keep the process from its
    exit, which Python holds for every thread that is not a daemon (systemd ended
    it at its stop timeout). raspy-poller has no outputs to put in a safe state.

    Its simulated outputs (`fake`: a switch, a dimmer) take their value at start
    from the hub's copy of its readings; a board away longer than the hub's grace
    finds them marked offline there (value null), and only the board knew them. So
    each output's value is kept in its data dir when a command changes it (a
    change only: the card's writes count; one the store refused tried again,
    raspy.devices.saved_states), and taken where the hub's copy has none or an
    older one.
    Without a data dir nothing is kept: such outputs start off."""

    use_daemon_thread = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._kept: dict[str, JsonValue] = {}  # the store's, at start
        self._kept_since: dict[str, float] = {}  # the wall time of each
        self._saved = SavedStates(self._settings.stored, self._stats, self._name)
        # the latest value each output was set to (by name): what a retry writes
        self._latest: dict[str, StateRecord] = {}

    def _started(self, stored: Mapping[str, bytes], saved: Saved) -> None:
        self._kept = dict(saved.states)
        self._kept_since = dict(saved.states_since)
        for fullname, value in saved.states.items():
            self._saved.found(fullname, StateRecord(value, 0.0))

    def _kept_value(self, device: Device, copy_since: float) -> JsonValue | None:
        """The value kept, stored before the command's reply went: newer than the
        hub's where the board was killed before the reading reached the hub."""
        fullname = device.fullname
        value = self._kept.get(fullname)
        if value is None or self._kept_since.get(fullname, -math.inf) < copy_since:
            return None
        log.info("output_state_from_board", device=fullname, value=value)
        return value

    def _published(self, device: Device, reading: Reading) -> None:
        """A command set an output: its value kept, if it changed. A write the store
        refused is logged and counted, and tried again with the output's latest
        value from the polls that follow (with backoff) and at the stop: the
        output has changed all the same, and a board started again past its
        offline mark takes the kept value."""
        value = reading.value
        if reading.status is not Status.OK or value is None:
            return
        record = StateRecord(value, reading.wall_ts)
        self._latest[device.name] = record
        self._saved.put(device, record, self._clock.monotonic())

    def on_receive(self, message: Any) -> Any:
        """A poll's readings: the board's tick, on which refused writes are tried
        again once due."""
        answer = super().on_receive(message)
        if isinstance(message, DevicesRead):
            self._retry(self._clock.monotonic())
        return answer

    def _stopping(self) -> None:
        # tried once more before the service goes, due or not (as GPIO's are)
        self._retry(math.inf)

    def _retry(self, now: float) -> None:
        self._saved.retry(now, self._current, self._clock.monotonic())

    def _current(self, name: str) -> tuple[Device, StateRecord] | None:
        """An output's device and latest value, for a write tried again."""
        device, record = self._registry.find(name), self._latest.get(name)
        return None if device is None or record is None else (device, record)


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
