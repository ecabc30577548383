"""The register of device kinds by oid, and a device's config checked against it.

Pure data and checks: no I/O, no clock. The register is immutable. A device config is
JSON-compatible data; an invalid one is refused with a DeviceError naming the device,
the field and the reason. The kinds raspy ships are in raspy.devices.builtin_kinds.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Final

from raspy.devices.template import (
    DeviceConfig,
    FieldSpec,
    JsonValue,
    Kind,
    Subdevice,
    merge_fields,
    normalise,
    reason_against,
    shown,
)
from raspy.errors import DeviceError, did_you_mean, quote

NAME_PATTERN: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
FRIENDLY_NAME_MAX: Final = 64
# Actions of the device-service vocabulary that are not commands of a device
# (raspy.devices.service): those on one device, and all of them; a kind's own
# command may not take one of these names.
DEVICE_REQUESTS: Final = frozenset({"get", "set", "commands"})
SERVICE_ACTIONS: Final = DEVICE_REQUESTS | {"list_keys", "list", "rescan"}
# What a binary input is, in Home Assistant's words (its binary_sensor device
# classes): the MQTT bridge announces it so, and Home Assistant then shows
# Open/Closed, Detected/Clear, Wet/Dry... with the matching icon rather than On/Off.
BINARY_CLASSES: Final = (
    "battery",
    "battery_charging",
    "carbon_monoxide",
    "cold",
    "connectivity",
    "door",
    "garage_door",
    "gas",
    "heat",
    "light",
    "lock",
    "moisture",
    "motion",
    "moving",
    "occupancy",
    "opening",
    "plug",
    "power",
    "presence",
    "problem",
    "running",
    "safety",
    "smoke",
    "sound",
    "tamper",
    "update",
    "vibration",
    "window",
)
# How Home Assistant's statistics read a generic sensor: a value now (measurement),
# a total that may go down as well as up (a net meter), or a count that only grows
# (an energy meter, a rain gauge), a drop being a new cycle.
STATE_CLASSES: Final = ("measurement", "total", "total_increasing")


class KindRegister:
    """Kinds by oid; immutable (with_kinds() returns a new register)."""

    def __init__(self, kinds: Iterable[Kind]) -> None:
        self._kinds: Mapping[str, Kind] = MappingProxyType(self._checked(kinds))
        self._commands = frozenset(
            c.name for kind in self._kinds.values() for c in kind.commands
        )

    @staticmethod
    def _checked(kinds: Iterable[Kind]) -> dict[str, Kind]:
        table: dict[str, Kind] = {}
        for kind in kinds:
            if kind.oid in table:
                raise ValueError(f"kind {kind.oid} registered twice")
            clash = SERVICE_ACTIONS.intersection(c.name for c in kind.commands)
            if clash:
                raise ValueError(
                    f"kind {kind.oid}: commands {sorted(clash)} are actions"
                )
            if kind.command(kind.main) is None:
                raise ValueError(
                    f"kind {kind.oid}: main command {kind.main} undeclared"
                )
            table[kind.oid] = kind
        for kind in table.values():
            for sub in kind.subdevices:
                if sub.oid not in table or table[sub.oid].part_of != kind.oid:
                    raise ValueError(
                        f"kind {kind.oid}: sub-device kind {sub.oid} missing"
                    )
        return table

    def with_kinds(self, *kinds: Kind) -> KindRegister:
        return KindRegister([*self._kinds.values(), *kinds])

    def command_names(self) -> frozenset[str]:
        """Every command name of every kind (the actions a request may name)."""
        return self._commands

    def oids(self) -> list[str]:
        return sorted(self._kinds)

    def device_oids(self) -> list[str]:
        """The kinds a configured device may be: not a sub-device's
        (`media.tv.volume` comes with a `media.tv`)."""
        return sorted(oid for oid, kind in self._kinds.items() if kind.part_of is None)

    def find(self, oid: str) -> Kind | None:
        return self._kinds.get(oid)

    def get(self, oid: str) -> Kind:
        """The kind of `oid`; raises DeviceError if none is registered."""
        kind = self._kinds.get(oid)
        if kind is None:
            raise DeviceError(f"unknown device kind {quote(oid)}")
        return kind


def _device_label(config: Mapping[object, object]) -> str:
    name = config.get("name")
    return f"device {quote(name)}" if isinstance(name, str) else "device (unnamed)"


def _identity_problems(
    kinds: KindRegister, config: Mapping[object, object], label: str
) -> list[str]:
    name, oid = config.get("name"), config.get("oid")
    problems = []
    if name is None:
        problems.append(f"{label}: name: required")
    elif not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        problems.append(
            f"{label}: name: expected 1-64 ASCII letters, digits, '_' or '-' "
            f"starting with a letter or digit, got {shown(name)}"
        )
    if oid is None:
        problems.append(f"{label}: oid: required")
    elif not isinstance(oid, str) or kinds.find(oid) is None:
        problems.append(
            f"{label}: oid: expected one of {', '.join(kinds.device_oids())},"
            f" got {shown(oid)}"
        )
    else:
        part_of = kinds.get(oid).part_of
        if part_of is not None:
            problems.append(
                f"{label}: oid: {oid} is a sub-device of {part_of}, not a device"
            )
    return problems


def validate(
    kinds: KindRegister,
    config: object,
    extra_fields: Callable[[str], tuple[FieldSpec, ...]] = lambda oid: (),
) -> DeviceConfig:
    """Check a JSON-compatible device config against its kind's template.

    `extra_fields(oid)` adds the fields of the service's driver (e.g. a sensor id).
    Unknown fields are refused. Raises DeviceError listing every problem, each naming
    the device, the field and the reason.
    """
    if not isinstance(config, Mapping):
        raise DeviceError(f"device config: expected an object, got {shown(config)}")
    label = _device_label(config)
    problems = _identity_problems(kinds, config, label)
    if problems:
        raise DeviceError(*problems)
    name, oid = config["name"], config["oid"]
    assert isinstance(name, str)
    assert isinstance(oid, str)
    fields = merge_fields(kinds.get(oid).fields, extra_fields(oid))
    known = {f.name for f in fields} | {"name", "oid"}
    for key in sorted(config, key=repr):
        if key not in known:
            what = quote(key) if isinstance(key, str) else shown(key)
            hint = did_you_mean(key, known) if isinstance(key, str) else ""
            problems.append(f"{label}: {what}: unknown field for {oid}{hint}")
    settings: dict[str, JsonValue] = {}
    for field in fields:
        if field.name not in config:
            if field.required:
                problems.append(f"{label}: {field.name}: required")
            settings[field.name] = field.default
            continue
        value = config[field.name]
        reason = reason_against(field.spec, value)
        if reason is not None:
            problems.append(f"{label}: {field.name}: {reason}")
            continue
        settings[field.name] = normalise(field.spec, value)
    if problems:
        raise DeviceError(*problems)
    return DeviceConfig(name=name, oid=oid, settings=MappingProxyType(settings))


# Fields a sub-device takes from its composite parent's config.
_INHERITED: Final = ("info", "log", "poll_interval_s")


def subdevice_config(
    kinds: KindRegister,
    parent: DeviceConfig,
    sub: Subdevice,
    extra_fields: Callable[[str], tuple[FieldSpec, ...]] = lambda oid: (),
) -> DeviceConfig:
    """The config of `<parent>.<sub>`: its template's defaults, with info, log and
    poll interval taken from the parent."""
    fields = merge_fields(kinds.get(sub.oid).fields, extra_fields(sub.oid))
    settings = {f.name: f.default for f in fields}
    settings.update((k, parent.settings[k]) for k in _INHERITED if k in settings)
    return DeviceConfig(
        name=f"{parent.name}.{sub.name}",
        oid=sub.oid,
        settings=MappingProxyType(settings),
    )
