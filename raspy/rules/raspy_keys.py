"""The keys under `/scenario/<name>/` that raspy writes (docs/scenarios.md, "State
in the tree"): a scenario's `set:` and `delete:` leave them to the core, whose
state, counters and resume record they are; its own keys go beside them."""

from __future__ import annotations

from typing import Final

from raspy.errors import quote

SCENARIO_TREE: Final = "/scenario/"
# status_entries.STATE_KEYS, the resume record and the next fire
RASPY_ENTRIES: Final = frozenset(
    (
        "state",
        "runs",
        "last_run",
        "last_trigger",
        "last_error",
        "last_error_at",
        "error_from",
        "resume",
        "next_fire",
    )
)


def raspys(key: str) -> str | None:
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
