"""A scenario's next fires as `raspy scenario show` and the web card list them: the
soonest first (they came in the order of the triggers: an `at: "23:30"` listed
before an `every: 1h` due in 5 minutes), a sun trigger by its event and offset."""

from __future__ import annotations

import json

import pytest

from raspy.cli import scenario_text as text
from raspy.devices.template import JsonValue
from raspy.web import models, scenario_pages

pytestmark = pytest.mark.timeout(10)

T = 1_796_304_600.0  # 2026-12-03 13:30:00 UTC


def _entry(fires: list[JsonValue]) -> dict[str, JsonValue]:
    return {"name": "evening", "state": "idle", "timezone": "UTC", "next_fires": fires}


LATE_FIRST: list[JsonValue] = [
    {"trigger": 0, "id": "off", "kind": "at", "at": T + 7200},
    {"trigger": 1, "id": None, "kind": "every", "at": T + 300},
    {"trigger": 2, "id": "odd", "kind": "cron", "at": "soon"},  # no number: last
]


def test_show_lists_the_next_fires_soonest_first() -> None:
    assert (
        "next fire:    2026-12-03 13:35:00 +00:00  every\n"
        "              2026-12-03 15:30:00 +00:00  at (id off)\n"
        "              soon  cron (id odd)\n"
    ) in text.show_text(_entry(LATE_FIRST))


def test_the_card_lists_the_next_fires_soonest_first() -> None:
    [row] = models.scenarios([b"200", json.dumps([_entry(LATE_FIRST)]).encode()])
    assert row.next_fires == (("every", T + 300), ("at (off)", T + 7200))
    page = scenario_pages.scenarios_body([row], "c", T)
    assert page.index("13:35:00") < page.index("15:30:00")
