"""A scenario's runs read their own writes of the turn under way (OwnWrites), before
the owner sends them at the turn's end; then the owner's view, which has them."""

from __future__ import annotations

from support.scenario_engine import harness, scenario, sets

from raspy.rules import model as m
from raspy.rules import run
from raspy.rules.expr import compile_expression
from raspy.rules.model import Mode
from raspy.rules.own_writes import OwnWrites

DOOR = "/event/door"


def _copy(key: str, into: str) -> m.SetAction:
    return m.SetAction(into, None, expr=compile_expression(f"kv('{key}')"))


def test_a_run_reads_what_it_set_deleted_or_published_in_the_same_turn() -> None:
    h = harness(
        scenario(
            [
                m.SetAction("/mode", "away"),
                m.ChooseAction(
                    (
                        m.Branch(
                            compile_expression("kv('/mode') == 'away'"),
                            (m.SetAction("/seen", "away"),),
                        ),
                    ),
                    otherwise=(_copy("/mode", "/seen"),),
                ),
                m.DeleteAction("/mode"),
                _copy("/mode", "/after_delete"),
                m.EventAction("/event/x", 7),
                _copy("/event/x", "/event_read"),
            ],
            [m.EventTrigger(DOOR)],
        ),
        tree={"/mode": "home", "/event/x": 1},
    )
    assert sets(h.change(DOOR, True)) == [
        run.SetKey("/mode", "away"),
        run.SetKey("/seen", "away"),
        run.SetKey("/after_delete", None),
        run.SetKey("/event_read", 7),
    ]


def test_the_writes_are_read_until_the_turn_hands_them_over() -> None:
    tree = {"/a": 1, "/b": 2}
    own = OwnWrites(tree.get)
    own.wrote(run.SetKey("/a", 5))
    own.wrote(run.DeleteKey("/b"))
    own.wrote(run.Log("info", "not a write"))
    assert (own.kv("/a"), own.kv("/b"), own.kv("/c")) == (5, None, None)
    own.handed_over()  # the owner sends them now: its view reads them from then on
    assert (own.kv("/a"), own.kv("/b")) == (1, 2)


def test_queued_runs_started_in_one_turn_each_read_the_count_before_them() -> None:
    """A slow first run holds two rings in the queue; when it ends, the two run in
    the same turn, and each adds one to the count the run before it wrote."""
    slow = m.Branch(compile_expression("trigger.value == 'slow'"), (m.WaitAction(1),))
    counter = m.SetAction(
        "/rings", None, expr=compile_expression("(kv('/rings') or 0) + 1")
    )
    h = harness(
        scenario(
            [m.ChooseAction((slow,)), counter],
            [m.EventTrigger(DOOR)],
            mode=Mode.QUEUED,
            max_runs=5,
        )
    )
    h.change(DOOR, "slow")
    h.change(DOOR, "fast")
    h.change(DOOR, "faster")  # both wait their turn
    assert sets(h.advance(1.0)) == [
        run.SetKey("/rings", 1),
        run.SetKey("/rings", 2),
        run.SetKey("/rings", 3),
    ]
