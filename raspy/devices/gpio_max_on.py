"""An output's `max_on_s`: its deadline, the switch-off when it comes, and what is said.

The deadline counts from when the output went on (gpio_logic.OnTimer), also across
restarts of the service; when it comes the output is switched off, counted, logged
and `/event/<fullname>/max_on_expired` written, once however many tries the pin takes
(gpio_retry.OffRetries sets the deadline again while it refuses). A stored `on` older
than max_on_s at a start is said the same way. Pure of the actor: the service's
switch of its own is a callable, the times come from the clock it is given.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog

from raspy.clock import Clock
from raspy.devices import gpio
from raspy.devices.gpio_logic import OnTimer
from raspy.devices.gpio_retry import OffRetries
from raspy.devices.gpio_tree import Events, max_on_key
from raspy.devices.reading import Reading, Status
from raspy.devices.registry import Device
from raspy.stats import Stats

log = structlog.get_logger(component="gpio")

# the service's own switch: device, driver, the reading it made, its wall time
Switched = Callable[[Device, gpio.GpioOutput, Reading, float], None]


class MaxOn:
    """The max-on deadlines of a service's outputs and their switch-offs."""

    def __init__(self, events: Events, stats: Stats, service: str) -> None:
        self._timer = OnTimer()
        self._retries = OffRetries(stats, service)  # a switch-off the pin refused
        self._events = events
        self._stats = stats
        self._expired_stat = f"devices.{service}.max_on_expired"

    def due(self, now: float) -> list[str]:
        """The outputs whose deadline came at monotonic `now` (then gone)."""
        return self._timer.due(now)

    def next_deadline(self) -> float | None:
        return self._timer.next_deadline()

    def forget(self, name: str) -> None:
        """`name`'s deadline dropped (a config change times it anew)."""
        self._timer.forget(name)

    def track(self, device: Device, driver: gpio.GpioOutput, now: float) -> None:
        """The output switched (or started) at monotonic `now`: its deadline counts
        from when it went on; off, or no max_on_s, no deadline and no more tries."""
        max_on_s = device.config.real("max_on_s")
        on_since = driver.on_since(now)
        if on_since is None or max_on_s <= 0:  # a switch-off by max_on_s is moot
            self._retries.forget(device.name)
        self._timer.switched(
            device.name, on_since is not None, max_on_s, on_since or 0.0
        )

    def switch_off(self, device: Device, clock: Clock, switched: Switched) -> None:
        """The deadline of `device` came: switched off (`switched` does what a
        switch of the service's own does); a pin that refused is tried again."""
        driver = device.driver
        assert isinstance(driver, gpio.GpioOutput)
        now, first = clock.wall(), not self._retries.retrying(device.name)
        reading = driver.switch(device.config, False, now)  # drops what was held
        if first:  # counted and said once, however many tries the pin takes
            self._stats.incr(self._expired_stat)
            log.warning(
                "device_switched_off_after_max_on",
                device=device.fullname,
                max_on_s=device.config.real("max_on_s"),
                status=reading.status.value,
            )
        if reading.status is Status.OK:
            self._retries.succeeded(device)
        switched(device, driver, reading, now)
        if first:
            self._events.write(max_on_key(device.fullname), now)
        if reading.status is not Status.OK:  # tried again: the deadline is gone
            mono = clock.monotonic()
            due = self._retries.failed(device, reading.detail, mono)
            self._timer.set(device.name, due)

    def not_restored(self, device: Device, on_for_s: float, wall_ts: float) -> None:
        """A stored `on` older than max_on_s was not restored at a start: said as
        a switch-off by max_on_s is (the caller stores it off)."""
        self._stats.incr(self._expired_stat)
        log.warning(
            "device_not_restored_after_max_on",
            device=device.fullname,
            max_on_s=device.config.real("max_on_s"),
            on_for_s=round(on_for_s, 3),
        )
        self._events.write(max_on_key(device.fullname), wall_ts)
