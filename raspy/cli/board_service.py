"""The device service of a board (raspy-poller), on a daemon thread so that one
stuck past its stop cannot hold the process, stopped within STOP_TIMEOUT_S, and the
reply to a request it did not answer within ASK_TIMEOUT_S."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import pykka
import structlog

from raspy.actors import devices
from raspy.devices.service_vocabulary import (
    DEVICE_ERROR,
    Request,
    parse_request,
    refused,
)

ASK_TIMEOUT_S: Final = 5.0
STOP_TIMEOUT_S: Final = 10.0


class BoardDeviceService(devices.DeviceServiceActor):
    """The board's device service, on a daemon thread: one stuck past its stop (a
    read or a write the kernel does not end) must not keep the process from its
    exit, which Python holds for every thread that is not a daemon (systemd ended
    it at its stop timeout). raspy-poller has no outputs to put in a safe state."""

    use_daemon_thread = True


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
    structlog.get_logger(component="raspy-poller").warning(
        "device_request_timeout", action=action, timeout_s=ASK_TIMEOUT_S
    )
    return refused(
        DEVICE_ERROR,
        action,
        "device_error",
        f"the device service did not answer within {ASK_TIMEOUT_S:g} s; it may "
        "still carry the request out",
    )
