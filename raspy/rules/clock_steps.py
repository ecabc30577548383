"""ClockSteps: one log event per wall clock step, however many schedulers see it.

The core (scenario time triggers) and cron each keep a TimeScheduler, and each one
that has keys notices a step on its next wake-up; either may have none. They share
one ClockSteps, which tells the first to report a step to say it and the others
not to: a step is known by the wall clock's offset from the monotonic clock after
it, the same for every observer (thread-safe; the clocks are passed in).
"""

from __future__ import annotations

import threading
from zoneinfo import ZoneInfo

from raspy.rules.timing_local import iso_local
from raspy.rules.timing_scheduler import DEFAULT_JUMP_THRESHOLD_S, REPEAT_GUARD_S

StepFields = dict[str, float | str]


class ClockSteps:
    """The offset after the last step said; see the module docstring."""

    def __init__(
        self, tz: ZoneInfo, *, threshold_s: float = DEFAULT_JUMP_THRESHOLD_S
    ) -> None:
        self._tz = tz
        self._threshold_s = threshold_s
        self._lock = threading.Lock()
        self._said: float | None = None  # wall - monotonic after the last step said

    def first(
        self, delta_s: float, now_wall: float, now_mono: float
    ) -> StepFields | None:
        """The fields of the `clock_jumped` event for a step of `delta_s` seen at
        `now`, or None when another scheduler has said this step already."""
        offset = now_wall - now_mono
        with self._lock:
            if self._said is not None and abs(offset - self._said) <= self._threshold_s:
                return None
            self._said = offset
        return {
            "delta_s": round(delta_s, 3),
            "before": self._text(now_wall - delta_s),
            "after": self._text(now_wall),
            "reason": _reason(delta_s),
        }

    def _text(self, wall_ts: float) -> str:
        try:
            return iso_local(wall_ts, self._tz)
        except (OverflowError, ValueError, OSError):  # a wall clock beyond datetime
            return str(wall_ts)


def _reason(delta_s: float) -> str:
    """What the schedulers make of a step of `delta_s` (timing_scheduler's rules)."""
    if 0 < delta_s <= REPEAT_GUARD_S:
        return (
            "the fixed times the step skipped fire once now; cron jobs and scenario"
            " time triggers go on from the new time"
        )
    return "cron jobs and scenario time triggers go on from the new time"
