"""A run in a `wait_until` is recorded once it has waited a minute (ten inside a
`repeat`) and taken up after a restart: its test made at once, then what is left of
its timeout (rules.resume_record's format 3, ScenarioCore.on_startup's `resume`)."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.scenario_engine import (
    START_MONO,
    START_WALL,
    Harness,
    harness,
    requests,
    scenario,
)

from raspy.devices.template import JsonValue
from raspy.errors import MalformedMessage
from raspy.rules import engine, resume_record
from raspy.rules import model as m
from raspy.rules.document import load_scenario
from raspy.rules.expr import compile_expression
from raspy.rules.resume_path import Place
from raspy.rules.run import SetKey

EVENT = m.EventTrigger(pattern="/event/test/go")
GO = "/event/test/go"
WINDOW = "/window"
VERSION = "v-test"
CLOSED = compile_expression(f"kv('{WINDOW}') == 'closed'")
OFF = m.SetAction("/heater", "off")
ON = m.SetAction("/heater", "on")


def until(timeout_s: float | None = None, go_on: bool = False) -> m.WaitUntilAction:
    return m.WaitUntilAction(CLOSED, timeout_s, continue_on_timeout=go_on)


def heater(wait: m.WaitUntilAction) -> m.Scenario:
    """The heater off, until the window is closed, then on again."""
    return scenario([OFF, wait, ON], [EVENT])


def records(h: Harness) -> list[tuple[engine.Checkpoint, ...]]:
    return [out.runs for out in h.outputs if isinstance(out, engine.Resumable)]


def heats(h: Harness) -> list[JsonValue]:
    return [out.value for out in h.outputs if isinstance(out, SetKey)]


def restarted(
    h: Harness, doc: m.Scenario, tree: dict[str, JsonValue], down_s: float = 0.0
) -> Harness:
    """raspyd stopped in `h`'s last record, down `down_s` seconds, started again:
    the record through its JSON, taken up by a new core of `doc` seeing `tree`."""
    body, left_out = resume_record.encode(VERSION, records(h)[-1], 65536)
    assert left_out == 0
    runs = resume_record.decode(json.loads(body), VERSION, doc)
    new = harness(doc, tree=tree)
    new.mono, new.wall = START_MONO + 7.0, h.wall + down_s
    new.feed(new.core.on_startup(new.mono, new.wall, resume=runs))
    return new


@pytest.mark.parametrize("timeout_s", [600.0, None], ids=["600s", "no-timeout"])
def test_a_wait_until_is_recorded_by_a_timer_once_it_has_waited_a_minute(
    timeout_s: float | None,
) -> None:
    h = harness(heater(until(timeout_s)), tree={WINDOW: "open"})
    h.change(GO, 1)
    assert h.core.next_deadline() == START_MONO + 60.0  # the record's timer
    h.advance(30.0)
    h.change(WINDOW, "ajar")  # woken, still not closed: no record yet
    h.advance(29.9)
    assert records(h) == []
    h.advance(0.1)
    [(checkpoint,)] = records(h)
    endless = timeout_s is None
    assert checkpoint == engine.Checkpoint(
        (Place(1),),
        math.inf if endless else START_WALL + 600.0,
        math.inf if endless else 600.0,
        checkpoint.trigger,
        until=True,
    )
    assert h.core.next_deadline() == (None if endless else START_MONO + 600.0)
    h.change(WINDOW, "open")  # a wake after the record writes nothing new
    assert len(records(h)) == 1
    h.change(WINDOW, "closed")
    assert records(h)[-1] == ()  # it ended: the record goes
    assert heats(h) == ["off", "on"]


def test_a_wait_until_that_ends_within_the_minute_writes_no_record() -> None:
    """The door that closes in 20 seconds: not one write."""
    h = harness(heater(until(600.0)), tree={WINDOW: "open"})
    h.change(GO, 1)
    h.advance(20.0)
    h.change(WINDOW, "closed")
    h.advance(600.0)
    assert [out for out in h.outputs if isinstance(out, engine.Resumable)] == []
    assert heats(h) == ["off", "on"]


def test_a_wait_until_with_a_timeout_under_the_minute_is_never_recorded() -> None:
    h = harness(heater(until(60.0, go_on=True)), tree={WINDOW: "open"})
    h.change(GO, 1)
    assert h.core.next_deadline() == START_MONO + 60.0  # its timeout
    h.advance(60.0)
    assert records(h) == []
    assert heats(h) == ["off", "on"]


@pytest.mark.parametrize(("minutes", "recorded"), [(5, 0), (10, 1)])
def test_inside_a_repeat_a_wait_until_is_recorded_only_from_ten_minutes(
    minutes: int, recorded: int
) -> None:
    """As a `wait` there: each pass's wait would be a record of its own."""
    repeat = m.RepeatAction((until(None),), count=1)
    h = harness(scenario([repeat], [EVENT]), tree={WINDOW: "open"})
    h.change(GO, 1)
    h.advance(minutes * 60.0)
    assert len([runs for runs in records(h) if runs]) == recorded
    if recorded:
        assert records(h)[-1][0].path == (Place(0, pass_=1), Place(0))


def test_a_resumed_wait_until_whose_test_holds_goes_on_at_once() -> None:
    doc = heater(until(600.0))
    h = harness(doc, tree={WINDOW: "open"})
    h.change(GO, 1)
    h.advance(100.0)
    r = restarted(h, doc, {WINDOW: "closed"}, down_s=30.0)
    assert heats(r) == ["on"]
    assert r.core.status.state is engine.State.IDLE
    assert r.core.status.last_trace == (
        "+0.0s resumed after a restart: wait_until kv('/window') == 'closed', "
        "470s left of 600s",
        "+0.0s wait_until: holds",
        "+0.0s set /heater = on",
        "+0.0s done",
    )
    assert records(r)[-1] == ()


def test_a_resumed_wait_until_waits_what_is_left_of_its_timeout() -> None:
    doc = heater(until(600.0))
    h = harness(doc, tree={WINDOW: "open"})
    h.change(GO, 1)
    h.advance(100.0)
    r = restarted(h, doc, {WINDOW: "open"}, down_s=30.0)
    assert r.core.status.run_trace == (
        "+0.0s resumed after a restart: wait_until kv('/window') == 'closed', "
        "470s left of 600s",
    )
    # kept in the record at once: a second restart within it takes it up too
    [(checkpoint,)] = records(r)
    assert (checkpoint.end_wall, checkpoint.seconds) == (START_WALL + 600.0, 600.0)
    r.advance(469.0)
    assert heats(r) == []
    r.advance(1.0)
    assert r.core.status.last_error == (
        "wait_until \"kv('/window') == 'closed'\" timed out after 600s"
    )
    assert heats(r) == []


def test_a_resumed_wait_until_without_a_timeout_waits_for_its_change() -> None:
    doc = heater(until(None))
    h = harness(doc, tree={WINDOW: "open"})
    h.change(GO, 1)
    h.advance(3600.0)
    r = restarted(h, doc, {WINDOW: "open"}, down_s=86_400.0 * 3)  # never stale
    assert r.core.status.run_trace == (
        "+0.0s resumed after a restart: wait_until kv('/window') == 'closed', "
        "no timeout",
    )
    assert r.core.next_deadline() is None
    r.change(WINDOW, "closed")
    assert heats(r) == ["on"]
    assert (r.core.status.state, r.core.status.last_error) == (engine.State.IDLE, None)


@pytest.mark.parametrize("go_on", [True, False], ids=["continue", "fail"])
def test_a_timeout_that_ended_while_down_acts_as_the_timeout_at_once(
    go_on: bool,
) -> None:
    doc = heater(until(600.0, go_on=go_on))
    h = harness(doc, tree={WINDOW: "open"})
    h.change(GO, 1)
    h.advance(100.0)
    r = restarted(h, doc, {WINDOW: "open"}, down_s=3600.0)
    assert heats(r) == (["on"] if go_on else [])
    assert r.core.status.state is (engine.State.IDLE if go_on else engine.State.ERROR)
    assert r.core.status.last_trace[0] == (
        "+0.0s resumed after a restart: wait_until kv('/window') == 'closed', "
        "0s left of 600s"
    )


def test_a_wait_until_in_a_choose_goes_on_in_its_branch() -> None:
    branch = m.Branch(compile_expression("true"), (until(None), ON))
    doc = scenario([OFF, m.ChooseAction((branch,)), m.SetAction("/done", 1)], [EVENT])
    h = harness(doc, tree={WINDOW: "open"})
    h.change(GO, 1)
    h.advance(60.0)
    [(checkpoint,)] = records(h)
    assert checkpoint.path == (Place(1, choice=1), Place(0))
    r = restarted(h, doc, {WINDOW: "open"})
    r.change(WINDOW, "closed")
    assert heats(r) == ["on", 1]


# --- the record ----------------------------------------------------------------------
def _refused(value: Any, doc: m.Scenario) -> str:
    with pytest.raises(MalformedMessage) as caught:
        resume_record.decode(value, VERSION, doc)
    return caught.value.reason


def test_a_record_with_a_wait_until_is_format_3_and_one_of_waits_stays_2() -> None:
    doc = scenario([m.WaitAction(1200.0), until(None), until(600.0)], [EVENT])
    trigger: dict[str, JsonValue] = {"kind": "event", "value": 1}
    wait = engine.Checkpoint((Place(0),), 5.0, 1200.0, trigger)
    endless = engine.Checkpoint((Place(1),), math.inf, math.inf, trigger, until=True)
    timed = engine.Checkpoint((Place(2),), 9.0, 600.0, trigger, until=True)
    body, _ = resume_record.encode(VERSION, [wait], 65536)
    assert json.loads(body)["v"] == 2  # the raspy before still takes it up
    body, _ = resume_record.encode(VERSION, [wait, endless, timed], 65536)
    value = json.loads(body)
    assert value == {
        "v": 3,
        "version": VERSION,
        "runs": [
            {"at": [{"action": 0}], "end": 5.0, "seconds": 1200.0, "trigger": trigger},
            {
                "at": [{"action": 1}],
                "end": None,
                "seconds": None,
                "trigger": trigger,
                "until": True,
            },
            {
                "at": [{"action": 2}],
                "end": 9.0,
                "seconds": 600.0,
                "trigger": trigger,
                "until": True,
            },
        ],
    }
    assert resume_record.decode(value, VERSION, doc) == (wait, endless, timed)
    runs: list[dict[str, Any]] = value["runs"]
    swapped = [{**runs[1], "at": [{"action": 0}]}]
    assert _refused({**value, "runs": swapped}, doc) == "no_such_place"
    as_wait = {k: v for k, v in runs[2].items() if k != "until"}
    assert _refused({**value, "runs": [as_wait]}, doc) == "no_such_place"
    assert _refused({**value, "v": 2}, doc) == "bad_run"  # until is format 3's
    other = [{**runs[2], "seconds": 300.0}]
    assert _refused({**value, "runs": other}, doc) == "no_such_wait"
    timeless = [{**runs[2], "end": None, "seconds": None}]
    assert _refused({**value, "runs": timeless}, doc) == "no_such_wait"
    half = [{**runs[1], "end": 5.0}]
    assert _refused({**value, "runs": half}, doc) == "bad_run"
    assert _refused({**value, "v": 4}, doc) == "not_a_record"


UNTIL_DOC = scenario(
    [
        until(None),
        m.ChooseAction(
            (m.Branch(CLOSED, (until(600.0), m.WaitAction(1200.0))),), (until(None),)
        ),
        m.WaitAction(1200.0),
    ],
    [EVENT],
)
# each place's kind (a wait_until's or a wait's) and its recorded seconds
FITTING: dict[tuple[Place, ...], tuple[bool, float]] = {
    (Place(0),): (True, math.inf),
    (Place(1, choice=1), Place(0)): (True, 600.0),
    (Place(1, choice=1), Place(1)): (False, 1200.0),
    (Place(1, choice=0), Place(0)): (True, math.inf),
    (Place(2),): (False, 1200.0),
}
_JSON: st.SearchStrategy[JsonValue] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-2, 3)
    | st.floats()
    | st.sampled_from(["else", "", "1"]),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["action", "choice", "pass"]), inner)
    ),
    max_leaves=8,
)
_AT = st.sampled_from([[{"action": 0}], [{"action": 2}]]) | st.sampled_from(
    [
        [{"action": 1, "choice": c}, {"action": a}]
        for c in (1, "else", 2)
        for a in (0, 1, 2)
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    at=_AT | _JSON,
    end=st.none() | st.sampled_from([5.0, math.nan]) | _JSON,
    seconds=st.none() | st.sampled_from([600.0, 1200.0, 30.0]) | _JSON,
    flag=st.sampled_from([True, False, None]) | _JSON,
    form=st.sampled_from([3, 2, 1, 3.0]) | _JSON,
)
def test_any_record_with_wait_untils_decodes_to_fitting_runs_or_raises(
    at: JsonValue, end: JsonValue, seconds: JsonValue, flag: JsonValue, form: JsonValue
) -> None:
    run: dict[str, JsonValue] = {
        "at": at,
        "next": at,
        "end": end,
        "seconds": seconds,
        "trigger": {},
    }
    if flag is not None:
        run["until"] = flag
    value: JsonValue = {"v": form, "version": VERSION, "runs": [run]}
    refused: MalformedMessage | None = None
    try:
        runs = resume_record.decode(value, VERSION, UNTIL_DOC)
    except MalformedMessage as exc:
        refused = exc
    if refused is not None:
        assert refused.protocol == "resume record"
        return
    for checkpoint in runs:  # what it accepts is a wait or wait_until there
        assert (checkpoint.until, checkpoint.seconds) == FITTING[checkpoint.path]
        assert math.isfinite(checkpoint.end_wall) or checkpoint.seconds == math.inf
        body, _ = resume_record.encode(VERSION, [checkpoint], 65536)
        assert resume_record.decode(json.loads(body), VERSION, UNTIL_DOC) == (
            checkpoint,
        )


def test_a_stale_wait_beside_a_wait_until_without_a_timeout_is_lost_alone() -> None:
    """Each run of a record is judged on its own: a wait_until without a timeout never
    ends, so it must not keep a wait that ended three days ago (a hub off for days)
    from being named lost; that wait's run would otherwise go on at once, days late."""
    from support.clock import FakeClock

    from raspy.rules import resume_start
    from raspy.rules.resume_record import fingerprint

    code = "name: both\n"  # the stored text: only its fingerprint counts here
    doc = scenario([m.WaitAction(1200.0), until(None)], [EVENT], mode="parallel")
    clock = FakeClock(wall=START_WALL)
    ended = START_WALL - 3 * 24 * 3600.0
    runs = (
        engine.Checkpoint((Place(0),), ended, 1200.0, {"kind": "event"}),
        engine.Checkpoint(
            (Place(1),), math.inf, math.inf, {"kind": "event"}, until=True
        ),
    )
    body, _ = resume_record.encode(fingerprint(code), runs, 65536)
    found = json.loads(body)
    taken, stale = resume_start.resumable("both", code, True, doc, found, clock)
    assert [run.until for run in taken] == [True]
    assert stale


@pytest.mark.parametrize(
    ("timeout_s", "said"),
    [(600.0, "(timeout 600s)"), (90.5, "(timeout 90.5s)"), (None, "(no timeout)")],
)
def test_the_trace_of_a_wait_until_says_its_timeout_as_it_begins(
    timeout_s: float | None, said: str
) -> None:
    """As the resumed line says `554.2s left of 600s`, the line of the wait's start
    says how long it may last."""
    h = harness(heater(until(timeout_s)), tree={WINDOW: "open"})
    h.change(GO, 1)
    assert h.core.status.run_trace == (
        "+0.0s set /heater = off",
        f"+0.0s wait_until kv('/window') == 'closed' {said}",
    )


def _page_example() -> m.Scenario:
    """The bedroom window of docs/scenarios.md, as a household copies it."""
    page = Path(__file__).parents[2] / "docs" / "scenarios.md"
    blocks = re.findall(r"```yaml\n(.*?)```", page.read_text(encoding="utf-8"), re.S)
    [block] = [b for b in blocks if "name: bedroom-window" in b]
    return load_scenario(block)


def test_the_pages_heater_goes_on_when_its_window_closed_across_a_restart() -> None:
    window = "/device/hub.gpio.bedroom-window/value"
    doc = _page_example()
    h = harness(doc, tree={window: False})
    h.feed(h.core.on_startup(h.mono, h.wall, fire=False))
    h.change(window, True)
    [off] = requests(h.outputs)
    h.reply(off, b"200", b"{}")
    h.advance(61.0)  # recorded once it has waited a minute
    assert [len(runs) for runs in records(h)][-1] == 1
    body, _ = resume_record.encode(VERSION, records(h)[-1], 65536)
    on = ("hub.gpio.devices", {"v": 1, "action": "on", "device": "bedroom-heater"})
    for closed_while_down in (True, False):
        r = harness(doc, tree={window: not closed_while_down})
        runs = resume_record.decode(json.loads(body), VERSION, doc)
        r.feed(r.core.on_startup(r.mono, r.wall, resume=runs))
        if not closed_while_down:
            assert requests(r.outputs) == []  # still open: it waits again
            r.change(window, False)
        sent = [(q.service, json.loads(q.body[0])) for q in requests(r.outputs)]
        assert sent == [on]
