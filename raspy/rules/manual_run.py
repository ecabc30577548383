"""What a manual run did, as the answer to its request says: started, queued or kept
from starting (and why), and, for a run over within the request, done or failed.

Pure: read from the outputs of the engine's `run_now` (actors/scenario.py asks it).
"""

from __future__ import annotations

from dataclasses import dataclass

from raspy.rules.engine_output import (
    Disabled,
    Output,
    Queued,
    RunEnded,
    Skipped,
    Status,
)


@dataclass(frozen=True, slots=True)
class RunAnswer:
    """The Status after a manual run, and why no run started when the mode (or the
    runaway guard) kept it from starting (None: it started, or was queued). A run
    that ended within the request (nothing in it waited) says how: `done`, or
    `failed` with its reason; the state alone may be another run's, or left from
    an earlier one."""

    status: Status
    not_started: str | None = None
    queued: int | None = None  # mode queued: the run waits, this many waiting
    done: bool = False
    failed: str | None = None


def run_answer(status: Status, outputs: list[Output], before: int) -> RunAnswer:
    """What a manual run did, from the outputs of its request: `before` the id of
    the run started last before it (the run it started, if any, is `before + 1`,
    ids coming from one counter: a mode restart ends the runs going first)."""
    not_started = [o.reason for o in outputs if isinstance(o, Skipped)]
    # the runaway guard refused the start (and disables the scenario)
    not_started += [o.reason for o in outputs if isinstance(o, Disabled)]
    queued = [o.waiting for o in outputs if isinstance(o, Queued)]
    ended = [o for o in outputs if isinstance(o, RunEnded) and o.run_id == before + 1]
    return RunAnswer(
        status,
        not_started[0] if not_started else None,
        queued[0] if queued else None,
        done=bool(ended) and ended[0].error is None,
        failed=ended[0].error if ended else None,
    )
