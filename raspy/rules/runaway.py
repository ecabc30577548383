"""The runaway guard: a scenario started too often in a minute is disabled.

Apart from `rules.engine` because it is one rule with its own window, its own
exemptions and its own message, tested on its own terms. Pure: the caller passes
the monotonic time.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import Final, get_args

from raspy.devices.template import JsonValue
from raspy.rules import model
from raspy.rules import trigger_match as tm

RUNAWAY_WINDOW_S: Final = 60.0
# Starts by these triggers are not counted by the runaway guard: their schedule bounds
# their rate (`every: 1s` is 60 a minute by design), and no action can make them fire
# again, which is what a runaway is (a scenario whose set re-triggers it). A run tried
# as one of them (`raspy scenario run NAME --trigger ID`, "tried" in its data) has no
# schedule: a script may loop it, so it counts as a manual start does.
SCHEDULED_KINDS: Final = frozenset(
    tm.kind_of(trigger) for trigger in get_args(model.TimeTrigger)
)


def runaway_reason(limit: int, trigger: Mapping[str, JsonValue]) -> str:
    """Why the guard disabled a scenario, with the trigger of the start it refused:
    a loop (a set that triggers its own scenario) and a sensor read every second
    look alike to it, and the two are mended differently."""
    kind = trigger.get("kind")
    key = trigger.get("key")
    by = f"{kind} {key}" if isinstance(key, str) else str(kind)
    caller = trigger.get("by")
    loop = "an action that sets what triggers it loops"
    if isinstance(caller, str):  # a `run:` of another scenario (trigger.by)
        by += f" (a run: in {caller})"
        loop = "scenarios that run: each other loop"
    if trigger.get("tried") is True:
        by += " (tried by hand)"
    return (
        f"runaway: more than {limit} runs in a minute; disabled at a start by {by}"
        f" ({loop}; a reading this frequent wants a test such as above:, to: or"
        " for:, or a higher [core] max_runs_per_minute)"
    )


class RunawayGuard:
    """The starts of the last minute that count, at most `limit` of them."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._starts: deque[float] = deque()  # monotonic s, oldest first

    def refused(self, trigger: Mapping[str, JsonValue], mono: float) -> str | None:
        """Why a start by `trigger` at `mono` is one too many (the scenario is to be
        disabled), or None: it is counted, or not counted at all (a schedule's, not
        one tried as a scheduled trigger)."""
        if trigger.get("kind") in SCHEDULED_KINDS and trigger.get("tried") is not True:
            return None
        starts = self._starts
        while starts and starts[0] <= mono - RUNAWAY_WINDOW_S:
            starts.popleft()
        if len(starts) >= self._limit:
            return runaway_reason(self._limit, trigger)
        starts.append(mono)
        return None
