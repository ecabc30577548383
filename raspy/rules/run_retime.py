"""What a step of the wall clock does to the runs in a long wait (pure).

A wait runs on the monotonic clock, but its record (rules.resume_record) says when
it ends on the wall clock, the one clock that goes on while raspyd is down. A Pi
without a real-time clock boots at a saved time (days behind) and NTP steps it
later: an end written before the step is wrong after it, and a restart would take
the run for stale (a week "ago") and drop it. So at a step each record is written
again from the clocks as they are (Retime.after_step), and a run taken up at a
start by the wrong clock (it waits what was left by that clock: its whole time) is
judged again by the right one: after a step forward its wait ends when its record
said (at once if that is past), and a wait that ended over a day ago is stale, as
at a start. Until a step, the record keeps the end it said (Retime.recorded):
a second start by the clock still behind takes the run up from it, not from that
clock's end, which NTP would then show hours (at a boot at 1970, decades) early.

A wait_until yields a new AwaitChange at each wake, made from what it knew when it
began: what the step changed (its deadline, its end on the wall clock) is kept
here and laid over each one while the run waits at that place.
"""

from __future__ import annotations

import math
from dataclasses import replace

from raspy.records import frozen
from raspy.rules.engine_output import Checkpoint
from raspy.rules.resume_path import Path
from raspy.rules.run import Run
from raspy.rules.run_steps import AwaitChange, Sleep

# a run taken up after a restart whose wait ended this long before a step forward
# showed the real time: dropped, and the scenario says why
STALE_RUN_ERROR = (
    "a run taken up after a restart was dropped: the clock, set right after the "
    "start, says its wait ended more than a day ago"
)


@frozen
class _Kept:
    """A run's wait at `place` as a step left it: `deadline` (monotonic s, None: a
    wait_until without a timeout) and `end_wall` (epoch s)."""

    place: Path
    deadline: float | None
    end_wall: float


class Retime:
    """The waits a step changed, and the runs taken up at a start, by run id."""

    def __init__(self) -> None:
        self._kept: dict[int, _Kept] = {}
        self._taken_up: dict[int, Checkpoint] = {}  # the record a run came from
        self._judged: set[int] = set()  # taken up, and a step came since

    def taken_up(self, run: Run, checkpoint: Checkpoint) -> None:
        """`run` is taken up from `checkpoint` (its end by the clock of then), before
        its first advance; forgotten (laid_over) once it waits elsewhere, or not
        at all, after it."""
        if math.isfinite(checkpoint.end_wall):
            self._taken_up[run.run_id] = checkpoint

    def forget(self, run_id: int) -> None:
        self._kept.pop(run_id, None)
        self._taken_up.pop(run_id, None)
        self._judged.discard(run_id)

    def recorded(self, run: Run, checkpoint: Checkpoint) -> Checkpoint:
        """`checkpoint` of `run` as its record is to say it: a run taken up at a
        start keeps the end its record said when that is later than the clock's
        (the clock behind: booted at a saved time), until a step of the clock."""
        taken = self._taken_up.get(run.run_id)
        if (
            taken is None
            or run.run_id in self._judged
            or taken.path != checkpoint.path
            or taken.end_wall <= checkpoint.end_wall
        ):
            return checkpoint
        return replace(checkpoint, end_wall=taken.end_wall)

    def laid_over(self, run: Run) -> None:
        """What a step changed, laid over the wait `run` paused in (a wait_until's
        next AwaitChange); forgotten once the run waits elsewhere."""
        waiting, place = run.waiting, _place(run)
        taken = self._taken_up.get(run.run_id)
        if taken is not None and taken.path != place:
            del self._taken_up[run.run_id]
            self._judged.discard(run.run_id)
        kept = self._kept.get(run.run_id)
        if kept is None:
            return
        if kept.place != place:
            del self._kept[run.run_id]
        elif isinstance(waiting, AwaitChange):
            run.waiting = replace(
                waiting, deadline=kept.deadline, end_wall=kept.end_wall
            )
        elif isinstance(waiting, Sleep) and kept.deadline is not None:
            run.waiting = replace(waiting, deadline=kept.deadline)

    def after_step(self, run: Run, delta_s: float, mono: float, wall: float) -> bool:
        """The wall clock stepped by `delta_s` (now `wall`): `run`'s long wait ends
        when it did on the monotonic clock, its end on the wall clock moved with
        the step; one taken up at a start, after a step forward, ends when its
        record said, at once if that is past. False: it was taken up and its wait
        ended over a day ago (stale: the caller drops it)."""
        waiting = run.waiting
        if not isinstance(waiting, Sleep | AwaitChange) or waiting.place is None:
            return True
        deadline = waiting.deadline
        taken = self._taken_up.get(run.run_id)
        if taken is not None:
            self._judged.add(run.run_id)  # the clock is set: its end is the right one
        if taken is not None and delta_s > 0:
            if taken.stale(wall):
                return False
            cut = mono + max(taken.end_wall - wall, 0.0)
            deadline = cut if deadline is None else min(deadline, cut)
        end = math.inf if deadline is None else wall + (deadline - mono)
        self._kept[run.run_id] = _Kept(waiting.place, deadline, end)
        self.laid_over(run)
        return True


def _place(run: Run) -> Path | None:
    """Where `run` is in a long wait or wait_until (its record's place), else None."""
    waiting = run.waiting
    return waiting.place if isinstance(waiting, Sleep | AwaitChange) else None
