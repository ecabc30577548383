"""The `when:` trigger (docs/scenarios.md "Triggers"): it fires when its expression
becomes true, with `for:` once it stayed true that long; a fault is no value, a
test already true at the start is no crossing; the clock passed in."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.scenario_engine import START_WALL, Harness, harness, scenario, sets

from raspy.devices.template import JsonValue
from raspy.rules import engine
from raspy.rules import model as m
from raspy.rules.document import load_scenario, validate_scenario
from raspy.rules.expr import compile_expression

T, SETPOINT = "/dev/t", "/house/setpoint"
MARK = m.SetAction("/x/mark", "{trigger.id} {trigger.key} {trigger.value}")


def _when(
    source: str, *, for_s: float = 0.0, id: str = "", time: bool = False
) -> m.WhenTrigger:
    return m.WhenTrigger(compile_expression(source), time, for_s, id)


def _started(
    trigger: m.WhenTrigger, tree: dict[str, JsonValue], **fields: object
) -> Harness:
    h = harness(scenario([MARK], [trigger], **fields), tree=tree)
    h.feed(h.core.on_startup(h.mono, h.wall, fire=False))
    return h


def _marks(outputs: list[engine.Output]) -> list[JsonValue]:
    return [out.value for out in sets(outputs)]


THERMOSTAT = "kv('/dev/t') < kv('/house/setpoint') - 0.5"


def test_a_setpoint_raised_above_the_temperature_fires_once_and_not_on_the_next_reading() -> (
    None
):
    h = _started(_when(THERMOSTAT, id="cold"), {T: 20.0, SETPOINT: 19.0})
    assert _marks(h.change(SETPOINT, 21.0)) == ["cold /house/setpoint true"]
    assert _marks(h.change(T, 20.1)) == []  # still true: no crossing
    assert _marks(h.change(T, 20.6)) == []  # false now
    assert _marks(h.change(T, 20.4)) == ["cold /dev/t true"]  # true again: fires
    assert h.core.status.last_trigger == {
        "kind": "when",
        "id": "cold",
        "key": T,
        "value": True,
        "from": None,
    }


def test_a_quick_crossing_fires_though_the_view_is_ahead_of_the_change() -> None:
    """The core's view of the tree is updated before the scenario hears of each
    change: a bell that goes 0, 1, 0 in quick succession reaches it as two changes
    when the view says 0 again. The change to 1 crossed, and fires (as a kv
    trigger's `to: 1` does); its `trigger.key` is the key that changed."""
    h = _started(_when("kv('/door/bell') == 1", id="rang"), {"/door/bell": 0})
    h.tree["/door/bell"] = 0  # the view, already past the 1
    fired = h.feed(h.core.on_kv("/door/bell", 0, 1, h.mono, h.wall))
    assert _marks(fired) == ["rang /door/bell true"]
    assert _marks(h.feed(h.core.on_kv("/door/bell", 1, 0, h.mono, h.wall))) == []


def test_a_test_already_true_at_the_start_fires_nothing() -> None:
    h = _started(_when(THERMOSTAT), {T: 18.0, SETPOINT: 21.0})
    assert _marks(h.change(T, 18.5)) == []
    assert h.core.status.runs == 0


DOOR_OPEN = "kv('/house/door') == 'open'"


def _started_as_seen(
    trigger: m.WhenTrigger, seen: list[tuple[str, JsonValue]]
) -> Harness:
    """Started from `seen` (the keys as the core had them when it told the start)
    while the view already shows the door opened just after it."""
    h = harness(scenario([MARK], [trigger]), tree={"/house/door": "open"})
    h.feed(h.core.on_startup(h.mono, h.wall, fire=False, seen=seen))
    return h


@pytest.mark.parametrize("seen", [[("/house/door", "closed")], []])
def test_a_change_after_the_start_crosses_though_the_view_had_it_at_the_start(
    seen: list[tuple[str, JsonValue]],
) -> None:
    """The core tells a scenario its start, then each change after it; the shared
    view may be past such a change when the start is taken. The start reads what
    the core had when it told it (closed, or no door key yet), and the change
    fires (it fired nothing when the start read the view)."""
    h = _started_as_seen(_when(DOOR_OPEN, id="door"), seen)
    fired = h.feed(h.core.on_kv("/house/door", None, "open", h.mono, h.wall))
    assert _marks(fired) == ["door /house/door true"]


def test_a_hold_begun_after_the_start_names_its_key_though_the_view_was_ahead() -> None:
    h = _started_as_seen(_when(DOOR_OPEN, for_s=2.0), [("/house/door", "closed")])
    h.advance(1)
    h.feed(h.core.on_kv("/house/door", "closed", "open", h.mono, h.wall))
    assert _marks(h.advance(2)) == [" /house/door true"]
    assert h.core.status.last_trigger is not None
    assert h.core.status.last_trigger["since"] == START_WALL + 1


def test_the_value_seen_is_the_expressions_own_and_truth_is_a_conditions() -> None:
    h = _started(_when("kv('/dev/n') and kv('/dev/n') * 2"), {})
    assert _marks(h.change("/dev/n", 0)) == []  # 0 is false
    assert _marks(h.change("/dev/n", 3)) == [" /dev/n 6"]


def test_a_key_it_does_not_read_retests_nothing() -> None:
    h = _started(_when(THERMOSTAT), {T: 20.0, SETPOINT: 19.0})
    h.tree[SETPOINT] = 30.0  # changed without telling: only /dev/t re-tests
    assert _marks(h.change("/dev/other", 1)) == []
    assert _marks(h.change(T, 20.0)) == [" /dev/t true"]


def test_a_for_hold_fires_once_it_held_that_long() -> None:
    h = _started(_when(THERMOSTAT, for_s=2.0), {T: 20.0, SETPOINT: 19.0})
    h.advance(5)
    h.change(SETPOINT, 21.0)
    assert _marks(h.advance(1.5)) == []
    assert h.core.next_deadline() == pytest.approx(h.mono + 0.5)
    assert _marks(h.advance(0.5)) == [" /house/setpoint true"]
    assert h.core.status.last_trigger == {
        "kind": "when",
        "id": "",
        "key": SETPOINT,
        "value": True,
        "from": None,
        "since": START_WALL + 5,
    }
    assert _marks(h.advance(10)) == []  # once


def test_a_false_breaks_a_hold_and_it_starts_again() -> None:
    h = _started(_when(THERMOSTAT, for_s=2.0), {T: 20.0, SETPOINT: 21.0})
    h.change(T, 22.0)  # false (it held from the start)
    h.change(T, 20.0)  # true: a new hold
    h.advance(1.5)
    h.change(T, 21.0)  # false: broken
    assert _marks(h.advance(1.0)) == []
    h.change(T, 20.0)
    assert _marks(h.advance(2.0)) == [" /dev/t true"]


def test_a_test_true_at_the_start_holds_from_the_start_for_its_whole_time() -> None:
    h = _started(_when(THERMOSTAT, for_s=2.0), {T: 20.0, SETPOINT: 21.0})
    assert _marks(h.advance(1.9)) == []
    assert _marks(h.advance(0.1)) == [" null true"]
    assert h.core.status.last_trigger == {
        "kind": "when",
        "id": "",
        "key": None,
        "value": True,
        "from": None,
        "since": START_WALL,
    }


def test_a_fault_fires_nothing_is_told_once_and_the_truth_before_it_counts() -> None:
    h = _started(_when(THERMOSTAT), {T: 20.0, SETPOINT: 21.0})  # true
    h.mono += 1
    h.wall += 1
    h.no_value(T)
    status = h.core.status
    assert status.state is engine.State.ERROR
    assert status.last_error == (
        "trigger 1 when: expression \"kv('/dev/t') < kv('/house/setpoint') - 0.5\":"
        " cannot compare null < 20.5 (at offset 13)"
    )
    assert status.last_error_at == START_WALL + 1
    h.wall += 1
    h.no_value(T)  # the same fault again: no new time, no write
    assert h.core.status.last_error_at == START_WALL + 1
    assert _marks(h.change(T, 20.0)) == []  # true before the gap: no crossing
    h.change(T, 22.0)
    h.no_value(T)
    assert _marks(h.change(T, 20.0)) == [" /dev/t true"]  # false before it


def test_a_fault_that_ended_shows_idle_again_and_keeps_the_last_error() -> None:
    """A sensor gone a minute: `error` while the test faults, `idle` once it tests
    again, with `last_error` and its time kept (the last failure); only the state
    changed, so only its key is written, once, not at each reading."""
    h = _started(_when(THERMOSTAT), {T: 20.0, SETPOINT: 21.0})
    h.wall += 1
    h.no_value(T)
    faulted = h.core.status
    assert faulted.state is engine.State.ERROR
    outputs = h.change(T, 20.2)
    assert outputs == [
        engine.StatusChanged(dataclasses.replace(faulted, state=engine.State.IDLE))
    ]
    assert h.change(T, 20.1) == []  # no new status at the next reading
    h.wall += 5
    h.no_value(T)  # a new fault: the state, and when it began
    assert (h.core.status.state, h.core.status.last_error_at) == (
        engine.State.ERROR,
        START_WALL + 6,
    )


def test_a_fault_that_ended_leaves_a_failed_run_in_error() -> None:
    """`error` is also the last run's failure: a trigger's fault that ends does not
    hide it (that waits for the next run)."""
    fails = m.SetAction("/x/a", None, expr=compile_expression("1 + 'a'"))
    trigger = _when("kv('/dev/t') < 19")
    h = harness(scenario([fails], [trigger]), tree={T: 20.0})
    h.feed(h.core.on_startup(h.mono, h.wall, fire=False))
    h.change(T, 18.0)
    assert h.state is engine.State.ERROR
    h.no_value(T)
    h.change(T, 18.0)  # true before the gap: no crossing, no run
    assert (h.state, h.core.status.runs) == (engine.State.ERROR, 1)


def test_a_fault_breaks_a_hold_and_a_truth_back_holds_again_from_then() -> None:
    h = _started(_when(THERMOSTAT, for_s=2.0), {T: 20.0, SETPOINT: 21.0})
    h.advance(1.5)
    h.no_value(T)
    assert _marks(h.advance(1.0)) == []
    h.change(T, 20.0)
    assert _marks(h.advance(1.9)) == []
    assert _marks(h.advance(0.1)) == [" /dev/t true"]


def test_a_test_of_the_time_is_retested_when_the_minute_turns() -> None:
    # the harness's zone is UTC: START_WALL is 22:13:20
    h = _started(
        _when("minute() >= 15 and kv('/dev/on') == true", time=True), {"/dev/on": True}
    )
    assert h.core.next_deadline() == pytest.approx(h.mono + 40.01)
    assert _marks(h.advance(40.01)) == []  # 22:14
    assert _marks(h.advance(59.0)) == []  # 22:14:59
    assert _marks(h.advance(1.01)) == [" null true"]  # 22:15: by the time, no key
    assert _marks(h.advance(60.0)) == []


def test_a_scenario_without_a_when_has_nothing_more_on_its_keys() -> None:
    h = harness(scenario([MARK], [m.KvTrigger(pattern=T)]))
    assert h.core._when.active is False


# --- a random sequence against a reference ----------------------------------------
_VALUES = st.one_of(st.none(), st.integers(0, 3))


@given(st.lists(st.tuples(st.sampled_from(["/a", "/b", "/c"]), _VALUES), max_size=40))
@settings(max_examples=200, deadline=None)
def test_a_random_sequence_fires_exactly_at_false_to_true_edges(
    steps: list[tuple[str, int | None]],
) -> None:
    """The reference: the truth of `kv('/a') < kv('/b')` after each step (None when a
    null is compared: a fault, which keeps the truth before it)."""
    tree: dict[str, JsonValue] = {"/a": 1, "/b": 2}
    h = _started(_when("kv('/a') < kv('/b')"), dict(tree))
    truth = True
    for key, value in steps:
        tree[key] = value
        now = None if None in (tree["/a"], tree["/b"]) else tree["/a"] < tree["/b"]  # type: ignore[operator]  # ints here
        if value is None:
            fired = _marks(h.no_value(key))
        else:
            fired = _marks(h.change(key, value))
        expected = [f" {key} true"] if key != "/c" and now and not truth else []
        assert fired == expected, (key, value)
        if now is not None and key != "/c":
            truth = now


# --- the document --------------------------------------------------------------------
def test_a_when_trigger_reads_from_a_document() -> None:
    scn = load_scenario(
        "name: heat\ntriggers:\n  - when: \"kv('/dev/t') < 19 or hour() > 22\"\n"
        "    for: 2s\n    id: cold\nactions: [{wait: 1s}]\n"
    )
    assert scn.triggers == (
        m.WhenTrigger(
            compile_expression("kv('/dev/t') < 19 or hour() > 22"), True, 2.0, "cold"
        ),
    )


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        (
            "kv('/x/' + 'y') == 1",
            "s.yaml:3:12: triggers[0].when: a when: is re-tested when a key it reads"
            " changes: write the key out, kv('/house/...'), not put together by the"
            " expression",
        ),
        (
            "kv('/r/{repeat.index}') == 1",
            "s.yaml:3:19: triggers[0].when: repeat.index is known only inside a"
            " repeat's actions",
        ),
        (
            "kv('/{now:%H}') == 1 and trigger.value",
            "s.yaml:3:37: triggers[0].when: trigger.* is known only in a run; a when:"
            " is tested before one",
        ),
        (
            "1 < 2",
            "s.yaml:3:12: triggers[0].when: reads no key with kv('...') and not the"
            " time, so it never changes: a when: fires when what it reads makes it"
            " true",
        ),
        (
            "kv('/{room}') == 1",
            "s.yaml:3:17: triggers[0].when: unknown name 'room'",
        ),
    ],
)
def test_a_when_that_could_not_be_retested_is_refused_at_its_place(
    expression: str, expected: str
) -> None:
    text = f'name: a\ntriggers:\n  - when: "{expression}"\nactions: [{{wait: 1s}}]\n'
    assert validate_scenario(text, "s.yaml") == [expected]


def test_a_key_of_fields_and_slashes_only_is_refused() -> None:
    text = (
        "name: a\nvariables: {room: x}\ntriggers:\n"
        "  - when: \"kv('/{now:%H}/') == 1\"\nactions: [{wait: 1s}]\n"
    )
    assert validate_scenario(text, "s.yaml") == [
        "s.yaml:4:15: triggers[0].when: kv() of a key of fields and slashes only"
        " cannot be watched (it would be every key): write its fixed parts out"
    ]
