"""The hardware services built from `[devices]`: `gpio` (gpiozero), `rtc` (sysfs) and
the clock health publisher, as child specs for the supervisor (via start_devices()).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pykka
import structlog

from raspy.actors.devices import GPIO, RTC, MdpLink, registry_of
from raspy.config import DevicesConfig
from raspy.devices import gpio, gpio_pins, rtc
from raspy.devices.registry import Registry
from raspy.devices.tree import Publisher
from raspy.errors import ConfigError, DeviceError
from raspy.storage.device_settings import DeviceSettings

if TYPE_CHECKING:
    from raspy.actors.supervisor import Runtime

log = structlog.get_logger(component="devices")


def gpio_registry(hostname: str, config: DevicesConfig) -> Registry:
    """The `gpio` service's devices from `[[devices.gpio]]`; ConfigError naming each
    problem by its key (`devices.gpio[2].pin: ...`).

    Pin names are checked against this board (mock: the mock board), or against the
    40-pin header when the Pi's GPIO cannot be opened here.
    """
    kind = gpio_pins.PinFactoryKind(config.pin_factory)
    try:
        pins = gpio_pins.shared(kind)
        resolve, board = pins.resolve, pins.board_name()
    except DeviceError:
        resolve, board = gpio_pins.reference_resolve, "40-pin header"
    try:
        registry = Registry(hostname, GPIO, gpio.GpioFactory())
        configs = gpio.check_entries(registry.kinds, config.gpio, resolve, board)
        registry.add_all(configs)
    except (DeviceError, ValueError) as exc:
        raise ConfigError([str(exc)]) from exc
    return registry


def rtc_registry(hostname: str, config: DevicesConfig) -> Registry:
    """The `rtc` service: the real-time clock `rtc0` of the sysfs directory."""
    factory = rtc.RtcFactory(config.rtc_sysfs_dir)
    configs: list[object] = [
        {"name": "rtc0", "oid": rtc.OID, "rtc": "rtc0", "poll_interval_s": 60.0}
    ]
    return registry_of(hostname, RTC, factory, configs)


def clock_health_start(
    runtime: Runtime, publisher: Publisher
) -> Callable[[], pykka.ActorRef[Any]]:
    from raspy.actors.clock_health import ClockHealthActor

    config = runtime.config.devices

    def start() -> pykka.ActorRef[Any]:
        return ClockHealthActor.start(
            runtime.hostname,
            publisher,
            clock=runtime.clock,
            stats=runtime.stats,
            interval_s=config.clock_health_interval_s,
            rtc_dir=Path(config.rtc_sysfs_dir),
        )

    return start


def gpio_start(
    runtime: Runtime, publisher: Publisher, link: MdpLink, settings: DeviceSettings
) -> Callable[[], pykka.ActorRef[Any]]:
    from raspy.actors.gpio import GpioServiceActor

    config = runtime.config.devices
    gpio_registry(runtime.hostname, config)

    def start() -> pykka.ActorRef[Any]:
        try:
            pins: gpio_pins.Pins | None = gpio_pins.shared(
                gpio_pins.PinFactoryKind(config.pin_factory)
            )
        except DeviceError as exc:
            log.error("gpio_unavailable", reason=str(exc))
            pins = None
        return GpioServiceActor.start(
            gpio_registry(runtime.hostname, config),
            publisher,
            pins=pins,
            restarting=lambda: not runtime.stopping,
            clock=runtime.clock,
            stats=runtime.stats,
            link=link,
            settings=settings,
        )

    return start
