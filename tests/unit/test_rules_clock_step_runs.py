"""A step of the wall clock and the runs in a long wait (ScenarioCore.on_clock_step,
rules.run_retime): the record says when the wait really ends, and a run taken up at
a start by a clock set right later is judged by the right one."""

from __future__ import annotations

import json
import math

from support.scenario_engine import Harness, harness, scenario, sets

from raspy.devices.template import JsonValue
from raspy.rules import engine, resume_record, resume_start
from raspy.rules import model as m
from raspy.rules.expr import compile_expression
from raspy.rules.resume_path import Place
from raspy.rules.run_retime import STALE_RUN_ERROR

ON = m.SetAction("/light", "on")
OFF = m.SetAction("/light", "off")
MOTION = m.KvTrigger("/m", to=True)
REAL = 1_796_594_400.0  # the real time once NTP set the clock
WEEK = 7 * 86400.0
TRIGGER: dict[str, JsonValue] = {
    "kind": "kv",
    "id": "",
    "key": "/m",
    "value": True,
    "from": None,
}


class _Clock:
    """A clock for resume_start: the wall and monotonic times it is given."""

    def __init__(self, wall: float, mono: float = 1.0) -> None:
        self._wall, self._mono = wall, mono

    def wall(self) -> float:
        return self._wall

    def monotonic(self) -> float:
        return self._mono


def _last_record(h: Harness) -> tuple[engine.Checkpoint, ...]:
    return [o for o in h.outputs if isinstance(o, engine.Resumable)][-1].runs


def _stepped(h: Harness, to_wall: float, after_s: float) -> None:
    before = h.wall + after_s  # where the wall clock would be without the step
    h.mono += after_s
    h.wall = to_wall
    h.feed(h.core.on_clock_step(to_wall - before, h.mono, h.wall))


def test_a_wait_begun_before_a_step_forward_is_recorded_by_the_new_clock() -> None:
    s = scenario([ON, m.WaitAction(1200.0), OFF], [MOTION])
    h = harness(s)
    h.mono, h.wall = 30.0, REAL - WEEK + 30.0  # booted at a week-old saved time
    h.change("/m", True)
    _stepped(h, REAL + 40.0, 10.0)  # NTP: a week forward, 40 s after boot
    (checkpoint,) = _last_record(h)
    assert checkpoint.end_wall == REAL + 40.0 + 1190.0  # 1190 s left, real time
    # raspyd restarts 5 minutes later: the run is taken up, not dropped as stale
    body, _ = resume_record.encode(
        resume_record.fingerprint(""), (checkpoint,), 100_000
    )
    runs, stale = resume_start.resumable(
        "test", "", True, s, json.loads(body), _Clock(REAL + 340.0)
    )
    assert not stale
    assert [run.left_s(REAL + 340.0) for run in runs] == [890.0]


def test_a_wait_until_begun_before_a_step_keeps_its_end_through_wakes() -> None:
    until = m.WaitUntilAction(compile_expression("kv('/door') == 'shut'"), 1200.0)
    h = harness(scenario([ON, until, OFF], [MOTION]))
    h.mono, h.wall = 30.0, REAL - WEEK + 30.0
    h.change("/m", True)
    h.advance(70.0)  # waited a minute: recorded
    _stepped(h, REAL + 100.0, 0.0)
    h.change("/door", "ajar")  # a wake: a new AwaitChange, made as the wait began
    (checkpoint,) = _last_record(h)
    assert checkpoint.end_wall == REAL + 100.0 + 1130.0
    h.advance(1130.0)  # its timeout still runs on the monotonic clock
    assert h.core.running == 0


def _resumed(seconds_left_by_record: float, boot_wall: float) -> Harness:
    """A run taken up at a start from a record of a 1200 s wait that ends at
    REAL + `seconds_left_by_record`, the start's clock at `boot_wall`."""
    checkpoint = engine.Checkpoint(
        (Place(1),), REAL + seconds_left_by_record, 1200.0, TRIGGER
    )
    h = harness(scenario([ON, m.WaitAction(1200.0), OFF], [MOTION]))
    h.mono, h.wall = 5.0, boot_wall
    h.feed(h.core.on_startup(h.mono, h.wall, resume=[checkpoint]))
    assert h.core.running == 1  # the saved clock says its whole wait is left
    return h


def test_a_run_taken_up_by_a_clock_behind_ends_when_a_step_forward_shows_it_over() -> (
    None
):
    h = _resumed(900.0, REAL - 43 * 60.0)  # booted at the saved 43 min before
    _stepped(h, REAL + 3 * 3600.0 + 30.0, 30.0)  # NTP: the real time, hours later
    assert h.core.running == 0  # late rather than never, but not 20 min later
    assert [s.value for s in sets(h.outputs)] == ["off"]
    assert _last_record(h) == ()


def test_a_run_taken_up_ends_when_its_record_said_after_a_step_forward() -> None:
    h = _resumed(900.0, REAL - 3600.0)
    _stepped(h, REAL + 300.0, 20.0)  # 600 s of its wait left by the real time
    (checkpoint,) = _last_record(h)
    assert checkpoint.end_wall == REAL + 900.0
    h.advance(599.0)
    assert h.core.running == 1
    h.advance(1.0)
    assert h.core.running == 0


def test_a_run_taken_up_is_not_stretched_nor_cut_by_a_step_back() -> None:
    h = _resumed(900.0, REAL)  # the right clock: 900 s left
    _stepped(h, REAL - 3600.0, 100.0)
    h.advance(799.0)
    assert h.core.running == 1
    h.advance(1.0)
    assert h.core.running == 0


def test_a_run_taken_up_is_stale_once_a_step_shows_its_wait_ended_days_ago() -> None:
    h = _resumed(900.0, REAL - 3 * 86400.0)  # a hub off for days, booted at the save
    _stepped(h, REAL + 2 * 86400.0, 30.0)
    assert h.core.running == 0
    assert sets(h.outputs) == []  # its rest is not done days late
    assert h.core.status.last_error == STALE_RUN_ERROR
    assert _last_record(h) == ()


def test_a_wait_until_without_a_timeout_taken_up_waits_on_after_a_step() -> None:
    until = m.WaitUntilAction(compile_expression("kv('/door') == 'shut'"), None)
    checkpoint = engine.Checkpoint((Place(1),), math.inf, math.inf, TRIGGER, until=True)
    h = harness(scenario([ON, until, OFF], [MOTION]))
    h.mono, h.wall = 5.0, REAL - 3 * 86400.0
    h.feed(h.core.on_startup(h.mono, h.wall, resume=[checkpoint]))
    _stepped(h, REAL, 30.0)
    assert h.core.running == 1
    (recorded,) = _last_record(h)
    assert recorded.end_wall == math.inf
    h.change("/door", "shut")
    assert h.core.running == 0


def test_a_run_taken_up_by_a_clock_behind_keeps_its_record_end_for_the_next_start() -> (
    None
):
    """A start by a clock still behind (NTP not there yet: the router boots too)
    records the run again; a second start before NTP takes it up from that record,
    and NTP then judges it by the end the first record said, not by the clock
    behind: the light goes off on time, not at the step (nor never, as stale)."""
    h = _resumed(900.0, REAL - 3 * 3600.0)  # booted at a save three hours old
    (first,) = _last_record(h)
    assert first.end_wall == REAL + 900.0  # not REAL - 3 h + 1200 s
    h.advance(60.0)  # a second stop, a minute later, the clock behind still
    again = harness(scenario([ON, m.WaitAction(1200.0), OFF], [MOTION]))
    again.mono, again.wall = 5.0, h.wall + 30.0
    again.feed(again.core.on_startup(again.mono, again.wall, resume=[first]))
    assert _last_record(again) == (first,)
    _stepped(again, REAL + 120.0, 30.0)  # NTP: 780 s of the wait left
    assert again.core.running == 1
    (recorded,) = _last_record(again)
    assert recorded.end_wall == REAL + 900.0
    again.advance(779.0)
    assert again.core.running == 1
    again.advance(1.0)
    assert again.core.running == 0


def test_a_run_taken_up_by_a_clock_behind_since_1970_is_not_stale_at_ntp() -> None:
    """A Pi that boots at 1970 twice before NTP: the run is still taken up."""
    h = _resumed(900.0, 30.0)  # the epoch, and some
    (first,) = _last_record(h)
    assert first.end_wall == REAL + 900.0
    again = harness(scenario([ON, m.WaitAction(1200.0), OFF], [MOTION]))
    again.mono, again.wall = 5.0, 60.0
    again.feed(again.core.on_startup(again.mono, again.wall, resume=[first]))
    _stepped(again, REAL + 300.0, 30.0)
    assert again.core.running == 1  # not dropped as a wait over decades ago
    assert again.core.status.last_error is None


def test_a_run_taken_up_is_recorded_by_the_clock_once_a_step_back_set_it() -> None:
    """A step back is a clock set right too (one that ran ahead): from then on the
    record says the end by that clock."""
    h = _resumed(900.0, REAL)
    _stepped(h, REAL - 3600.0 + 100.0, 100.0)
    (recorded,) = _last_record(h)
    assert recorded.end_wall == REAL - 3600.0 + 900.0


class _CountedWrites(dict[int, engine.Checkpoint]):
    """A run book's checkpoints, counting each one written."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def __setitem__(self, run_id: int, checkpoint: engine.Checkpoint) -> None:
        self.writes += 1
        super().__setitem__(run_id, checkpoint)


def test_a_run_taken_up_is_recorded_once_with_its_record_end() -> None:
    """The record of a run taken up by a clock behind is made once, as it pauses,
    with the end its record said (it was made by the clock, then made again)."""
    checkpoint = engine.Checkpoint((Place(1),), REAL + 900.0, 1200.0, TRIGGER)
    h = harness(scenario([ON, m.WaitAction(1200.0), OFF], [MOTION]))
    written = _CountedWrites()
    h.core._book.checkpoints = written
    h.mono, h.wall = 5.0, REAL - 3 * 3600.0
    h.feed(h.core.on_startup(h.mono, h.wall, resume=[checkpoint]))
    assert (written.writes, _last_record(h)) == (1, (checkpoint,))


def test_a_run_taken_up_that_moves_on_at_once_is_judged_by_its_new_wait() -> None:
    """A run whose recorded wait ended while the hub was down goes on to its next
    long wait in its first advance: that wait is recorded by the clock, and a step
    forward of two days later neither cuts it nor drops the run as stale (the
    record it was taken up from says nothing of the new wait)."""
    checkpoint = engine.Checkpoint((Place(1),), REAL - 60.0, 1200.0, TRIGGER)
    s = scenario([ON, m.WaitAction(1200.0), OFF, m.WaitAction(1800.0), ON], [MOTION])
    h = harness(s)
    h.mono, h.wall = 5.0, REAL
    h.feed(h.core.on_startup(h.mono, h.wall, resume=[checkpoint]))
    assert [s.value for s in sets(h.outputs)] == ["off"]
    (recorded,) = _last_record(h)
    assert (recorded.path, recorded.end_wall) == ((Place(3),), REAL + 1800.0)
    _stepped(h, REAL + 2 * 86400.0, 60.0)
    assert h.core.running == 1
    (recorded,) = _last_record(h)
    assert recorded.end_wall == REAL + 2 * 86400.0 + 1740.0
    h.advance(1739.0)
    assert h.core.running == 1
    h.advance(1.0)
    assert [s.value for s in sets(h.outputs)] == ["off", "on"]
    assert h.core.running == 0


def test_a_run_taken_up_whose_wait_ended_while_down_ends_at_the_start() -> None:
    checkpoint = engine.Checkpoint((Place(1),), REAL - 60.0, 1200.0, TRIGGER)
    h = harness(scenario([ON, m.WaitAction(1200.0), OFF], [MOTION]))
    h.mono, h.wall = 5.0, REAL
    h.feed(h.core.on_startup(h.mono, h.wall, resume=[checkpoint]))
    assert [s.value for s in sets(h.outputs)] == ["off"]
    assert [o for o in h.outputs if isinstance(o, engine.RunEnded)] == [
        engine.RunEnded(1, None)
    ]
    assert (h.core.running, _last_record(h)) == (0, ())
