"""Clock health in the tree: `/stats/<hostname>/clock/…`, from the kernel (adjtimex).

One thread asks the kernel every interval and publishes `synchronised`,
`estimated_error_s`, `max_error_s`, `source` and, with an RTC, `rtc_drift_s` (each
JSON text) when they change. The log says the first state seen, then each change
once (never per sample): `clock_not_synchronised` when synchronisation is lost,
`clock_synchronised` when it comes back (with how long it was lost). It never stops
the daemon: a failed call is a counted state of its own (`source` "unknown"), logged
once until a call succeeds again; it changes nothing the log said of synchronisation.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import pykka
import structlog

from raspy.clock import Clock
from raspy.clockhealth import ClockHealth, ClockHealthError, read_kernel
from raspy.devices import rtc
from raspy.devices.tree import Publisher
from raspy.errors import DeviceError
from raspy.service_stats import CLOCK_SUBTREE
from raspy.stats import Stats

log = structlog.get_logger(component="clock")

STATS_TREE: Final = "/stats/"
_JOIN_S: Final = 2.0

ReadKernel = Callable[[], ClockHealth]


def health_entries(
    hostname: str,
    health: ClockHealth | None,
    rtc_present: bool,
    drift_s: float | None,
) -> dict[str, bytes]:
    """The `/stats/<hostname>/clock/` keys and JSON values (health None: unknown).

    Every key is given each time, null when unknown, so a failing call or RTC
    leaves no earlier value standing beside it ("ok" beside "unknown")."""
    prefix = f"{STATS_TREE}{hostname}/{CLOCK_SUBTREE}/"
    if health is None:
        entries: dict[str, Any] = {
            "synchronised": None,
            "estimated_error_s": None,
            "max_error_s": None,
            "state": None,
            "source": "unknown",
        }
    else:
        entries = {
            "synchronised": health.synchronised,
            "estimated_error_s": health.estimated_error_s,
            "max_error_s": health.max_error_s,
            "state": health.state,
            "source": health.source(rtc_present).value,
        }
    if rtc_present or drift_s is not None:
        entries["rtc_drift_s"] = None if drift_s is None else round(drift_s, 3)
    return {f"{prefix}{k}": json.dumps(v).encode() for k, v in entries.items()}


class ClockHealthActor(pykka.ThreadingActor):
    """Publishes clock health every `interval_s` from a thread of its own."""

    def __init__(
        self,
        hostname: str,
        publisher: Publisher,
        *,
        clock: Clock,
        stats: Stats,
        interval_s: float,
        rtc_dir: Path,
        read: ReadKernel = read_kernel,
    ) -> None:
        super().__init__()
        self._hostname = hostname
        self._publisher = publisher
        self._clock = clock
        self._stats = stats
        self._interval_s = interval_s
        self._rtc_dir = rtc_dir
        self._read = read
        self._done = threading.Event()
        self._last: dict[str, bytes] = {}
        self._synchronised: bool | None = None  # the last the kernel said
        self._lost_at: float | None = None  # when it said not synchronised (monotonic)
        self._unknown = False  # the last call failed (logged once)
        self._thread = threading.Thread(
            target=self._run, name="raspy-clock-health", daemon=True
        )

    def on_start(self) -> None:
        self._thread.start()

    def on_stop(self) -> None:
        self._end()

    def on_failure(self, *_: object) -> None:
        self._end()

    def _end(self) -> None:
        self._done.set()
        self._thread.join(timeout=_JOIN_S)

    def _run(self) -> None:
        try:
            while True:
                self.check()
                if self._done.wait(self._interval_s):
                    return
        except Exception:  # the edge of the loop: logged; the supervisor restarts us
            log.exception("clock_health_failed")
            self._stats.incr("devices.clock.health_failed")
            self.actor_ref.stop(block=False)

    def check(self) -> None:
        """Ask the kernel (and the RTC) once; publish what changed."""
        try:
            health: ClockHealth | None = self._read()
        except ClockHealthError as exc:
            health = None
            self._stats.incr("devices.clock.adjtimex_failed")
            if not self._unknown:
                log.warning("clock_health_unknown", reason=str(exc))
        self._unknown = health is None
        drift_s = self._rtc_drift()
        self._note(health)
        entries = health_entries(
            self._hostname, health, (self._rtc_dir / "rtc0").exists(), drift_s
        )
        changed = [
            (k.encode(), v) for k, v in entries.items() if self._last.get(k) != v
        ]
        if changed:
            self._last.update(entries)
            self._publisher.set_many(changed)

    def _rtc_drift(self) -> float | None:
        try:
            sample = rtc.read_rtc(self._rtc_dir, "rtc0")
        except DeviceError:
            return None
        return rtc.drift_s(sample, self._clock.wall())

    def _note(self, health: ClockHealth | None) -> None:
        """Log a change of synchronisation once; an unknown sample is no change."""
        if health is None or health.synchronised == self._synchronised:
            return
        self._synchronised = health.synchronised
        now = self._clock.monotonic()
        if not health.synchronised:
            self._lost_at = now
            log.warning(
                "clock_not_synchronised",
                state=health.state,
                max_error_s=health.max_error_s,
                reason="times of cron jobs and scenarios may be wrong",
            )
            return
        lost_at, self._lost_at = self._lost_at, None
        if lost_at is None:  # the first sample: synchronised from the start
            log.info("clock_synchronised", estimated_error_s=health.estimated_error_s)
            return
        log.info(
            "clock_synchronised",
            estimated_error_s=health.estimated_error_s,
            unsynchronised_s=round(now - lost_at, 3),
        )
