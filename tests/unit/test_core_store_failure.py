"""A `core.scenario` write not done, as its 500 says it (actors.core.store_failure):
the scenarios it names, what was not done, and in which of three tones: it was
not, it may not have been (a part that did not answer), it is not known whether
(a store that has not ended its write)."""

from __future__ import annotations

import pykka
import pytest

from raspy.actors.core.store_failure import Failure, not_done
from raspy.devices.template import JsonValue
from raspy.errors import StoreError, StoreOutcomeUnknown

UNKNOWN = StoreOutcomeUnknown("the store has not ended its write in 600 s")
NEXT_START = " (raspyd's next start reads what the store holds)"
LATE = "a part of the hub did not answer in time"


@pytest.mark.parametrize(
    ("action", "names", "exc", "cancelled", "body"),
    [
        pytest.param(
            "disable",
            ["heat"],
            StoreError("the disk is full"),
            False,
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
            False,
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
            False,
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
            False,
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
            False,
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
            True,
            {
                "error": "scenario heat was not stored: the disk is full",
                "nothing_stored": True,
            },
            id="a-restate-refused",
        ),
        pytest.param(
            "import",
            ["a", "b", "c"],
            pykka.Timeout("5 seconds"),
            True,
            {
                "error": f"scenarios a, b and c were not stored: {LATE} (see the log)",
                "nothing_stored": True,
            },
            id="several-never-taken",
        ),
        pytest.param(
            "import",
            ["a", "b", "c", "d"],
            StoreError(""),
            True,
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
            True,
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
    cancelled: bool,
    body: dict[str, JsonValue],
) -> None:
    refused = not_done(action, names, exc, cancelled=cancelled)

    assert (refused.status, refused.body) == (b"500", body)
