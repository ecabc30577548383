"""The collector paused while an in-process subscriber is behind (the decision and
why: raspy.cores.clone_backlog). Its backlog counts the updates accepted and not yet
stored too (each will be told to it), so what the collector adds to an inbox stays
within the limit and one read batch, however slow the store is. The collector is
taken off the runner's poller, so the loop does not spin on input it leaves waiting,
and the loop turns every PAUSED_CHECK_S to see the backlogs fall. Clone I/O thread
only.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import structlog

from raspy.actors.clone.publisher import Subscribers
from raspy.cores.clone_backlog import (
    BACKLOG_LIMIT,
    RESUME_AT,
    CollectorGate,
    Paused,
    Resumed,
)
from raspy.ratelimit import LogRateLimiter
from raspy.stats import Stats
from raspy.transport.runner import Handler, Runner
from raspy.transport.sockets import Socket

log = structlog.get_logger(component="clone")


class CollectorPause:
    """Reads the collector through `handler` while no subscriber is behind;
    `unreleased`: the accepted updates not yet told to the subscribers."""

    def __init__(
        self,
        subscribers: Subscribers,
        unreleased: Callable[[], int],
        stats: Stats,
        gate: CollectorGate | None = None,
    ) -> None:
        self._subscribers = subscribers
        self._unreleased = unreleased
        self._stats = stats
        self._gate = CollectorGate() if gate is None else gate
        self._log = LogRateLimiter()  # a pause a minute logged, and its resume
        self._logged = False  # the current pause was logged: so is its resume
        self._read = False  # the collector was read since the last look
        self._attached: tuple[Runner, Socket, Handler] | None = None

    def attach(self, runner: Runner, collector: Socket, handler: Handler) -> None:
        """Register the collector on `runner`, read by `handler`."""

        def on_readable(events: int) -> None:
            self._read = True
            handler(events)

        self._attached = (runner, collector, on_readable)
        runner.register(collector, on_readable)

    def on_turn(self) -> None:
        """After the turn's updates were told to the subscribers: pause if one is
        behind and the collector brought input; read on once none is. The backlogs
        are not looked at when neither can change anything (in-process writes only)."""
        if self._attached is None or not (self._read or self._gate.paused):
            return
        self._read = False
        waiting, name = self._subscribers.largest_backlog()
        unreleased = self._unreleased()
        now = time.monotonic()
        change = self._gate.on_backlog(waiting + unreleased, now)
        runner, collector, on_readable = self._attached
        if isinstance(change, Paused):
            runner.unregister(collector)
            self._stats.incr("clone.collector.paused")
            self._logged = self._log.should_log("paused", now)
            if self._logged:
                log.warning(
                    "clone_collector_paused",
                    subscriber=name or None,
                    backlog=waiting,
                    unstored=unreleased,
                    limit=BACKLOG_LIMIT,
                )
        elif isinstance(change, Resumed):
            runner.register(collector, on_readable)
            if self._logged:
                log.info(
                    "clone_collector_resumed",
                    paused_s=round(change.paused_s, 3),
                    backlog=waiting,
                    unstored=unreleased,
                    resume_at=RESUME_AT,
                )

    def next_deadline(self, now: float) -> float | None:
        """While paused: when the loop must look at the backlogs again."""
        return self._gate.next_check(now)
