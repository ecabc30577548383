"""`/scenario/<name>/last_error_at` (docs/scenarios.md, "State in the tree"): the
epoch seconds of the failure `last_error` tells, written beside it; shown by
`raspy scenario show` before the reason, as `last skipped` shows its time, and on
the web face's scenario card."""

from __future__ import annotations

import json
from dataclasses import replace

from support.scenario_engine import START_WALL, harness, scenario

from raspy.cli import scenario_text as text
from raspy.devices.template import JsonValue
from raspy.rules import engine
from raspy.rules import model as m
from raspy.rules.expr import compile_expression
from raspy.rules.status_entries import status_entries
from raspy.rules.tree_view import status_from_tree
from raspy.web import models, scenario_pages
from raspy.web.models import ScenarioRow

GO = "/event/test/go"
T_2026_12_03_13_30_UTC = 1_796_304_600.0


def test_a_failed_run_says_when_it_failed() -> None:
    bad = scenario(
        [m.WaitAction(30.0), m.SetAction("/x", None, expr=compile_expression("1 / 0"))],
        [m.EventTrigger(GO)],
    )
    h = harness(bad)
    h.change(GO, 1)
    assert h.core.status.last_error_at is None
    h.advance(30.0)
    status = h.core.status
    assert status.state is engine.State.ERROR
    assert status.last_error is not None
    assert status.last_error_at == START_WALL + 30.0


def test_a_condition_that_faults_and_a_runaway_say_when_too() -> None:
    h = harness(
        scenario(
            [m.LogAction("x")],
            [m.EventTrigger(GO)],
            conditions=(compile_expression("trigger.value > 1"),),
        )
    )
    h.advance(5.0)
    h.change(GO, "text")
    assert h.core.status.last_error_at == START_WALL + 5.0
    h = harness(
        scenario([m.LogAction("x")], [m.EventTrigger(GO)]), max_runs_per_minute=2
    )
    for n in range(3):
        h.advance(1.0)
        h.change(GO, n)
    assert h.core.status.state is engine.State.DISABLED
    assert h.core.status.last_error_at == START_WALL + 3.0


def test_the_same_condition_fault_at_every_trigger_is_no_new_status() -> None:
    """A condition reading a sensor that is away faults at every trigger, all day:
    the time is when the fault began, so the status (durable keys) stays as it was
    and nothing is written again; another fault is a new time."""
    h = harness(
        scenario(
            [m.LogAction("x")],
            [m.EventTrigger(GO)],
            conditions=(compile_expression("kv('/hum') > 60"),),
        ),
        tree={"/hum": "away"},
    )
    statuses: list[engine.Status] = []
    for n in range(5):
        h.advance(30.0)
        outs = h.change(GO, n)
        statuses += [o.status for o in outs if isinstance(o, engine.StatusChanged)]
    assert len(statuses) == 1
    assert h.core.status.last_error_at == START_WALL + 30.0
    h.advance(30.0)
    h.change(GO, "text")  # the same condition, another fault: when it began
    h.tree["/hum"] = None
    h.advance(30.0)
    h.change(GO, 9)
    assert h.core.status.last_error is not None
    assert h.core.status.last_error_at == START_WALL + 210.0


def test_a_condition_fault_that_holds_a_changing_reading_is_no_new_status() -> None:
    """The fault's text holds the reading (`cannot compare 61.5 > 'high'`), new at
    each trigger: still the same fault, so nothing is written again; the status
    says it as it began."""
    h = harness(
        scenario(
            [m.LogAction("x")],
            [m.EventTrigger(GO)],
            conditions=(compile_expression("kv('/hum') > 'high'"),),
        ),
        tree={"/hum": 61.5},
    )
    statuses: list[engine.Status] = []
    for n in range(5):
        h.tree["/hum"] = 61.5 + n
        h.advance(30.0)
        outs = h.change(GO, n)
        statuses += [o.status for o in outs if isinstance(o, engine.StatusChanged)]
    assert len(statuses) == 1
    assert h.core.status == statuses[0]
    assert h.core.status.last_error_at == START_WALL + 30.0


def test_a_time_trigger_that_faults_again_still_says_its_status() -> None:
    """The same fault at a time trigger's firing changes no status, but the owner
    writes the trigger's next fire with the status it is told: told nothing, the
    tree's `next_fire` kept the fire gone by (docs/scenarios.md, "State in the
    tree": a firing that starts no run writes it alone)."""
    h = harness(
        scenario(
            [m.LogAction("x")],
            [m.EveryTrigger(60.0)],
            conditions=(compile_expression("kv('/hum') > 60"),),
        ),
    )
    for _ in range(3):
        h.advance(60.0)
        outs = h.feed(h.core.on_time(0, h.wall, h.mono, h.wall))
        assert [o for o in outs if isinstance(o, engine.StatusChanged)] == [
            engine.StatusChanged(h.core.status)
        ]
    assert h.core.status.last_error_at == START_WALL + 60.0


def test_it_is_a_state_key_and_comes_back_from_the_tree() -> None:
    status = engine.Status(
        engine.State.ERROR, 1, 5.0, None, "boom", last_error_at=1_800_000_000.5
    )
    entries = {k: json.loads(v) for k, v in status_entries("s", status).items()}
    assert entries["/scenario/s/last_error_at"] == 1_800_000_000.5
    assert entries["/scenario/s/last_error"] == "boom"

    class Tree:
        def kv(self, key: str) -> JsonValue:
            return entries.get(key)

    back = status_from_tree(Tree(), "s")  # type: ignore[arg-type]  # kv() alone
    assert (back.last_error, back.last_error_at) == ("boom", 1_800_000_000.5)


def test_show_prints_the_time_before_the_reason() -> None:
    entry: dict[str, JsonValue] = {
        "name": "s",
        "last_error": "device h.fake.lamp: on answered 404 unknown_device",
        "last_error_at": T_2026_12_03_13_30_UTC,
        "timezone": "UTC",
    }
    shown = text.show_text(entry)
    assert (
        "last error:   2026-12-03 13:30:00 +00:00: device h.fake.lamp: on answered"
        " 404 unknown_device\n"
    ) in shown
    assert "last error:   -\n" in text.show_text({**entry, "last_error": None})


def test_the_card_shows_when_it_failed() -> None:
    item: dict[str, JsonValue] = {
        "name": "s",
        "state": "error",
        "last_error": "boom",
        "last_error_at": 1_800_000_000.0 - 60,
    }
    body = json.dumps([item]).encode()
    [row] = models.scenarios([b"200", body])
    assert row.last_error_at == 1_800_000_000.0 - 60
    page = scenario_pages.scenarios_body([row], "c", 1_800_000_000.0)
    assert (
        '<dt>Failed at</dt><dd><time data-key="/scenario/s/last_error_at">'
        "07:59:00</time></dd>"
    ) in page
    fine = replace(row, last_error="", last_error_at=None)
    assert '/last_error_at">never</time>' in scenario_pages.scenarios_body(
        [fine], "c", 1_800_000_000.0
    )


def test_a_row_without_the_field_still_parses() -> None:
    [row] = models.scenarios([b"200", json.dumps([{"name": "s"}]).encode()])
    assert row == ScenarioRow("s", "", False, "unknown", None, 0, "")


def test_the_cards_last_error_is_red_only_when_there_is_one() -> None:
    """Its dash for none was in the error colour (class error-text) too."""
    failed = ScenarioRow("s", "", True, "error", None, 1, "boom")
    fine = replace(failed, state="idle", last_error="")
    pages_of = [
        scenario_pages.scenarios_body([row], "c", 0.0) for row in (failed, fine)
    ]
    assert (
        '<dd class="last-error error-text" data-key="/scenario/s/last_error">boom</dd>'
    ) in pages_of[0]
    for page in pages_of[1:]:
        assert (
            '<dd class="last-error" data-key="/scenario/s/last_error">\u2013</dd>'
        ) in page
        assert "error-text" not in page


def test_show_and_the_card_say_when_each_time_trigger_fires_next() -> None:
    """A cron, at or sun trigger's next fire was nowhere: "when will it run?"."""
    entry: dict[str, JsonValue] = {
        "name": "evening",
        "state": "idle",
        "timezone": "UTC",
        "next_fires": [
            {"trigger": 0, "id": "off", "kind": "at", "at": T_2026_12_03_13_30_UTC},
            {
                "trigger": 2,
                "id": None,
                "kind": "sun",
                "at": T_2026_12_03_13_30_UTC + 60,
            },
        ],
    }
    assert (
        "next fire:    2026-12-03 13:30:00 +00:00  at (id off)\n"
        "              2026-12-03 13:31:00 +00:00  sun\n"
    ) in text.show_text(entry)
    assert "next fire" not in text.show_text({**entry, "next_fires": []})
    [row] = models.scenarios([b"200", json.dumps([entry]).encode()])
    page = scenario_pages.scenarios_body([row], "c", T_2026_12_03_13_30_UTC)
    assert (  # the card: the soonest, live (tests/unit/test_scenario_next_fires.py)
        '<dt>Next fire</dt><dd><time data-key="/scenario/evening/next_fire" '
        'data-at="1796304600.0">13:30:00</time> <span class="fire-what">at (off)'
        "</span></dd>"
    ) in page
    assert page.count("Next fire") == 1
