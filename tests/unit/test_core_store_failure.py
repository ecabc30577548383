"""A `core.scenario` write not done, as its 500 says it (actors.core.store_failure):
the scenarios it names, what was not done, and in which of three tones: it was
not (a write refused, or never taken: StoreNotTaken), it may not have been (a
part that did not answer), it is not known whether (a store that has not ended
its write)."""

from __future__ import annotations

import pykka
import pytest

from raspy.actors.core.store_failure import Failure, not_done
from raspy.devices.template import JsonValue
from raspy.errors import StoreError, StoreNotTaken, StoreOutcomeUnknown

UNKNOWN = StoreOutcomeUnknown("the store has not ended its write in 600 s")
NEXT_START = " (raspyd's next start reads what the store holds)"
LATE = "a part of the hub did not answer in time"
NOT_TAKEN = "a part of the hub did not take the write in time"


@pytest.mark.parametrize(
    ("action", "names", "exc", "body"),
    [
        pytest.param(
            "disable",
            ["heat"],
            StoreError("the disk is full"),
            {
                "error": "scenario heat was not disabled: the disk is full",
                "nothing_stored": True,
            },
            id="refused",
        ),
        pytest.param(
            "delete",
            ["heat"],
            pykka.ActorDeadError("gone"),
            {
                "error": "scenario heat was not deleted: a part of the hub stopped"
                " (see the log)",
                "nothing_stored": True,
            },
            id="a-part-stopped",
        ),
        pytest.param(
            "run",
            ["heat"],
            pykka.Timeout("5 seconds"),
            {
                "error": f"scenario heat may not have been run: {LATE} (see"
                " `raspy scenario show heat` and the log)"
            },
            id="late",
        ),
        pytest.param(
            "import",
            [],
            pykka.Timeout("5 seconds"),
            {
                "error": f"the import may not have been stored: {LATE} (see"
                " `raspy scenario list` and the log)"
            },
            id="late-import-of-one",
        ),
        pytest.param(
            "delete",
            ["heat"],
            UNKNOWN,
            {
                "error": "it is not known whether scenario heat was deleted: the"
                f" store has not ended its write in 600 s{NEXT_START}"
            },
            id="unknown",
        ),
        pytest.param(
            "import",
            ["heat"],
            StoreError("the disk is full"),
            {
                "error": "scenario heat was not stored: the disk is full",
                "nothing_stored": True,
            },
            id="a-restate-refused",
        ),
        pytest.param(
            "import",
            ["a", "b", "c"],
            StoreNotTaken(f"{NOT_TAKEN} (see the log)"),
            {
                "error": f"scenarios a, b and c were not stored: {NOT_TAKEN} (see"
                " the log)",
                "nothing_stored": True,
            },
            id="several-never-taken",
        ),
        pytest.param(
            "import",
            ["a", "b"],
            pykka.Timeout("5 seconds"),
            {
                "error": f"scenarios a and b may not have been stored: {LATE} (see"
                " `raspy scenario list` and the log)"
            },
            id="several-an-ask-late",
        ),
        pytest.param(
            "import",
            ["a", "b", "c", "d"],
            StoreError(""),
            {
                "error": "the 4 scenarios of this import were not stored: StoreError",
                "nothing_stored": True,
            },
            id="many-refused",
        ),
        pytest.param(
            "import",
            ["a", "b"],
            UNKNOWN,
            {
                "error": "it is not known whether scenarios a and b were stored: the"
                f" store has not ended its write in 600 s{NEXT_START}"
            },
            id="several-unknown",
        ),
    ],
)
def test_a_write_not_done_names_the_scenarios_and_what_was_not_done(
    action: str,
    names: list[str],
    exc: Failure,
    body: dict[str, JsonValue],
) -> None:
    refused = not_done(action, names, exc)

    assert (refused.status, refused.body) == (b"500", body)
