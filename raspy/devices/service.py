"""The device-service request handler: pure, JSON body in, `[status, json]` out.

No sockets, no clock, no logging: handle() takes the service's Registry, the request
body and `now` (epoch s), and returns the reply frames plus the side effects the
owning actor must carry out (publish a value, poll a device, save a config, rescan).
The words it answers in (the request parsed, the replies, the effects) are in
raspy.devices.service_vocabulary, which the services with actions of their own share.

Device services (README, "Devices")
===================================

Every device-owning service (`fake`, `onewire`, ...) answers MDP requests at
`<hostname>.<service>.devices`. Find them all with the MMI service list and a name
filter such as `*.devices`. A device's full name is
`<hostname>.<service>.<device>[.<subdevice>]`; its live value is in the Clone tree
under `/device/<fullname>/` (`value`, `unit`, `timestamp`, `status`, each JSON text).

Request: one body frame, a UTF-8 JSON object of at most 64 KiB:

    {"v": 1, "action": "<action>", "device": "<name>", "value": <JSON>}

`v` is the vocabulary version, 1 here; a request of another version is refused with
400 and never half-understood. `device` is the name inside the service (`attic`,
`tv.volume`) or a device's `friendly_name` (a config field, unique in the service);
`value` absent or null means "no value". No other keys are allowed.

Reply: two frames, `[status, json]`. The status is ASCII:

    200  ok                     {"v": 1, "action": ..., <result fields>}
    400  bad request            {"v": 1, "action": ..., "error": <token>, "detail": ...}
    404  unknown device         (same error shape; token "unknown_device")
    500  device error           (same error shape; token "device_error")
    501  unknown action         (same error shape; token "unknown_action")

Actions (device: required, value: optional unless said):

    list_keys   -> {"devices": [names, sorted; sub-devices as "tv.channel"]}
    list        -> {"devices": [{"name", "fullname", "oid", "parent", "config",
                                 "reading", "errors"}, ...]}
    rescan      look for new devices on the bus (onewire); 501 where there is none
                -> {"rescan": "requested"}
    get         device -> {"device", "fullname", "reading", "errors"}
                "reading" is the last one: {"value", "unit", "status", "wall_ts",
                "detail"} or null before the first poll; a GPIO switch with a
                change held adds "pending" as a held command's reply does
    set         device, value: write the device's main command (switch `state`,
                dimmer `level`, ...) -> {"device", "reading"}
    commands    device -> {"device", "oid", "commands": [{"name", "info",
                "access": "rw"|"ro"|"wo", "type": "Bool"|"Int"|...|null,
                "datasource": "GAUGE"|"COUNTER"|"DERIVE"|"ABSOLUTE"|null}, ...]}
    config      device -> {"device", "config"}; with a value (an object of the
                fields to change) -> the new config, checked whole first; raspyd
                stores it before it answers, and applies it again after a restart;
                a change sets `/event/device/<fullname>/configured` (the wall
                time, a 60 s ttl), as a `reset` that changes the config does
    log         device -> {"device", "log"}; value true|false sets it
    poll        device: read it now and publish -> {"device", "poll": "requested"}
    reset       device: clear its errors and return it (and its sub-devices) to the
                initial state, and its config to the config file's values (a
                sensor found on the bus: those it was found with; raspyd forgets
                what `config` stored) -> {"device", "reset": [names]}; 400
                invalid_config, nothing reset, when the file's friendly_name
                is another device's now (raspyd)
    <command>   any command of the device's kind (`on`, `off`, `toggle`, `level`,
                `up`, `down`, `snapshot`, `power`, `mute`, ...):
                a trigger takes no value -> {"device", "reading"};
                with a value, writes it -> {"device", "reading"};
                a GPIO switch's command sooner than its min_on_s /
                min_off_s allows is held -> {"device", "reading" (as it
                is), "pending": {"state", "in_s", "detail"}}, and the
                switch goes there by itself when the limit ends;
                without, reads it -> {"device", "command", "value"}, or for the
                main command {"device", "command", "reading"}

Error tokens (400): bad_json, bad_request, unsupported_version, missing_device,
unknown_field, takes_no_value, value_required, read_only, invalid_value,
invalid_config.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from raspy.devices.builtin_kinds import BASE
from raspy.devices.kinds import DEVICE_REQUESTS
from raspy.devices.reading import Reading
from raspy.devices.registry import Device, Registry
from raspy.devices.service_vocabulary import (
    BAD_REQUEST,
    DEVICE_ERROR,
    NOT_FOUND,
    UNKNOWN_ACTION,
    ConfigChanged,
    Effect,
    Handled,
    PollRequested,
    Publish,
    Request,
    RescanRequested,
    handled_error,
    handled_ok,
    parse_request,
)
from raspy.devices.template import CommandSpec, JsonValue, normalise, reason_against
from raspy.errors import DeviceError, did_you_mean, quote

_SERVICE_WIDE: Final = frozenset({"list_keys", "list", "rescan"})


def handle(registry: Registry, body: Sequence[bytes], now: float) -> Handled:
    """Answer one device-service request (see the module docstring); never raises."""
    request = parse_request(body)
    if isinstance(request, Handled):
        return request
    return handle_request(registry, request, now)


def handle_request(registry: Registry, request: Request, now: float) -> Handled:
    """Answer a request parse_request() accepted; never raises."""
    action = request.action
    if action in _SERVICE_WIDE:
        if request.device is not None or request.value is not None:
            return handled_error(
                BAD_REQUEST, action, "bad_request", "takes no device or value"
            )
        return _service_wide(registry, action)
    known = registry.kinds.command_names()
    device = None if request.device is None else registry.resolve(request.device)
    if action not in known and action not in DEVICE_REQUESTS and device is None:
        # of a device found, its kind's commands are named instead (_on_device)
        return handled_error(
            UNKNOWN_ACTION, action, "unknown_action", f"no action {quote(action)} here"
        )
    if request.device is None:
        return handled_error(BAD_REQUEST, action, "missing_device", "device: required")
    if device is None:  # by its name, or its friendly name
        return handled_error(
            NOT_FOUND,
            action,
            "unknown_device",
            f"no device {quote(request.device)} here"
            f"{did_you_mean(request.device, registry.names())}",
        )
    return _on_device(registry, device, request, now)


def _service_wide(registry: Registry, action: str) -> Handled:
    if action == "list_keys":
        names: list[JsonValue] = [*registry.names()]
        return handled_ok(action, devices=names)
    if action == "list":
        return handled_ok(action, devices=[_describe(d) for d in registry.devices()])
    if not registry.factory.rescan_supported:
        return handled_error(
            UNKNOWN_ACTION, action, "unknown_action", "no bus to rescan"
        )
    return handled_ok(action, [RescanRequested()], rescan="requested")


def _describe(device: Device) -> JsonValue:
    return {
        "name": device.name,
        "fullname": device.fullname,
        "oid": device.config.oid,
        "parent": device.parent,
        "config": device.config.as_dict(),
        "reading": _reading(device.last),
        "errors": device.errors,
    }


def _reading(reading: Reading | None) -> JsonValue:
    return None if reading is None else reading.as_json()


def _on_device(
    registry: Registry, device: Device, request: Request, now: float
) -> Handled:
    action, value, name = request.action, request.value, device.name
    match action:
        case "get":
            if value is not None:
                return handled_error(
                    BAD_REQUEST, action, "takes_no_value", "get takes no value"
                )
            return handled_ok(
                action,
                device=name,
                fullname=device.fullname,
                reading=_reading(device.last),
                errors=device.errors,
            )
        case "set":
            main = device.kind.main_command
            if value is None:
                return handled_error(
                    BAD_REQUEST, action, "value_required", "set: no value"
                )
            if not main.writable:
                return handled_error(
                    BAD_REQUEST, action, "read_only", f"{main.name}: read-only"
                )
            return _command(device, main, request, now)
        case "commands":
            commands = [_command_json(c) for c in device.kind.commands]
            return handled_ok(
                action, device=name, oid=device.config.oid, commands=commands
            )
        case "config" | "log":
            return _configure(registry, device, request)
        case "poll":
            if value is not None:
                return handled_error(
                    BAD_REQUEST, action, "takes_no_value", "poll takes no value"
                )
            return handled_ok(
                action, [PollRequested(name)], device=name, poll="requested"
            )
        case "reset":
            if value is not None:
                return handled_error(
                    BAD_REQUEST, action, "takes_no_value", "reset takes no value"
                )
            return _reset(registry, device, now)
    command = device.kind.command(action)
    if command is None:
        # the kind's own commands first (those of every device after them), so a
        # scenario's last_error says what to write instead
        common = {c.name for c in BASE.commands}
        own_first = sorted(device.kind.commands, key=lambda c: c.name in common)
        known = ", ".join(c.name for c in own_first)
        detail = (
            f"{quote(action)} is not a command of {device.config.oid}"
            f" (its commands: {known})"
        )
        return handled_error(UNKNOWN_ACTION, action, "unknown_action", detail)
    return _command(device, command, request, now)


def _command_json(command: CommandSpec) -> JsonValue:
    return {
        "name": command.name,
        "info": command.info,
        "access": command.access.value,
        "type": None if command.value is None else command.value.value_type.value,
        "datasource": None if command.datasource is None else command.datasource.value,
    }


def _command(
    device: Device, command: CommandSpec, request: Request, now: float
) -> Handled:
    action, value, name = request.action, request.value, device.name
    if command.value is None:
        if value is not None:
            return handled_error(
                BAD_REQUEST, action, "takes_no_value", f"{command.name}: a trigger"
            )
    elif value is None:
        if not command.readable:
            return handled_error(
                BAD_REQUEST, action, "value_required", f"{command.name}: write-only"
            )
        return _read_command(device, command, action)
    elif not command.writable:
        return handled_error(
            BAD_REQUEST, action, "read_only", f"{command.name}: read-only"
        )
    else:
        reason = reason_against(command.value, value)
        if reason is not None:
            return handled_error(
                BAD_REQUEST, action, "invalid_value", f"{command.name}: {reason}"
            )
        value = normalise(command.value, value)
    try:
        reading = device.driver.execute(device.config, command.name, value, now)
    except DeviceError as exc:
        return handled_error(DEVICE_ERROR, action, "device_error", str(exc))
    device.record(reading)
    effects = [Publish(name, device.fullname, reading)]
    return handled_ok(action, effects, device=name, reading=reading.as_json())


def _read_command(device: Device, command: CommandSpec, action: str) -> Handled:
    name = device.name
    if command.name == device.kind.main:
        return handled_ok(
            action, device=name, command=command.name, reading=_reading(device.last)
        )
    state = device.driver.state()
    if command.name not in state:
        return handled_error(
            DEVICE_ERROR, action, "device_error", f"{command.name}: no value"
        )
    return handled_ok(
        action, device=name, command=command.name, value=state[command.name]
    )


def _configure(registry: Registry, device: Device, request: Request) -> Handled:
    """The `config` and `log` actions: read, or change and report the new value."""
    action, value, name = request.action, request.value, device.name
    effects: list[Effect] = []
    if value is not None:
        if action == "log" and not isinstance(value, bool):
            detail = "log: expected true or false"
            return handled_error(BAD_REQUEST, action, "invalid_value", detail)
        changes = {"log": value} if action == "log" else value
        before = device.config
        try:
            config = registry.configure(name, changes)
        except DeviceError as exc:
            return handled_error(BAD_REQUEST, action, "invalid_config", str(exc))
        if config != before:  # a change to what it is: no write to the card
            effects.append(ConfigChanged(name, config))
    current = device.config.as_dict()
    if action == "log":
        return handled_ok(action, effects, device=name, log=current["log"])
    return handled_ok(action, effects, device=name, config=current)


def _reset(registry: Registry, device: Device, now: float) -> Handled:
    effects: list[Effect] = []
    names: list[JsonValue] = []
    for each in (device, *registry.children(device.name)):
        each.clear()
        names.append(each.name)
        reading = each.driver.reset(each.config, now)
        if reading is None:
            effects.append(PollRequested(each.name))
        else:
            each.record(reading)
            effects.append(Publish(each.name, each.fullname, reading))
    return handled_ok("reset", effects, device=device.name, reset=names)
