"""The register of device instances of one service (their drivers: devices.driver).

Pure except for what a driver's read() does (a 1-Wire read blocks on sysfs). The
Registry is not thread-safe: one actor owns it; only Device.read() may run elsewhere.
Full names follow docs/architecture.md: `<hostname>.<service>.<device>[.<subdevice>]`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from raspy.devices import kinds
from raspy.devices.builtin_kinds import BUILTIN
from raspy.devices.driver import Driver, DriverFactory
from raspy.devices.kinds import KindRegister
from raspy.devices.reading import Reading, Status
from raspy.devices.template import DeviceConfig, FieldSpec, JsonValue, Kind
from raspy.errors import DeviceError, quote
from raspy.names import DEVICES_SUFFIX, NAME_SEGMENT, RESERVED_SERVICES


def devices_service(hostname: str, service: str) -> str:
    """The MDP service name of a device service: `<hostname>.<service>.devices`."""
    return f"{hostname}.{service}{DEVICES_SUFFIX}"


def devices_service_of(fullname: str) -> str:
    """The devices service of a device's full name `<host>.<svc>.<device>[.<sub>]`."""
    host, service, _ = fullname.split(".", 2)
    return devices_service(host, service)


class Device:
    """One device: its kind, config, driver, last reading and error count."""

    __slots__ = ("config", "driver", "errors", "fullname", "kind", "last", "parent")

    def __init__(
        self,
        fullname: str,
        kind: Kind,
        config: DeviceConfig,
        driver: Driver,
        parent: str | None,
    ) -> None:
        self.fullname = fullname
        self.kind = kind
        self.config = config  # replaced whole by Registry.configure(), never mutated
        self.driver = driver
        self.parent = parent
        self.last: Reading | None = None
        self.errors = 0

    @property
    def name(self) -> str:
        return self.config.name

    def read(self, now: float) -> Reading:
        """Read the device (may block; safe on any thread); never raises for a fault."""
        config = self.config
        try:
            return self.driver.read(config, now)
        except DeviceError as exc:
            unit = config.settings.get("unit")
            return Reading.failed(
                Status.ERROR, unit if isinstance(unit, str) else "", now, str(exc)
            )

    def record(self, reading: Reading) -> bool:
        """Keep `reading` as the last one; True if the status changed (log it then)."""
        changed = self.last is None or self.last.status is not reading.status
        if reading.status is not Status.OK:
            self.errors += 1
        self.last = reading
        return changed

    def clear(self) -> None:
        """Forget the last reading and the error count (the `reset` action)."""
        self.last = None
        self.errors = 0


def read(device: Device, now: float) -> Reading:
    """Read `device` at `now` (epoch s); see Device.read()."""
    return device.read(now)


class Registry:
    """The device instances of one service, by name (`<device>[.<subdevice>]`)."""

    def __init__(
        self,
        hostname: str,
        service: str,
        factory: DriverFactory,
        kind_register: KindRegister = BUILTIN,
    ) -> None:
        for what, value in (("hostname", hostname), ("service", service)):
            if not NAME_SEGMENT.fullmatch(value):
                raise ValueError(
                    f"{what} {value!r}: expected ASCII letters, digits, _ or -"
                )
        if service in RESERVED_SERVICES:
            raise ValueError(
                f"service {service!r}: a name the MQTT bridge keeps for the "
                f"topics of its own ({', '.join(RESERVED_SERVICES)})"
            )
        self.hostname = hostname
        self.service = service
        self.factory = factory
        self.kinds = kind_register
        self._devices: dict[str, Device] = {}

    @property
    def devices_service(self) -> str:
        return devices_service(self.hostname, self.service)

    def fullname(self, name: str) -> str:
        return f"{self.hostname}.{self.service}.{name}"

    def names(self) -> list[str]:
        return sorted(self._devices)

    def devices(self) -> list[Device]:
        return [self._devices[name] for name in sorted(self._devices)]

    def find(self, name: str) -> Device | None:
        return self._devices.get(name)

    def resolve(self, name: str) -> Device | None:
        """The device whose name, or else whose friendly name, is `name`."""
        device = self._devices.get(name)
        if device is not None or not name:
            return device
        return next(
            (
                d
                for d in self._devices.values()
                if d.config.settings.get("friendly_name") == name
            ),
            None,
        )

    def get(self, name: str) -> Device:
        """The device called `name`; raises DeviceError if there is none."""
        device = self._devices.get(name)
        if device is None:
            raise DeviceError(f"{self.service}: no device {quote(name)}")
        return device

    def children(self, name: str) -> list[Device]:
        return [d for d in self.devices() if d.parent == name]

    def _extra_fields(self, oid: str) -> tuple[FieldSpec, ...]:
        return self.factory.fields(oid) or ()

    def validate(
        self,
        config: object,
        *,
        replacing: str | None = None,
        renamed: Mapping[str, object] | None = None,
    ) -> DeviceConfig:
        """Check a config for this service without adding it; DeviceError if bad.
        `renamed`: the friendly names other devices are given with it, by name."""
        checked = kinds.validate(self.kinds, config, self._extra_fields)
        label = f"device {quote(checked.name)}"
        kind = self.kinds.get(checked.oid)
        for oid in (checked.oid, *(sub.oid for sub in kind.subdevices)):
            if self.factory.fields(oid) is None:
                raise DeviceError(f"{label}: oid: {self.service} has no {oid} devices")
        problems = [f"{label}: {p}" for p in self.factory.problems(checked)]
        if checked.name in self._devices and checked.name != replacing:
            problems.append(f"{label}: name: already used in {self.service}")
        elif checked.name != replacing and (holder := self.resolve(checked.name)):
            problems.append(  # two devices would answer to one name (a rescan)
                f"{label}: name: already the friendly name of {quote(holder.name)}"
            )
        problems.extend(
            f"{label}: {p}"
            for p in self._friendly_name_problems(checked, replacing, renamed or {})
        )
        if problems:
            raise DeviceError(*problems)
        return checked

    def _friendly_name_problems(
        self, config: DeviceConfig, replacing: str | None, renamed: Mapping[str, object]
    ) -> list[str]:
        """A friendly name must not be another device's name or friendly name (the
        one it is given in `renamed`, if any)."""
        friendly = config.settings.get("friendly_name")
        if not friendly:
            return []
        for other in self._devices.values():
            if other.name in (config.name, replacing):
                continue
            theirs = renamed.get(other.name, other.config.settings.get("friendly_name"))
            if friendly in (other.name, theirs):
                return [
                    f"friendly_name: {quote(str(friendly))} is already used by "
                    f"{quote(other.name)}"
                ]
        return []

    def add(self, config: object) -> Device:
        """Validate and add one device (and its sub-devices); DeviceError if bad."""
        return self.add_all([config])[0]

    def add_all(self, configs: Sequence[object]) -> list[Device]:
        """Validate every config, then add them all; nothing is added if one is bad.

        The DeviceError names every problem: each bad config's and each name given
        twice among the good ones, so that one fix does not uncover the next."""
        checked: list[DeviceConfig] = []
        problems: list[str] = []
        for config in configs:
            try:
                checked.append(self.validate(config))
            except DeviceError as exc:
                problems += exc.problems
            except ValueError as exc:  # a check that raised rather than said why
                problems.append(str(exc))  # is said with the others' problems
        names = [c.name for c in checked]
        names += [  # their sub-devices' names (`tv.volume`)
            f"{c.name}.{sub.name}"
            for c in checked
            for sub in self.kinds.get(c.oid).subdevices
        ]
        names += [  # a friendly name may not be another device's name either
            f
            for c in checked
            if (f := c.settings.get("friendly_name"))
            and isinstance(f, str)
            and f != c.name
        ]
        twice = sorted({n for n in names if names.count(n) > 1})
        problems += [f"device {quote(name)}: name: given twice" for name in twice]
        if problems:
            raise DeviceError(*problems)
        return [self._insert(config) for config in checked]

    def _insert(self, config: DeviceConfig) -> Device:
        kind = self.kinds.get(config.oid)
        device = self._make(kind, config, parent=None)
        for sub in kind.subdevices:
            sub_config = kinds.subdevice_config(
                self.kinds, config, sub, self._extra_fields
            )
            self._make(self.kinds.get(sub.oid), sub_config, parent=config.name)
        return device

    def _make(self, kind: Kind, config: DeviceConfig, parent: str | None) -> Device:
        device = Device(
            self.fullname(config.name),
            kind,
            config,
            self.factory.create(config),
            parent,
        )
        self._devices[config.name] = device
        return device

    def remove(self, name: str) -> None:
        """Remove a device and its sub-devices; DeviceError if unknown or a sub."""
        device = self.get(name)
        if device.parent is not None:
            raise DeviceError(
                f"device {quote(name)}: a sub-device; remove {device.parent}"
            )
        for child in self.children(name):
            del self._devices[child.name]
        del self._devices[name]

    def configure(self, name: str, changes: object) -> DeviceConfig:
        """Apply a partial config (fields to change) after validating the whole result.

        Name and oid cannot change; a sub-device is configured through its parent.
        Raises DeviceError, leaving the old config in place.
        """
        config = self.validate(self._merged(name, changes), replacing=name)
        self._set_config(name, config)
        return config

    def configure_together(self, changes: Mapping[str, object]) -> dict[str, list[str]]:
        """configure() of several devices at once, all or none: each is checked
        against the friendly names the others are given with it, so that two
        devices may swap theirs (stored renames applied at a start). The problems
        of those refused, by name; none: all applied. Else nothing changed, and
        the others may still go together without those (a swap beside a hopeless
        rename)."""
        merged: dict[str, dict[object, object]] = {}
        refused: dict[str, list[str]] = {}
        for name, fields in changes.items():
            try:
                merged[name] = self._merged(name, fields)
            except DeviceError as exc:
                refused[name] = exc.problems
        renamed = {name: config.get("friendly_name") for name, config in merged.items()}
        checked: dict[str, DeviceConfig] = {}
        for name, config in merged.items():
            try:
                checked[name] = self.validate(config, replacing=name, renamed=renamed)
            except DeviceError as exc:
                refused[name] = exc.problems
        if not refused:
            for name, each in checked.items():
                self._set_config(name, each)
        return refused

    def _merged(self, name: str, changes: object) -> dict[object, object]:
        """The device's config with `changes` over it, not yet checked whole."""
        device = self.get(name)
        label = f"device {quote(name)}"
        if device.parent is not None:
            raise DeviceError(f"{label}: a sub-device; configure {device.parent}")
        if not isinstance(changes, Mapping):
            raise DeviceError(f"{label}: config: expected an object of fields")
        for key in ("name", "oid"):
            if key in changes and changes[key] != getattr(device.config, key):
                raise DeviceError(f"{label}: {key}: cannot be changed")
        merged: dict[object, object] = dict(device.config.as_dict().items())
        merged.update(changes.items())
        return merged

    def _set_config(self, name: str, config: DeviceConfig) -> None:
        device = self._devices[name]
        device.config = config  # and its sub-devices' from it
        for sub in device.kind.subdevices:
            child = self._devices[f"{name}.{sub.name}"]
            child.config = kinds.subdevice_config(
                self.kinds, config, sub, self._extra_fields
            )

    def configs(self) -> list[dict[str, JsonValue]]:
        """The configs of the top-level devices, as JSON-compatible data."""
        return [d.config.as_dict() for d in self.devices() if d.parent is None]
