"""Each device service's register, built from `[devices]`: `fake`, `onewire`, `gpio`
and `rtc`. Pure apart from what a factory reads when a device is added; every problem
is a ConfigError naming the key. raspyd's services and raspy-poller both build here.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from raspy.config import DevicesConfig
from raspy.devices.registry import Registry
from raspy.devices.template import JsonValue
from raspy.errors import ConfigError, DeviceError, quote

# Each service's modules are imported by the function that builds it: a hub or a
# board loads only the kinds it serves (raspyd's default config serves none).
if TYPE_CHECKING:
    from raspy.devices import onewire, rtc, simulated

FAKE: Final = "fake"
ONEWIRE: Final = "onewire"
GPIO: Final = "gpio"
RTC: Final = "rtc"
_MIN_INTERVAL_S: Final = 0.1  # the bounds of a device's poll_interval_s (kinds.py)
_MAX_INTERVAL_S: Final = 86400.0
# the family-3b parts' reads at discovery (a conversion takes 750 ms at most; one
# master may read its parts one after another): longer, and the bus does not
# answer; the device service must not wait on it
IDENTIFY_TIMEOUT_S: Final = 3.0
IDENTIFY_PER_PART_S: Final = 1.0

Discover = Callable[[Registry], list[dict[str, JsonValue]]]
"""New device configs found on a service's bus; raises DeviceError if it cannot look."""


def fake_registry(hostname: str, config: DevicesConfig) -> Registry:
    """The `fake` service's devices: the configured ones, else the built-in set.

    Raises ConfigError naming the device, the field and the reason.
    """
    from raspy.devices import simulated

    configs: list[object] = list(config.fake) or list(simulated.default_configs())
    return registry_of(hostname, FAKE, simulated.SimulatedFactory(), configs)


def board_unused(service: str, config: DevicesConfig) -> list[str]:
    """The `[devices]` keys set in a board's config that raspy-poller running
    `service` does not use: GPIO and the RTC are served by raspyd alone, and a board
    runs one service. A relay's table in a board's file must not be taken as served."""
    return [
        key
        for key, used in (
            ("devices.gpio_enabled", config.gpio_enabled),
            ("devices.gpio", bool(config.gpio)),
            ("devices.rtc_enabled", config.rtc_enabled),
            ("devices.fake", service != FAKE and bool(config.fake)),
            ("devices.onewire", service != ONEWIRE and bool(config.onewire)),
        )
        if used
    ]


def onewire_registry(hostname: str, config: DevicesConfig) -> Registry:
    """The `onewire` service's named sensors (more are discovered); ConfigError."""
    from raspy.devices import onewire

    configs: list[object] = [
        {"oid": onewire.OID, "poll_interval_s": config.onewire_poll_interval_s, **c}
        for c in config.onewire
    ]
    interval_s = config.onewire_poll_interval_s
    if not _MIN_INTERVAL_S <= interval_s <= _MAX_INTERVAL_S:
        raise ConfigError(
            [
                f"devices.onewire_poll_interval_s: expected {_MIN_INTERVAL_S}.."
                f"{_MAX_INTERVAL_S} s, got {interval_s}"
            ]
        )
    twice = _sensors_twice(config.onewire)
    if twice:
        raise ConfigError(twice)
    factory = onewire.OneWireFactory(config.onewire_base_dir)
    return registry_of(hostname, ONEWIRE, factory, configs)


def _sensors_twice(entries: tuple[dict[str, Any], ...]) -> list[str]:
    """One sensor under two names would be two devices, each reading it."""
    problems: list[str] = []
    first: dict[object, int] = {}
    for index, entry in enumerate(entries):
        sensor_id = entry.get("sensor_id")
        if not isinstance(sensor_id, str):
            continue  # the entry's own check names it
        if sensor_id in first:
            problems.append(
                f"devices.onewire[{index}].sensor_id: {quote(sensor_id)} is already "
                f"used by devices.onewire[{first[sensor_id]}]"
            )
        else:
            first[sensor_id] = index
    return problems


def check_config(hostname: str, config: DevicesConfig) -> None:
    """Validate the enabled services' device configs before anything starts; one
    ConfigError naming every problem of every service."""
    builds = (
        (config.fake_enabled, fake_registry),
        (config.onewire_enabled, onewire_registry),
        (config.gpio_enabled, gpio_registry),
    )
    problems: list[str] = []
    for enabled, build in builds:
        if enabled:
            try:
                build(hostname, config)
            except ConfigError as exc:
                problems += exc.problems
    if problems:
        raise ConfigError(problems)


def onewire_discover(config: DevicesConfig) -> Discover:
    """Discovery of the sensors on the configured bus, each named by its id; each new
    one is logged with the part it is (a family-3b part is read once for that)."""
    import structlog  # here: a board refused at its config loads no logging

    from raspy.devices import onewire, w1_slave

    log = structlog.get_logger(component="devices")
    base_dir = Path(config.onewire_base_dir)
    interval_s = config.onewire_poll_interval_s

    def discover(registry: Registry) -> list[dict[str, JsonValue]]:
        new = onewire.new_sensors(onewire.discover(base_dir), registry)
        parts = sum(1 for sensor in new if sensor.family.code == w1_slave.FAMILY_3B)
        timeout_s = IDENTIFY_TIMEOUT_S + IDENTIFY_PER_PART_S * parts
        found, late = onewire.identify_all(base_dir, new, timeout_s)
        for sensor_id in late:
            log.warning(
                "onewire_identify_timeout",
                sensor_id=sensor_id,
                timeout_s=timeout_s,
                reason="its w1_slave did not answer; the bus may hang",
            )
        for sensor in found:
            log.info(
                "onewire_sensor_found", sensor_id=sensor.sensor_id, model=sensor.model
            )
        configs = onewire.new_configs(found, registry)
        return [{**c, "poll_interval_s": interval_s} for c in configs]

    return discover


def registry_of(
    hostname: str,
    name: str,
    factory: simulated.SimulatedFactory | onewire.OneWireFactory | rtc.RtcFactory,
    configs: list[object],
) -> Registry:
    try:
        registry = Registry(hostname, name, factory)
    except ValueError as exc:
        raise ConfigError([f"devices.{name}: {exc}"]) from exc
    try:  # every bad device, and every name given twice, in one pass
        registry.add_all(configs)
    except (DeviceError, ValueError) as exc:
        raise ConfigError([f"devices.{name}: {p}" for p in _problems(exc)]) from exc
    return registry


def _problems(exc: DeviceError | ValueError) -> list[str]:
    """Each problem of `exc` on its own: one a line in `raspyd --check-config`."""
    return exc.problems if isinstance(exc, DeviceError) else [str(exc)]


def gpio_registry(hostname: str, config: DevicesConfig) -> Registry:
    """The `gpio` service's devices from `[[devices.gpio]]`; ConfigError naming each
    problem by its key (`devices.gpio[2].pin: ...`).

    Pin names are checked against this board (mock: the mock board), or against the
    40-pin header when the Pi's GPIO cannot be opened here.
    """
    from raspy.devices import gpio, gpio_options, gpio_pins

    kind = gpio_pins.PinFactoryKind(config.pin_factory)
    try:
        pins = gpio_pins.shared(kind)
        resolve, board = pins.resolve, pins.board_name()
    except DeviceError:
        resolve, board = gpio_pins.reference_resolve, "40-pin header"
    try:
        registry = Registry(hostname, GPIO, gpio.GpioFactory())
        configs = gpio_options.check_entries(
            registry.kinds, config.gpio, resolve, board
        )
        registry.add_all(configs)
    except (DeviceError, ValueError) as exc:
        raise ConfigError(_problems(exc)) from exc
    return registry


def rtc_registry(hostname: str, config: DevicesConfig) -> Registry:
    """The `rtc` service: the real-time clock `rtc0` of the sysfs directory."""
    from raspy.devices import rtc

    factory = rtc.RtcFactory(config.rtc_sysfs_dir)
    configs: list[object] = [
        {"name": "rtc0", "oid": rtc.OID, "rtc": "rtc0", "poll_interval_s": 60.0}
    ]
    return registry_of(hostname, RTC, factory, configs)
