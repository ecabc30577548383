"""The 500 of a `core.scenario` action whose write was not done: the store refused
it, a part of the hub it needs stopped or did not answer, or the store has not ended
it. Said as what was not done to which scenarios, never as an internal error."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import pykka

from raspy.actors.clone.server import PART_STOPPED
from raspy.errors import StoreError, StoreOutcomeUnknown, outcome_unknown
from raspy.rules import scenario_api as api

# what an action that failed to store was to do, as its 500 says it was not done
_DONE: Final = {
    "import": "stored",
    "delete": "deleted",
    "enable": "enabled",
    "disable": "disabled",
    "run": "run",
    "stop": "stopped",
}
_NAMED_AT_MOST: Final = 3  # an import of more is "the N scenarios of this import"

Failure = StoreError | pykka.ActorDeadError | pykka.Timeout


def not_done(action: str, names: Sequence[str], exc: Failure) -> api.Refused:
    """A write of `action` on the scenarios `names` (none: the action's own)
    that failed, as a 500 naming them and what was not done, with
    `nothing_stored: true` (`raspy scenario import` reads it): they are as they
    were (a write never taken, StoreNotTaken, among them). A part that did not
    answer in time cannot say: the reply says it may not have been done, and
    where to look. A store that has not ended its write cannot say either: it
    may land."""
    done = _DONE.get(action, "changed")
    what, was = _what(action, names)
    if isinstance(exc, StoreOutcomeUnknown):
        said = outcome_unknown(f"{what} {was} {done}", exc)
        return api.Refused(b"500", {"error": said})
    if isinstance(exc, pykka.Timeout):
        look = "raspy scenario list"
        if len(names) == 1:
            look = f"raspy scenario show {names[0]}"
        said = (
            f"{what} may not have been {done}: a part of the hub did not answer"
            f" in time (see `{look}` and the log)"
        )
        return api.Refused(b"500", {"error": said})
    said = f"{what} {was} not {done}: {_why(exc)}"
    return api.Refused(b"500", {"error": said, "nothing_stored": True})


def _what(action: str, names: Sequence[str]) -> tuple[str, str]:
    """Who the reply names, and its verb: `scenario heat`, `scenarios a and b`,
    `the 5 scenarios of this import`; `the delete` with no name."""
    if not names:
        return f"the {action}", "was"
    if len(names) == 1:
        return f"scenario {names[0]}", "was"
    if len(names) > _NAMED_AT_MOST:
        return f"the {len(names)} scenarios of this import", "were"
    return f"scenarios {', '.join(names[:-1])} and {names[-1]}", "were"


def _why(exc: Failure) -> str:
    """Why a write was not done, as its reply says it (a Timeout is never:
    whether it was done is not known)."""
    if isinstance(exc, pykka.ActorDeadError):
        return PART_STOPPED
    return str(exc) or type(exc).__name__
