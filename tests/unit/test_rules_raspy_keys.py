"""A scenario's `set:` and `delete:` leave raspy's keys under `/scenario/<name>/` to
the core (docs/scenarios.md, "State in the tree": a scenario may write keys of its
own there, "not `resume`, which is raspy's"). A scenario that wrote its `resume`
made the next start name a run lost that never was, and one that wrote its `state`
showed the web face and MQTT a state the core did not have."""

from __future__ import annotations

import pytest
from support.scenario_engine import harness, scenario, sets

from raspy.rules import model as m
from raspy.rules import run
from raspy.rules.document import DocumentError, load_scenario
from raspy.rules.raspy_keys import RASPY_ENTRIES, STATE_KEYS

DOOR = "/event/door"
TEXT = """\
name: rw
triggers:
  - event: /event/door
actions:
  - set: /scenario/rw/resume
    value: {}
  - delete: /scenario/other/state
  - set: /scenario/rw/note
    value: 1
"""


def test_every_key_the_core_writes_is_raspys() -> None:
    assert {*STATE_KEYS, "resume", "next_fire"} == RASPY_ENTRIES


def test_a_written_out_key_of_raspys_is_refused_at_its_line() -> None:
    with pytest.raises(DocumentError) as caught:
        load_scenario(TEXT, "rw.yaml")
    assert caught.value.lines() == [
        "rw.yaml:5:10: actions[0].set: '/scenario/rw/resume' is raspy's own key of"
        " scenario rw (its resume), which the core writes: a scenario's keys go"
        " beside it, such as /scenario/rw/note",
        "rw.yaml:7:13: actions[1].delete: '/scenario/other/state' is raspy's own key"
        " of scenario other (its state), which the core writes: a scenario's keys go"
        " beside it, such as /scenario/other/note",
    ]


def test_keys_of_its_own_beside_them_are_taken() -> None:
    text = TEXT.replace("/scenario/rw/resume", "/scenario/rw/resume/mine").replace(
        "/scenario/other/state", "/scenario/other/states"
    )
    assert load_scenario(text, "rw.yaml").name == "rw"


def test_a_key_of_raspys_made_at_run_time_fails_the_run_and_writes_nothing() -> None:
    h = harness(
        scenario(
            [m.SetAction("/scenario/{trigger.value}/runs", 0), m.SetAction("/n", 1)],
            [m.EventTrigger(DOOR)],
        )
    )
    outputs = h.change(DOOR, "heat")
    assert sets(outputs) == []
    assert h.core.status.last_error == (
        "set: '/scenario/heat/runs' is raspy's own key of scenario heat (its runs),"
        " which the core writes: a scenario's keys go beside it, such as"
        " /scenario/heat/note"
    )
    h.change(DOOR, "heat/count")  # /scenario/heat/count/runs: a key of its own
    assert sets(h.outputs)[-2:] == [
        run.SetKey("/scenario/heat/count/runs", 0),
        run.SetKey("/n", 1),
    ]
