"""The device services built from `[devices]` as child specs for the supervisor
(start_devices()): `fake`, `onewire`, `rtc` (DeviceServiceActor), `gpio` (gpiozero)
and the clock health publisher. Their registers come from raspy.devices.registries.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pykka
import structlog

from raspy.actors.clone.server import read_records, set_if_unchanged
from raspy.actors.devices import DeviceServiceActor, MdpLink
from raspy.actors.devices.offline import OfflineMarkerActor
from raspy.devices import gpio_pins
from raspy.devices.offline import OfflineWatch
from raspy.devices.registries import (
    FAKE,
    GPIO,
    ONEWIRE,
    RTC,
    Discover,
    fake_registry,
    gpio_registry,
    onewire_discover,
    onewire_registry,
    rtc_registry,
)
from raspy.devices.registry import Registry
from raspy.devices.tree import DevicePublisher, Publisher, ReadTree
from raspy.errors import DeviceError
from raspy.storage.device_settings import DeviceSettings

if TYPE_CHECKING:
    from raspy.actors.clone.publisher import ClonePublisher
    from raspy.actors.supervisor import Runtime

log = structlog.get_logger(component="devices")


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
    runtime: Runtime,
    publisher: DevicePublisher,
    link: MdpLink,
    settings: DeviceSettings,
    read_tree: ReadTree,
) -> Callable[[], pykka.ActorRef[Any]]:
    from raspy.actors.gpio import GpioServiceActor

    config = runtime.config.devices
    gpio_registry(runtime.hostname, config)

    def start() -> pykka.ActorRef[Any]:
        unavailable = ""
        try:
            pins: gpio_pins.Pins | None = gpio_pins.shared(
                gpio_pins.PinFactoryKind(config.pin_factory)
            )
        except DeviceError as exc:
            unavailable = str(exc)
            log.error("gpio_unavailable", reason=unavailable)
            pins = None
        return GpioServiceActor.start(
            gpio_registry(runtime.hostname, config),
            publisher,
            pins=pins,
            unavailable=unavailable,
            restarting=lambda: not runtime.stopping,
            clock=runtime.clock,
            stats=runtime.stats,
            link=link,
            settings=settings,
            stored=read_tree,
        )

    return start


def start_devices(
    runtime: Runtime,
    publisher: ClonePublisher,
    read_tree: ReadTree,
    clone_ref: pykka.ActorRef[Any],
) -> list[tuple[str, Callable[[], pykka.ActorRef[Any]]]]:
    """Child specs of the enabled device services, for Runtime.add_child().

    The device configs are checked here, once (ConfigError); every start() builds a
    fresh register, so a restarted service begins from the config again. Each reads
    its subtree of the live tree at start (`read_tree`): the readings of devices gone
    are deleted, simulated outputs take their value again. The offline marker
    reads and writes through the Clone server (`clone_ref`) itself.
    """
    config = runtime.config.devices
    # outputs a gpio service kept for its successor, when a reload leaves none
    in_use = (
        gpio_pins.PinFactoryKind(config.pin_factory) if config.gpio_enabled else None
    )
    for pin in gpio_pins.release_kept_elsewhere(in_use):
        log.warning("gpio_output_released", pin=pin, reason="gpio off")
    if in_use is not None:  # one given up before is replaced: outputs kept for it
        gpio_pins.successor_coming(in_use)
    link = MdpLink(runtime.edge, runtime.outbox)
    builders: list[tuple[str, Callable[[], Registry], Discover | None]] = []
    if config.fake_enabled:
        builders.append((FAKE, lambda: fake_registry(runtime.hostname, config), None))
    if config.onewire_enabled:
        builders.append(
            (
                ONEWIRE,
                lambda: onewire_registry(runtime.hostname, config),
                onewire_discover(config),
            )
        )
    settings = DeviceSettings(runtime.store)
    if config.rtc_enabled:
        builders.append((RTC, lambda: rtc_registry(runtime.hostname, config), None))
    specs: list[tuple[str, Callable[[], pykka.ActorRef[Any]]]] = []
    for name, build, discover in builders:
        build()

        def start(
            build: Callable[[], Registry] = build,
            discover: Discover | None = discover,
            simulated: bool = name == FAKE,
        ) -> pykka.ActorRef[Any]:
            return DeviceServiceActor.start(
                build(),
                publisher,
                clock=runtime.clock,
                stats=runtime.stats,
                link=link,
                discover=discover,
                settings=settings,
                stored=read_tree,
                resume_outputs=simulated,  # simulated outputs keep state like a relay
            )

        specs.append((f"devices.{name}", start))
    if config.gpio_enabled:
        specs.append(
            (
                f"devices.{GPIO}",
                gpio_start(runtime, publisher, link, settings, read_tree),
            )
        )
    if config.clock_health_interval_s > 0:
        specs.append(("devices.clock", clock_health_start(runtime, publisher)))
    hosted = [name for name, _, _ in builders]
    hosted += [GPIO] if config.gpio_enabled else []
    _forget_turned_off(runtime.hostname, hosted, publisher, read_tree)
    if config.offline_after_s > 0:
        start_marker = offline_start(runtime, clone_ref, hosted)
        specs.append(("devices.offline", start_marker))
    return specs


def _forget_turned_off(
    hostname: str, hosted: list[str], publisher: ClonePublisher, read_tree: ReadTree
) -> None:
    """Delete the readings of this hub's own device services that the config turns
    off (`fake_enabled = false`, ...): every device of such a service is gone, as a
    device taken out of a running service's config is (its readings are deleted
    then). They stayed in the tree, marked offline, and so on every page and in
    Home Assistant, for ever. Every such key is this hub's: a raspy-poller under
    the hub's hostname is refused whatever its service (raspy.cli.board_check)."""
    turned_off = {FAKE, ONEWIRE, RTC, GPIO} - set(hosted)
    if not turned_off:
        return
    prefix = f"/device/{hostname}."  # one read of the tree for all of them
    gone: dict[str, list[str]] = {}
    for key, body in read_tree(prefix):
        service = key[len(prefix) :].partition(".")[0]
        if body and service in turned_off:
            gone.setdefault(service, []).append(key)
    for service, keys in sorted(gone.items()):
        publisher.set_many([(key.encode("utf-8"), b"") for key in sorted(keys)])
        log.info("device_readings_forgotten", service=service, keys=len(keys))


def given_up(name: str) -> None:
    """The supervisor gave part `name` up: a failed gpio service kept its outputs for
    a restart that will not come now, and no max_on_s runs for them."""
    if name == f"devices.{GPIO}":
        release_abandoned("gpio service failed")


def release_abandoned(reason: str) -> None:
    """Outputs kept for a gpio service that will not come (given up, or raspyd stops
    while one waits for its restart) take their on_stop state, as at a clean stop:
    off and released, or, for `keep`, left as they are."""
    for pin in gpio_pins.release_kept_elsewhere(None, abandoned=True):
        log.warning("gpio_output_released", pin=pin, reason=reason)


def offline_start(
    runtime: Runtime, clone_ref: pykka.ActorRef[Any], hosted: list[str]
) -> Callable[[], pykka.ActorRef[Any]]:
    """The marker of remote readings gone stale (actors/devices/offline.py): it reads
    the tree with its sequence numbers and writes each mark as a compare-and-set,
    both through the Clone server; the services this hub hosts (`hosted`, their
    <svc>) are never marked."""
    names = [f"{runtime.hostname}.{svc}.devices" for svc in hosted]
    grace_s = runtime.config.devices.offline_after_s

    def start() -> pykka.ActorRef[Any]:
        return OfflineMarkerActor.start(
            OfflineWatch(grace_s, names),
            functools.partial(read_records, clone_ref, runtime.store),
            functools.partial(set_if_unchanged, clone_ref),
            runtime.edge,
            clock=runtime.clock,
            stats=runtime.stats,
            max_key_bytes=runtime.config.clone.max_key_bytes,
        )

    return start
