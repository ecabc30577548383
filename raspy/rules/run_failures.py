"""What a scenario's log says of its failed runs: the first failure, a change of
error and the end of a streak at once; the same failure again at most once every
SAY_AGAIN_S, with how many times it came since.

The same failure is the same text with its numbers folded (failure_kind): a reason
that holds a changing value (a reading, a time, an address and port) is one failure,
not a new one at each run.

A condition that faults at every trigger (a sensor away, read every few seconds)
failed as many runs: each was a line in the journal, thousands a day on an SD card.
The scenario's status keys were written once already (History.condition_failed,
which takes the same failure_kind); this bounds the log the same way, through
raspy.ratelimit's limiter. Time is passed in (monotonic s).
"""

from __future__ import annotations

import re
from typing import Final

import structlog

from raspy.ratelimit import LogRateLimiter

log = structlog.get_logger(component="scenario")  # as its actor's lines

SAY_AGAIN_S: Final = 600.0  # the same failure said again at most this often
# a number standing alone (a reading `-3.25`, `1.2e-05`, a time `12:30:05`, an
# address and port, with a unit `1.5s`, `5km/h`): not part of a name (`relay2`,
# `sensor.12`, `relay-2`, a key's `/devices/1/temp`, a URL's host), nor a
# condition's own number, which say which one faulted
_NUMBER: Final = re.compile(
    r"(?<![\w./-])(?<!condition )-?(?>\d+(?:[.:]\d+)*(?:[eE][+-]?\d+)?)"
    r"(?=(?:[^\W\d_]{1,3}(?:/[^\W\d_]{1,3})?)?(?![\w/]))"
)


def failure_kind(reason: str) -> str:
    """The reason with every number standing alone as `#`, however written (its
    sign, point, exponent): `cannot compare 21.5 > 'a'`, `… -0.5 …` and `… 1e-05 …`
    are one failure, a new reading at each run."""
    return _NUMBER.sub("#", reason)


class RunFailures:
    """One scenario's failed runs in a row, and what of them was said."""

    def __init__(self, scenario: str) -> None:
        self._scenario = scenario
        # one key, the last kind of error: another is a new key, said at once
        self._limiter = LogRateLimiter(window_s=SAY_AGAIN_S, max_keys=1)
        self._in_a_row = 0  # failed runs since the last success
        self._unsaid = 0  # of them, the same failure left out of the log since

    def failed(self, reason: str, now: float) -> None:
        """A run failed (or its conditions faulted) for `reason`."""
        self._in_a_row += 1
        if not self._limiter.should_log(failure_kind(reason), now):
            self._unsaid += 1
            return
        # left out since the last line: this failure's repeats, or the one before
        left_out = {"left_out": self._unsaid} if self._unsaid else {}
        log.error(
            "scenario_run_failed",
            scenario=self._scenario,
            reason=reason,
            in_a_row=self._in_a_row,
            **left_out,
        )
        self._unsaid = 0

    def succeeded(self) -> None:
        """A run ended without an error, or the scenario is idle again (a fault
        that ended): a streak of failures is said to have ended."""
        if not self._in_a_row:
            return
        log.info(
            "scenario_run_recovered",
            scenario=self._scenario,
            failures=self._in_a_row,
        )
        self._in_a_row = self._unsaid = 0
        self._limiter = LogRateLimiter(window_s=SAY_AGAIN_S, max_keys=1)
