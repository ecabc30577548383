"""ScenarioCore under any sequence of changes, ticks, replies, manual runs and stops:
it never raises, never runs more than its mode allows, and leaves no deadline behind
that a tick should have handled. Any actions that never wait end (done or failed)
within the step limit."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.scenario_engine import harness, requests, scenario

from raspy.rules import engine, run
from raspy.rules import model as m
from raspy.rules.engine import State
from raspy.rules.expr import compile_expression

KEY = "/device/hub.fake.t/value"
values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-50, 50),
    st.floats(-50, 50, allow_nan=False),
    st.text(max_size=3),
)
steps = st.lists(
    st.one_of(
        st.tuples(st.just("set"), values),
        st.tuples(st.just("tick"), st.floats(0, 30)),
        st.tuples(st.just("reply"), st.sampled_from([b"200", b"500"])),
        st.tuples(st.just("stop"), st.none()),
        st.tuples(st.just("manual"), st.none()),
    ),
    max_size=40,
)


@given(
    steps,
    st.sampled_from(list(m.Mode)),
    st.integers(1, 3),
    st.floats(0, 20),
)
def test_any_sequence_keeps_the_engine_within_its_mode(
    sequence: list[tuple[str, object]], mode: m.Mode, max_runs: int, for_s: float
) -> None:
    trigger = m.KvTrigger(KEY, below=10.0, above=-10.0, for_s=for_s)
    actions = (
        m.WaitAction(5),
        m.CallAction("hub.echo", ("x",), timeout_s=3),
        m.SetAction("/out", "{trigger.value}"),
    )
    h = harness(
        scenario(actions, [trigger], mode=mode, max_runs=max_runs),
        max_runs_per_minute=1000,
    )
    limit = max_runs if mode is m.Mode.PARALLEL else 1
    for kind, argument in sequence:
        if kind == "set":
            h.change(KEY, argument)  # type: ignore[arg-type]  # a JSON value
        elif kind == "tick":
            h.advance(argument)  # type: ignore[arg-type]  # seconds
        elif kind == "reply":
            for request in requests(h.outputs):
                h.reply(request, argument)  # type: ignore[arg-type]  # a status
        elif kind == "stop":
            h.feed(h.core.stop())
        else:
            h.run_now()
        assert h.core.running <= limit
        deadline = h.core.next_deadline()
        assert deadline is None or deadline >= h.mono
    assert [o for o in h.outputs if isinstance(o, engine.Disabled)] == []


STEP_LIMIT = 200
conditions = st.sampled_from(["true", "false", "trigger.value > 2"]).map(
    compile_expression
)
simple_actions: st.SearchStrategy[m.Action] = st.one_of(
    st.just(m.SetAction("/out", 1)),
    st.just(m.LogAction("x")),
    conditions.map(m.ConditionAction),
    conditions.map(m.WaitUntilAction),  # already true, or a wait (then it ends)
)


def _nested(inner: st.SearchStrategy[m.Action]) -> st.SearchStrategy[m.Action]:
    block = st.lists(inner, min_size=1, max_size=3).map(tuple)
    return st.one_of(
        st.builds(lambda a, n: m.RepeatAction(a, count=n), block, st.integers(0, 50)),
        st.builds(lambda a, c: m.RepeatAction(a, while_=c), block, conditions),
        st.builds(lambda a, c: m.RepeatAction(a, until=c), block, conditions),
        st.builds(
            lambda c, a, b: m.ChooseAction((m.Branch(c, a),), b),
            conditions,
            block,
            block,
        ),
    )


@pytest.mark.timeout(60)
@settings(deadline=None, max_examples=150)
@given(
    st.lists(st.recursive(simple_actions, _nested, max_leaves=12), max_size=4),
    st.integers(0, 5),
)
def test_actions_that_never_wait_end_within_the_step_limit(
    actions: list[m.Action], value: int
) -> None:
    h = harness(scenario(actions, [m.KvTrigger(KEY)]), step_limit=STEP_LIMIT)
    outputs = h.change(KEY, value)  # returns: no loop holds the engine
    effects = [o for o in outputs if isinstance(o, run.SetKey | run.Log)]
    assert len(effects) <= STEP_LIMIT
    if h.core.running:  # only a wait_until that does not hold yet keeps it
        # its one deadline is the timer that records it for a restart (a minute,
        # ten inside a repeat); then none: no loop wakes the engine
        deadline = h.core.next_deadline()
        assert deadline is not None
        assert deadline in (h.mono + 60.0, h.mono + 600.0)
        h.advance(deadline - h.mono)
        assert h.core.running
        assert h.core.next_deadline() is None
    else:
        assert h.state in (State.IDLE, State.ERROR)
