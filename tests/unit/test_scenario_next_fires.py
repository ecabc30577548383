"""A scenario's next fires as `raspy scenario show` and the web card list them: the
soonest first (they came in the order of the triggers: an `at: "23:30"` listed
before an `every: 1h` due in 5 minutes), a sun trigger by its event and offset."""

from __future__ import annotations

import json
from datetime import UTC

import pytest

from raspy.cli import scenario_text as text
from raspy.devices.template import JsonValue
from raspy.rules import model
from raspy.rules.runaway import SCHEDULED_KINDS
from raspy.rules.trigger_match import trigger_label
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


def test_show_tells_the_two_passes_of_the_repeated_hour_apart() -> None:
    """The autumn night in New York: 01:30 EDT, then 01:30 EST an hour later; each
    line says its offset (docs/scenarios.md: times with their UTC offset)."""
    first = 1_793_511_000.0  # 2026-11-01 05:30 UTC, 01:30 EDT
    entry = {
        **_entry(
            [
                {"trigger": 0, "id": None, "kind": "cron", "at": first + 3600},
                {"trigger": 1, "id": None, "kind": "at", "at": first},
            ]
        ),
        "timezone": "America/New_York",
    }
    assert (
        "next fire:    2026-11-01 01:30:00 -04:00  at\n"
        "              2026-11-01 01:30:00 -05:00  cron\n"
    ) in text.show_text(entry)


def test_the_card_lists_the_next_fires_soonest_first() -> None:
    [row] = models.scenarios([b"200", json.dumps([_entry(LATE_FIRST)]).encode()])
    assert row.next_fires == (("every", T + 300), ("at (off)", T + 7200))
    detail = models.ScenarioDetail(row, "single", [], "name: evening\n")
    page = scenario_pages.scenario_body(detail, "c", T)
    assert (
        "<dt>Fires next</dt><dd><time>13:35:00</time> every</dd>"
        "<dt>Fires next</dt><dd><time>15:30:00</time> at (off)</dd>"
    ) in page


def test_the_card_shows_the_soonest_fire_live_from_the_tree() -> None:
    """The core writes `/scenario/<name>/next_fire` at each firing: the card's
    time follows it (app.js) instead of staying at the page's load."""
    [row] = models.scenarios([b"200", json.dumps([_entry(LATE_FIRST)]).encode()])
    page = scenario_pages.scenarios_body([row], "c", T)
    assert (
        '<dt>Next fire</dt><dd><time data-key="/scenario/evening/next_fire" '
        f'data-at="{T + 300!r}">13:35:00</time> <span class="fire-what">every</span>'
        "</dd>"
    ) in page
    assert "15:30:00" not in page  # the scenario's own page lists each


SUN: list[JsonValue] = [
    {"trigger": 0, "id": None, "kind": "sun", "label": "sunset -15m", "at": T},
    {"trigger": 1, "id": "early", "kind": "sun", "at": T + 60},  # an older hub's
]


def test_show_and_the_card_name_a_sun_trigger_by_its_event_and_offset() -> None:
    assert (
        "next fire:    2026-12-03 13:30:00 +00:00  sunset -15m\n"
        "              2026-12-03 13:31:00 +00:00  sun (id early)\n"
    ) in text.show_text(_entry(SUN))
    [row] = models.scenarios([b"200", json.dumps([_entry(SUN)]).encode()])
    assert row.next_fires == (("sunset -15m", T), ("sun (early)", T + 60))


@pytest.mark.parametrize(
    ("offset_s", "label"),
    [(0.0, "dusk"), (-900.0, "dusk -15m"), (5400.0, "dusk +1h30m"), (0.2, "dusk")],
)
def test_a_sun_trigger_s_label_is_its_event_and_offset(
    offset_s: float, label: str
) -> None:
    trigger = model.SunTrigger(model.SunEvent.DUSK, offset_s)
    assert trigger_label(trigger) == label
    assert trigger_label(model.CronTrigger("* * * * *")) == "cron"


def test_show_says_a_time_trigger_s_value_as_a_time() -> None:
    """`last trigger: sun (dusk) = 1796576288.999168`: the time it was due, as an
    epoch; a key's value stays as it is."""
    sun: JsonValue = {
        "kind": "sun",
        "id": "dusk",
        "key": None,
        "value": T + 0.999,
        "tried": True,
    }
    assert text.describe_trigger(sun, UTC) == (
        "sun (dusk) = 2026-12-03 13:30:00 +00:00 (tried by hand)"
    )
    kv: JsonValue = {"kind": "kv", "id": "", "key": "/k", "value": T}
    assert text.describe_trigger(kv, UTC) == f"kv /k = {T}"


def test_the_time_kinds_are_the_engine_s_scheduled_ones() -> None:
    assert text.TIME_KINDS == SCHEDULED_KINDS
