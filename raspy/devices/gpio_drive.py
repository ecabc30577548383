"""The `drive` action of the `gpio` service on mock pins (`make run`, tests).

`{"v": 1, "action": "drive", "device": "<input>", "value": true}` drives the input's
mock pin to its active level (false: inactive), as a wire would; the change then
takes the same path as a real edge. The service offers it only with
`pin_factory = "mock"`: real pins are driven by the world, never by a request.
"""

from __future__ import annotations

from raspy.devices import gpio_binary
from raspy.devices.gpio_pins import Pins
from raspy.devices.registry import Registry
from raspy.devices.service_vocabulary import (
    BAD_REQUEST,
    NOT_FOUND,
    Request,
    device_error,
    ok,
    refused,
)
from raspy.errors import DeviceError, quote


def drive(pins: Pins, registry: Registry, request: Request) -> tuple[bytes, bytes]:
    """Drive an input's pin to its active (or inactive) level: the reply."""
    device = None if request.device is None else registry.resolve(request.device)
    if device is None or not isinstance(device.driver, gpio_binary.GpioInput):
        detail = f"{quote(request.device or '')}: not an input of this service"
        return refused(NOT_FOUND, "drive", "unknown_device", detail)
    if not isinstance(request.value, bool):
        detail = "drive: expected true (active) or false"
        return refused(BAD_REQUEST, "drive", "invalid_value", detail)
    pull_up = device.config.flag("pull_up")
    try:  # pull-up: active is low
        pins.drive(device.config.text("pin"), request.value != pull_up)
    except DeviceError as exc:
        return device_error("drive", str(exc))
    return ok("drive", device=device.name, value=request.value)
