"""A `wait_until` through ScenarioCore (docs/scenarios.md, the actions table and
"When something goes wrong"), tested again as a `when:` trigger is: a fault in its
test is no value, a change is read as it left its key, a test of the time is made
again each minute; the clock and the tree moved by the harness."""

from __future__ import annotations

import json

import pytest
from support.scenario_engine import Harness, harness, requests, sets

from raspy.rules import engine, run
from raspy.rules.document import load_scenario, validate_scenario
from raspy.rules.engine import State
from raspy.rules.resume_path import Place

pytestmark = pytest.mark.timeout(30)

LIVING = "/device/hub.fake.living/value"
# the first example of docs/scenarios.md, without its time-of-day condition
HEAT_LIVING = """
name: heat-living
mode: single
variables: {target: 19.5}
triggers:
  - kv: "/device/{host}.fake.living/value"
    below: 19.5
    for: 60s
actions:
  - device: "{host}.fake.lamp"
    action: "on"
  - wait_until: "kv('/device/{host}.fake.living/value') > target"
    timeout: 2h
    continue_on_timeout: true
  - device: "{host}.fake.lamp"
    action: "off"
"""
NULL_FAULT = (
    "wait_until: expression \"kv('/device/{host}.fake.living/value') > target\": "
    "cannot compare null > 19.5 (at offset 39)"
)


def _lamp(h: Harness) -> list[str]:
    """The lamp's commands so far, each answered at once."""
    said = []
    for request in requests(h.outputs):
        said.append(json.loads(request.body[0])["action"])
        if request.request_id in h.core._requests:
            h.reply(request, b"200")
    return said


def _heating() -> Harness:
    """heat-living in its wait_until, the lamp (the heater) turned on."""
    h = harness(load_scenario(HEAT_LIVING), tree={LIVING: 20})
    h.change(LIVING, 19)
    h.advance(61)
    assert _lamp(h) == ["on"]
    assert h.core.running == 1
    return h


def test_a_null_reading_during_the_wait_is_no_value_and_the_heater_goes_off() -> None:
    """The board's failed reading (the key goes null) is neither warm nor cold: the
    run waits on, the fault said once as it begins (a trace line, last_error),
    and the heater goes off when the board is back warm."""
    h = _heating()
    h.advance(5)
    h.no_value(LIVING)
    assert (h.core.running, h.state) == (1, State.RUNNING)
    assert h.core.status.last_error == NULL_FAULT
    began = h.core.status.last_error_at
    h.advance(30)
    h.no_value(LIVING)  # the board still away: nothing new to say
    assert h.core.status.last_error_at == began
    h.change(LIVING, 21)
    assert _lamp(h) == ["on", "off"]
    assert h.core.running == 0
    assert h.core.status.last_trace[2:] == (
        "+0.0s wait_until kv('/device/hub.fake.living/value') > target (timeout 7200s)",
        f"+5.0s {NULL_FAULT}; no value, it waits on",
        "+35.0s wait_until: holds",
        "+35.0s device hub.fake.lamp off",
        "+35.0s device hub.fake.lamp: 200",
        "+35.0s done",
    )
    assert h.state is State.IDLE  # the run did not fail; the fault stays told


def test_a_fault_that_lasts_to_the_timeout_lets_the_timeout_act() -> None:
    """No value until the timeout: `continue_on_timeout` goes on (the heater off
    after 2 h at the latest, as the document says)."""
    h = _heating()
    h.no_value(LIVING)
    h.advance(7199)
    assert _lamp(h) == ["on"]
    h.advance(1)
    assert _lamp(h) == ["on", "off"]
    assert h.core.status.last_trace[-5:-3] == (
        f"+0.0s {NULL_FAULT}; no value, it waits on",
        "+7200.0s wait_until: timed out, the run goes on",
    )


def test_a_fault_at_the_waits_start_is_said_at_once_and_the_timeout_ends_it() -> None:
    """The first test faults as a later one does (a key misspelt, so absent): the
    run waits, last_error says why at once, and the timeout fails the run."""
    h = harness(
        load_scenario(
            "name: t\ntriggers:\n  - kv: /go\nactions:\n"
            "  - wait_until: \"kv('/hous/temp') > 20\"\n    timeout: 60s\n"
            "  - set: /warm\n    value: true\n"
        )
    )
    h.change("/go", 1)
    assert (h.core.running, h.state) == (1, State.RUNNING)
    assert h.core.status.last_error == (
        "wait_until: expression \"kv('/hous/temp') > 20\": "
        "cannot compare null > 20 (at offset 17)"
    )
    assert sets(h.advance(60)) == []
    assert h.state is State.ERROR
    assert h.core.status.last_error == (
        "wait_until \"kv('/hous/temp') > 20\" timed out after 60s"
    )


def test_a_test_that_faults_then_holds_on_a_change_goes_on() -> None:
    """A fault at the start, then a value that holds: the run goes on."""
    h = harness(
        load_scenario(
            "name: t\ntriggers:\n  - kv: /go\nactions:\n"
            "  - wait_until: \"kv('/t') > 20\"\n"
            "  - set: /warm\n    value: true\n"
        )
    )
    h.change("/go", 1)
    assert h.core.running == 1
    assert (h.core.status.last_error or "").startswith("wait_until: expression")
    assert sets(h.change("/t", 21)) == [run.SetKey("/warm", True)]


def test_a_quick_change_wakes_the_wait_though_the_view_is_ahead_of_it() -> None:
    """A bell's 0, 1, 0 reaches the scenario as two changes after the core's view
    of the tree says 0 again: the wait is tested with the key as each change left
    it, so the 1 is seen, as a `when:` on the same change fires."""
    h = harness(
        load_scenario(
            "name: t\ntriggers:\n  - kv: /go\nactions:\n"
            "  - wait_until: \"kv('/bell') == 1\"\n    timeout: 60s\n"
            "  - set: /rung\n    value: yes!\n"
        ),
        tree={"/bell": 0},
    )
    h.change("/go", 1)
    assert h.core.running == 1
    h.tree["/bell"] = 0  # the view, already past the 1
    rang = h.feed(h.core.on_kv("/bell", 0, 1, h.mono, h.wall))
    assert sets(rang) == [run.SetKey("/rung", "yes!")]
    assert h.core.running == 0


def test_the_changed_key_is_overlaid_for_that_test_only() -> None:
    """A change of another key after the quick one reads the tree as it is: the
    overlay is the change's, once, not a value kept."""
    h = harness(
        load_scenario(
            "name: t\ntriggers:\n  - kv: /go\nactions:\n"
            "  - wait_until: \"kv('/bell') == 1 and kv('/door') == 'open'\"\n"
            "  - set: /rung\n    value: yes!\n"
        ),
        tree={"/bell": 0, "/door": "shut"},
    )
    h.change("/go", 1)
    h.tree["/bell"] = 0
    assert sets(h.feed(h.core.on_kv("/bell", 0, 1, h.mono, h.wall))) == []
    assert sets(h.change("/door", "open")) == []  # the bell says 0 again
    assert sets(h.change("/bell", 1)) == [run.SetKey("/rung", "yes!")]


def test_a_key_deleted_is_read_as_absent_by_its_wake() -> None:
    h = harness(
        load_scenario(
            "name: t\ntriggers:\n  - kv: /go\nactions:\n"
            "  - wait_until: \"kv('/lock') == null\"\n"
            "  - set: /free\n    value: true\n"
        ),
        tree={"/lock": "held"},
    )
    h.change("/go", 1)
    h.tree["/lock"] = "held"  # the view, already holding it again
    freed = h.feed(h.core.on_kv("/lock", "held", None, h.mono, h.wall, deleted=True))
    assert sets(freed) == [run.SetKey("/free", True)]


MORNING = (
    "name: t\ntriggers:\n  - kv: /go\nactions:\n"
    '  - wait_until: "hour() >= 7"\n'
    "  - set: /morning\n    value: true\n"
)
THREE_AM = 1_699_920_000.0 + 3 * 3600  # 2023-11-14 03:00 UTC


def _ticks_until(h: Harness, wall: float) -> list[engine.Output]:
    """The owner's timer: a tick at each deadline the core asks for, up to `wall`
    (bounded: a wait re-tested each minute asks for one a minute)."""
    out: list[engine.Output] = []
    for _ in range(10_000):
        deadline = h.core.next_deadline()
        if deadline is None or h.wall + (deadline - h.mono) > wall:
            return out
        out += h.advance(deadline - h.mono)
    raise AssertionError("more ticks than the time allows")


def test_a_wait_until_that_reads_the_time_is_tested_each_minute() -> None:
    """`hour() >= 7` from 03:00, no timeout: it held at 07:00:00.01, the first
    re-test of that minute; it waited for ever (and was recorded for restarts)."""
    h = harness(load_scenario(MORNING))
    h.wall = THREE_AM
    h.change("/go", 1)
    assert sets(_ticks_until(h, THREE_AM + 4 * 3600 - 1)) == []
    assert h.core.running == 1
    assert sets(_ticks_until(h, THREE_AM + 4 * 3600 + 1)) == [
        run.SetKey("/morning", True)
    ]
    assert h.wall == pytest.approx(THREE_AM + 4 * 3600 + 0.01)
    assert h.core.running == 0


def test_a_wait_until_of_a_key_and_the_time_is_tested_by_either() -> None:
    h = harness(
        load_scenario(
            "name: t\ntriggers:\n  - kv: /go\nactions:\n"
            "  - wait_until: \"kv('/away') == true and hour() >= 7\"\n"
            "  - set: /morning\n    value: true\n"
        ),
        tree={"/away": False},
    )
    h.wall = THREE_AM
    h.change("/go", 1)
    assert sets(h.change("/away", True)) == []  # 03:00 still
    assert sets(_ticks_until(h, THREE_AM + 4 * 3600 + 1)) == [
        run.SetKey("/morning", True)
    ]


def test_a_wait_until_of_a_key_and_the_time_is_woken_by_the_key_too() -> None:
    """The other order: past 07:00 the minutes turn and the key still says no;
    the key's change then makes it hold at once, not at the next minute."""
    h = harness(
        load_scenario(
            "name: t\ntriggers:\n  - kv: /go\nactions:\n"
            "  - wait_until: \"kv('/away') == true and hour() >= 7\"\n"
            "  - set: /morning\n    value: true\n"
        ),
        tree={"/away": False},
    )
    h.wall = THREE_AM + 4.5 * 3600
    h.change("/go", 1)
    assert sets(_ticks_until(h, h.wall + 120)) == []
    assert h.core.running == 1
    assert sets(h.change("/away", True)) == [run.SetKey("/morning", True)]


def test_a_resumed_wait_until_that_holds_goes_on_at_the_start() -> None:
    """Resumed past 07:00: tested at once, it holds, the run goes on at the start."""
    h = harness(load_scenario(MORNING))
    h.wall = THREE_AM + 4.5 * 3600
    outputs = h.core.on_startup(
        h.mono,
        h.wall,
        fire=False,
        resume=[
            engine.Checkpoint(
                (Place(0),), float("inf"), float("inf"), {"kind": "kv"}, until=True
            )
        ],
    )
    assert sets(h.feed(outputs)) == [run.SetKey("/morning", True)]
    assert h.core.running == 0


def test_a_resumed_wait_until_of_the_time_is_tested_at_once_then_each_minute() -> None:
    h = harness(load_scenario(MORNING))
    h.wall = THREE_AM
    h.feed(
        h.core.on_startup(
            h.mono,
            h.wall,
            fire=False,
            resume=[
                engine.Checkpoint(
                    (Place(0),), float("inf"), float("inf"), {"kind": "kv"}, until=True
                )
            ],
        )
    )
    assert h.core.running == 1
    assert h.core.next_deadline() == pytest.approx(h.mono + 60.01)
    assert sets(_ticks_until(h, THREE_AM + 4 * 3600 + 1)) == [
        run.SetKey("/morning", True)
    ]


@pytest.mark.parametrize(
    ("written", "col"),
    [
        ("'trigger.value > 2'", 18),
        ("'false'", 18),
        ("\"kv('/x/' + trigger.key) == 1\"", 18),
        ("'random() < 0.5'\n    continue_on_timeout: true", 18),
    ],
)
def test_a_wait_until_that_reads_neither_a_key_nor_the_time_is_refused(
    written: str, col: int
) -> None:
    """Nothing would test it again and no timeout ends it: it holds at once or
    waits for ever."""
    text = f"name: a\ntriggers:\n  - kv: /go\nactions:\n  - wait_until: {written}\n"
    assert validate_scenario(text, "s.yaml") == [
        f"s.yaml:5:{col}: actions[0].wait_until: reads no key with kv('...') and not"
        " the time, so nothing tests it again: without a timeout it holds at once or"
        " waits for ever (give it a timeout:, or write a wait:)"
    ]


@pytest.mark.parametrize(
    "written",
    [
        "'false'\n    timeout: 1h",
        "'random() < 0.5'\n    timeout: 5m\n    continue_on_timeout: true",
    ],
)
def test_a_wait_until_that_reads_nothing_but_has_a_timeout_is_taken(
    written: str,
) -> None:
    """A pause of its timeout at most: a stored scenario so written loads as before."""
    text = f"name: a\ntriggers:\n  - kv: /go\nactions:\n  - wait_until: {written}\n"
    assert validate_scenario(text, "s.yaml") == []


def test_a_resumed_wait_whose_timeout_ended_and_whose_test_faults_says_no_wait() -> (
    None
):
    """Its timeout ended while raspyd was down: the timeout acts at once. A fault
    of its first test is told as no value, not as a wait that goes on."""
    h = harness(
        load_scenario(
            "name: t\ntriggers:\n  - kv: /go\nactions:\n"
            "  - wait_until: \"kv('/t') > 20\"\n    timeout: 10m\n"
            "    continue_on_timeout: true\n"
            "  - set: /after\n    value: true\n"
        )
    )
    outputs = h.core.on_startup(
        h.mono,
        h.wall,
        fire=False,
        resume=[
            engine.Checkpoint((Place(0),), h.wall - 60, 600.0, {"kind": "kv"}, True)
        ],
    )
    assert sets(h.feed(outputs)) == [run.SetKey("/after", True)]
    fault = "wait_until: expression \"kv('/t') > 20\": cannot compare null > 20"
    said = [line for line in h.core.status.last_trace if fault in line]
    assert [line.split(" ", 1)[1] for line in said] == [
        f"{fault} (at offset 9); no value"
    ]


def test_a_wait_until_on_the_triggers_own_key_is_taken_and_woken_by_it() -> None:
    """A key that is all fields of the run (`kv('{trigger.key}')`) has no route of
    its own, but after a `kv:` trigger it is that trigger's key, which the trigger
    routes already: "the window opened, wait until it is shut" needs no timeout, and
    is taken at import (docs/scenarios.md, Actions: wait_until)."""
    text = (
        "name: t\ntriggers:\n  - kv: /window/*\n    to: open\nactions:\n"
        "  - wait_until: \"kv('{trigger.key}') == 'shut'\"\n"
        "  - set: /window/shut_again\n    expr: trigger.key\n"
    )
    assert validate_scenario(text, "s.yaml") == []
    h = harness(load_scenario(text), tree={"/window/hall": "shut"})
    h.change("/window/hall", "open")
    assert (h.core.running, sets(h.outputs)) == (1, [])
    h.change("/window/attic", "shut")  # another window: the hall's is still open
    assert sets(h.outputs) == []
    h.change("/window/hall", "shut")
    assert [(s.key, s.value) for s in sets(h.outputs)] == [
        ("/window/shut_again", "/window/hall")
    ]
