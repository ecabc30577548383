"""The keys under `/scenario/<name>/` that raspy writes (docs/scenarios.md, "State
in the tree"): a scenario's `set:` and `delete:` leave them to the core, whose
state, counters and resume record they are; its own keys go beside them."""

from __future__ import annotations

from typing import Final

from raspy.errors import quote

SCENARIO_TREE: Final = "/scenario/"
# the status the core writes for each scenario (status_entries.py makes the values),
# in the order it writes them: `state` last, so that a client that sees a new state
# (the tree numbers a set's keys in order) already holds the rest of that status
STATE_KEYS: Final = (
    "runs",
    "last_run",
    "last_trigger",
    "last_error",
    "last_error_at",
    "error_from",
    "state",
)
RESUME: Final = "resume"  # the record of a run in a long wait (resume_record.py)
NEXT_FIRE: Final = "next_fire"  # the soonest of its time triggers' next fires
RASPY_ENTRIES: Final = frozenset((*STATE_KEYS, RESUME, NEXT_FIRE))


def refusal_of_raspys_key(key: str) -> str | None:
    """Why a scenario may not write `key` (one raspy writes), or None."""
    if not key.startswith(SCENARIO_TREE):
        return None
    name, _, entry = key[len(SCENARIO_TREE) :].partition("/")
    if not name or entry not in RASPY_ENTRIES:
        return None
    return (
        f"{quote(key)} is raspy's own key of scenario {name} (its {entry}), which "
        f"the core writes: a scenario's keys go beside it, such as "
        f"/scenario/{name}/note"
    )
