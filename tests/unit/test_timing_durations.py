"""`for:`, `wait:` and `wait_until` timeouts run on the monotonic clock: a step of the
wall clock (NTP on a Pi without an RTC) neither ends them early nor stretches them.

What a household expects: "the door open for 10 minutes" fires 10 real minutes after
the door opened, whatever the wall clock did meanwhile.
"""

from __future__ import annotations

import pytest
from support.scenario_engine import harness, scenario, sets

from raspy.rules import model as m
from raspy.rules import run
from raspy.rules.expr import compile_expression

DOOR = "/device/hub.gpio.door/value"
MARK = m.SetAction("/scenario/test/mark", "{trigger.value}")
AFTER = m.SetAction("/scenario/test/after", True)
DAYS_S = 3 * 86_400.0
STEPS = [pytest.param(DAYS_S, id="forward"), pytest.param(-DAYS_S, id="back")]


def _door_open_for(seconds: float) -> m.KvTrigger:
    return m.KvTrigger(
        pattern="/device/*.gpio.door/value",
        to=True,
        has_to=True,
        for_s=seconds,
    )


@pytest.mark.parametrize("step_s", STEPS)
def test_a_door_open_for_ten_minutes_fires_after_ten_real_minutes_across_a_step(
    step_s: float,
) -> None:
    h = harness(scenario([MARK], [_door_open_for(600)]))
    h.change(DOOR, True)
    h.wall += step_s  # the wall clock steps; the monotonic clock does not
    assert sets(h.advance(599)) == []
    assert sets(h.advance(1)) == [run.SetKey("/scenario/test/mark", True)]


@pytest.mark.parametrize("step_s", STEPS)
def test_a_wait_in_a_run_lasts_its_real_time_across_a_step(step_s: float) -> None:
    h = harness(scenario([MARK, m.WaitAction(600.0), AFTER]))
    h.run_now()
    h.wall += step_s
    assert sets(h.advance(599)) == []
    assert sets(h.advance(1)) == [run.SetKey("/scenario/test/after", True)]


@pytest.mark.parametrize("step_s", STEPS)
def test_a_wait_until_times_out_after_its_real_time_across_a_step(
    step_s: float,
) -> None:
    closed = compile_expression(f"kv('{DOOR}') == false")
    waiting = m.WaitUntilAction(closed, 600.0, continue_on_timeout=True)
    h = harness(scenario([waiting, AFTER]))
    h.run_now()
    h.wall += step_s
    assert sets(h.advance(599)) == []
    assert sets(h.advance(1)) == [run.SetKey("/scenario/test/after", True)]
