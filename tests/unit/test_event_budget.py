"""raspy.ratelimit.EventBudget and raspy.log's use of it: a total log budget per event
name, then one summary line (issue 18)."""

from __future__ import annotations

import json
import logging

import pytest
import structlog
from support.wait import wait_until

from raspy import log as log_mod
from raspy.ratelimit import EventBudget


def test_events_over_the_budget_are_left_out_and_counted() -> None:
    budget = EventBudget(per_window=3, window_s=1.0)
    assert [budget.admit("frame_rejected", 10.0) for _ in range(5)] == [
        True,
        True,
        True,
        False,
        False,
    ]
    assert budget.due(10.9) == []
    assert budget.due(11.0) == [("frame_rejected", 2)]
    assert budget.due(12.0) == []  # reported once


def test_a_new_window_admits_again_and_reports_the_old_one() -> None:
    budget = EventBudget(per_window=1, window_s=1.0)
    assert budget.admit("request_dropped", 0.0)
    assert not budget.admit("request_dropped", 0.5)
    assert budget.admit("request_dropped", 1.5)
    assert budget.due(1.5) == [("request_dropped", 1)]


def test_each_event_name_has_its_own_budget() -> None:
    budget = EventBudget(per_window=1, window_s=1.0)
    assert budget.admit("a", 0.0)
    assert budget.admit("b", 0.0)
    assert not budget.admit("a", 0.0)
    assert budget.due(1.0) == [("a", 1)]


def test_a_name_pushed_out_of_the_table_still_reports_its_count() -> None:
    budget = EventBudget(per_window=1, window_s=1.0, max_names=1)
    budget.admit("a", 0.0)
    budget.admit("a", 0.0)
    budget.admit("b", 0.1)
    assert budget.due(0.2) == [("a", 1)]


def _lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines()]


@pytest.mark.timeout(10)
def test_raspy_logging_writes_the_budget_then_one_summary_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A flood of one event writes `events_per_s` lines, then one `log_suppressed`
    line naming the event and how many were left out; other events still get out."""
    log_mod.configure("info", "json", cache=False, events_per_s=2)
    log = structlog.get_logger(component="test")
    for index in range(1000):
        log.warning("flooded_event", index=index)
    log.info("other_event")
    lines = _lines(capsys.readouterr().err)
    assert [(line["event"], line.get("index")) for line in lines] == [
        ("flooded_event", 0),
        ("flooded_event", 1),
        ("other_event", None),
    ]

    def summary() -> list[dict[str, object]]:
        log_mod.flush_suppressed()
        return _lines(capsys.readouterr().err)

    (line,) = wait_until(summary, what="the summary line", timeout_s=5.0)
    assert (line["event"], line["suppressed_event"], line["count"]) == (
        "log_suppressed",
        "flooded_event",
        998,
    )


def test_no_budget_when_events_per_s_is_zero(
    capsys: pytest.CaptureFixture[str],
) -> None:
    log_mod.configure("info", "json", cache=False, events_per_s=0)
    log = structlog.get_logger(component="test")
    for index in range(50):
        log.warning("flooded_event", index=index)
    indexes = [line["index"] for line in _lines(capsys.readouterr().err)]
    assert indexes == list(range(50))


def test_a_library_that_fills_in_its_own_message_is_held_to_the_budget(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """pykka and asyncio log text they formatted themselves: keyed by that text,
    every record was an event of its own, never held. Keyed by where it is logged,
    a flood from one line writes the budget, then one summary."""
    log_mod.configure("info", "json", cache=False, events_per_s=2)
    library = logging.getLogger("some.library")
    for index in range(100):
        library.warning(f"Unexpected message received by actor {index}")
    written = [
        line
        for line in _lines(capsys.readouterr().err)
        if "Unexpected" in str(line["event"])
    ]
    assert len(written) == 2

    def summary() -> list[dict[str, object]]:
        log_mod.flush_suppressed()
        return _lines(capsys.readouterr().err)

    (line,) = wait_until(summary, what="the summary line", timeout_s=5.0)
    assert str(line["suppressed_event"]).startswith("some.library at ")
    assert line["count"] == 98
