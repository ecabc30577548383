"""A switch-off by `max_on_s` that the pin refused, tried again until it takes.

The max-on deadline is gone once it came (gpio_logic.Deadlines.due): a pin error at
that moment (a transient fault of the GPIO chip, a relay board's driver) left a
heater on for good. gpio_max_on.MaxOn sets the output's deadline again at the
time given here, after raspy.backoff's delays (2 s, doubling up to 30 s), until the
pin takes it or a command changes the output (it is then off, or no max_on_s is
left). Each try is counted; the log says at most one a minute per output, and once
when it took. Pure: the times are passed in.
"""

from __future__ import annotations

from typing import Final

import structlog

from raspy.backoff import Backoff, BackoffPolicy
from raspy.devices.registry import Device
from raspy.ratelimit import LogRateLimiter
from raspy.stats import Stats

log = structlog.get_logger(component="gpio")

OFF_RETRY: Final = BackoffPolicy(initial_s=2.0, max_s=30.0)


class OffRetries:
    """The outputs whose switch-off by max_on_s failed, each with its backoff."""

    def __init__(self, stats: Stats, service: str) -> None:
        self._stats = stats
        self._stat = f"devices.{service}.max_on_retries"
        self._backoffs: dict[str, Backoff] = {}
        self._limiter = LogRateLimiter()

    def retrying(self, name: str) -> bool:
        """Is this switch-off of `name` a try again (its expiry said already)?"""
        return name in self._backoffs

    def failed(self, device: Device, reason: str, now: float) -> float:
        """The switch-off failed at monotonic `now` for `reason`: counted, logged
        (at most once a minute per output); when to try again (same clock)."""
        backoff = self._backoffs.setdefault(device.name, Backoff(OFF_RETRY))
        due = backoff.failed(now)
        self._stats.incr(self._stat)
        if self._limiter.should_log(device.name, now):
            log.warning(
                "device_switch_off_retry",
                device=device.fullname,
                failures=backoff.failures,
                in_s=round(due - now, 3),
                reason=reason,
            )
        return due

    def succeeded(self, device: Device) -> None:
        """The pin took the switch-off: said if it took more than one try."""
        backoff = self._backoffs.pop(device.name, None)
        if backoff is not None:
            log.warning(
                "device_switched_off_after_retries",
                device=device.fullname,
                failures=backoff.failures,
            )

    def forget(self, name: str) -> None:
        """A command changed the output (off now, or no max_on_s): no more tries."""
        self._backoffs.pop(name, None)
