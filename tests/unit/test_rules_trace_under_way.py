"""`raspy scenario show`'s `run under way:` past the trace's limit of lines.

docs/scenarios.md, "How far has it come?": while a run is under way (a presence
simulation all evening), its lines so far are shown and "its last line says what it
waits for now"; at most 50 lines are kept, then `... N more lines`.
"""

from __future__ import annotations

from support.scenario_engine import harness, scenario

from raspy.rules import model as m
from raspy.rules import run

DOOR = "/event/door"
EVENING = m.RepeatAction(
    (m.SetAction("/house/lamp", "{repeat.index}"), m.WaitAction(600.0)), count=40
)


def test_a_long_run_under_way_still_says_what_it_waits_for_now() -> None:
    h = harness(scenario([EVENING], [m.EventTrigger(DOOR)]))
    h.change(DOOR, "front")
    for _ in range(30):  # two lines a pass: 62 lines in pass 31, past the limit
        h.advance(600.0)
    shown = h.core.status.run_trace
    assert shown[0] == "+0.0s set /house/lamp = 1"
    assert shown[-2:] == ("... 11 more lines", "+18000.0s wait 600s")
    assert len(shown) == run.TRACE_LINES + 2


def test_one_line_past_the_limit_is_shown_instead_of_counted() -> None:
    sets = [m.SetAction("/house/n", n) for n in range(run.TRACE_LINES)]
    h = harness(scenario([*sets, m.WaitAction(600.0)], [m.EventTrigger(DOOR)]))
    h.change(DOOR, "front")  # 50 lines, then the wait's: one past, no "0 more"
    shown = h.core.status.run_trace
    assert shown[-2:] == ("+0.0s set /house/n = 49", "+0.0s wait 600s")
    assert len(shown) == run.TRACE_LINES + 1


def test_the_last_run_did_still_counts_the_lines_past_the_limit() -> None:
    """`last run did:` is the whole run's: its first lines, how many more, and how
    it ended (the last line under way is not kept for it)."""
    h = harness(scenario([EVENING], [m.EventTrigger(DOOR)]))
    h.change(DOOR, "front")
    for _ in range(40):
        h.advance(600.0)
    assert h.core.status.run_trace == ()
    assert h.core.status.last_trace[-2:] == ("... 30 more lines", "+24000.0s done")
