"""The action interpreter through ScenarioCore: every action, failures, the step limit."""

from __future__ import annotations

import dataclasses
import json
import random

import pytest
from support.scenario_engine import (
    SEED,
    Harness,
    harness,
    requests,
    scenario,
    sets,
)

from raspy.devices.template import JsonValue
from raspy.rules import engine, run, run_scope, run_walk
from raspy.rules import model as m
from raspy.rules.engine import State
from raspy.rules.expr import compile_expression

DOOR = "/event/door"
LAMP = "hub.fake.lamp"


def _fired(*actions: m.Action, **fields: object) -> tuple[Harness, list[engine.Output]]:
    h = harness(scenario(actions, [m.EventTrigger(DOOR)], **fields))
    return h, h.change(DOOR, "front")


def test_a_value_that_is_one_field_alone_keeps_its_json_type() -> None:
    h = harness(
        scenario([m.SetAction("/x", "{trigger.value}")], [m.EventTrigger(DOOR)])
    )
    assert sets(h.change(DOOR, 18.5)) == [run.SetKey("/x", 18.5)]
    assert sets(h.change(DOOR, {"a": [1]})) == [run.SetKey("/x", {"a": [1]})]


def test_a_field_alone_with_decimals_is_a_rounded_number() -> None:
    h = harness(
        scenario(
            [
                m.SetAction("/x", "{trigger.value:.1f}"),
                m.SetAction("/y", "{trigger.value:.0f}"),
            ],
            [m.EventTrigger(DOOR)],
        )
    )
    assert sets(h.change(DOOR, 21.0625)) == [
        run.SetKey("/x", 21.1),
        run.SetKey("/y", 21),
    ]
    assert sets(h.change(DOOR, "ajar")) == [
        run.SetKey("/x", "ajar"),
        run.SetKey("/y", "ajar"),
    ]


def test_simple_actions_are_effects_with_their_templates_filled_in() -> None:
    _, outputs = _fired(
        m.SetAction("/scenario/{host}/door", {"at": "at {trigger.value}"}, ttl_s=5),
        m.SetAction("/scenario/{host}/raw", ["{trigger.value}", "{trigger.from}"]),
        m.DeleteAction("/scenario/{host}/old"),
        m.EventAction("/event/seen/{trigger.value}"),
        m.EventAction("/event/level", 3),
        m.LogAction("door {trigger.value} on {host}", level="warning"),
        m.RunAction("other"),
        m.StopAction("third"),
        variables={"unused": 1},
    )
    effects = [
        o for o in outputs if not isinstance(o, engine.StatusChanged | engine.RunEnded)
    ]
    assert effects == [
        run.SetKey("/scenario/hub/door", {"at": "at front"}, 5),
        run.SetKey("/scenario/hub/raw", ["front", None]),
        run.DeleteKey("/scenario/hub/old"),
        run.PublishEvent("/event/seen/front", True),
        run.PublishEvent("/event/level", 3),
        run.Log("warning", "door front on hub"),
        run.RunScenario("other"),
        run.StopScenario("third"),
    ]


def test_device_action_sends_the_devices_vocabulary_and_goes_on_after_200() -> None:
    h, outputs = _fired(
        m.DeviceAction("{host}.fake.lamp", "set", True),
        m.SetAction("/scenario/test/after", 1),
    )
    [request] = requests(outputs)
    assert request.service == "hub.fake.devices"
    assert json.loads(request.body[0]) == {
        "v": 1,
        "action": "set",
        "device": "lamp",
        "value": True,
    }
    assert request.deadline == h.mono + 5.0
    assert sets(h.reply(request, b"200", b"{}")) == [
        run.SetKey("/scenario/test/after", 1)
    ]
    assert h.state is State.IDLE


def test_a_device_error_stops_the_run_and_puts_the_scenario_in_error() -> None:
    h, outputs = _fired(m.DeviceAction(LAMP, "set", 7), m.SetAction("/x", 1))
    [request] = requests(outputs)
    body = json.dumps({"v": 1, "error": "invalid_value", "detail": "expected a bool"})
    outputs = h.reply(request, b"400", body.encode())
    reason = f"device {LAMP}: set answered 400 invalid_value (expected a bool)"
    assert engine.RunEnded(1, reason) in outputs
    assert sets(outputs) == []
    assert h.core.status.state is State.ERROR
    assert h.core.status.last_error == reason


def test_a_device_error_names_the_command_as_sent_not_its_template() -> None:
    """Cookbook recipe 3 writes `action: "{trigger.id}"`: its error names the command."""
    h = harness(
        scenario(
            [m.DeviceAction("{host}.fake.fan", "{trigger.id}")],
            [m.EventTrigger(DOOR, id="off")],
        )
    )
    [request] = requests(h.change(DOOR, "front"))
    body = json.dumps({"v": 1, "error": "unknown_device", "detail": "no device"})
    h.reply(request, b"404", body.encode())
    assert h.core.status.last_error == (
        "device hub.fake.fan: off answered 404 unknown_device (no device)"
    )


def test_a_command_that_its_template_leaves_empty_is_not_sent() -> None:
    """Cookbook recipe 3 run by hand (`raspy scenario run`, the web's Run button):
    a manual run has no trigger id, so `action: "{trigger.id}"` sent an empty
    command, which the device answered `501 unknown_action (no action '' here)`."""
    h = harness(
        scenario(
            [m.DeviceAction("{host}.fake.fan", "{trigger.id}")],
            [m.EventTrigger(DOOR, id="off")],
        )
    )
    assert requests(h.run_now()) == []
    assert h.core.status.last_error == (
        'device hub.fake.fan: action "{trigger.id}" gave no command in this run '
        "(its trigger: manual): nothing sent"
    )


def test_a_command_left_empty_in_a_run_another_scenario_started_names_that_one() -> (
    None
):
    """A run started by another scenario's `run:` is named as `raspy scenario show`
    names it (`manual by NAME`); the reason said `started by manual`."""
    h = harness(
        scenario(
            [m.DeviceAction("{host}.fake.fan", "{trigger.id}")],
            [m.EventTrigger(DOOR, id="off")],
        )
    )
    assert requests(h.feed(h.core.run_now(h.mono, h.wall, by="bath-fan"))) == []
    assert h.core.status.last_error == (
        'device hub.fake.fan: action "{trigger.id}" gave no command in this run '
        "(its trigger: manual by bath-fan): nothing sent"
    )


def test_a_device_that_does_not_answer_fails_the_run_at_its_timeout() -> None:
    """The reason names the action, its device and command, as a device's refusal
    does: it said only the service (`hub.fake.devices did not answer within 2s`),
    which names neither the device nor what it was asked, in a scenario of many."""
    h, outputs = _fired(m.DeviceAction(LAMP, "on", timeout_s=2))
    [request] = requests(outputs)
    assert h.advance(1.9) == []
    h.advance(0.1)
    assert h.core.status.last_error == (
        f"device {LAMP}: on: hub.fake.devices did not answer within 2s"
    )
    assert h.reply(request, b"200") == []  # late: dropped


@pytest.mark.parametrize(
    ("titanic", "reason"),
    [
        (False, "call hub.nobody: hub.nobody did not answer within 2s"),
        (True, "call hub.nobody (titanic): titanic.request did not answer within 2s"),
    ],
)
def test_a_call_that_is_not_answered_fails_naming_the_call(
    titanic: bool, reason: str
) -> None:
    """A call through Titanic said only `titanic.request did not answer`, not
    which call it was."""
    h, _ = _fired(m.CallAction("{host}.nobody", ("x",), titanic, timeout_s=2))
    h.advance(2)
    assert h.core.status.last_error == reason


def test_a_device_name_without_a_service_fails_the_run() -> None:
    h, _ = _fired(m.DeviceAction("lamp", "on"))
    assert h.core.status.last_error == (
        'device "lamp": expected <host>.<service>.<device>'
    )


def test_call_sends_the_body_and_fails_on_an_error_status() -> None:
    h, outputs = _fired(m.CallAction("{host}.echo", ("hello", "{trigger.value}")))
    [request] = requests(outputs)
    assert (request.service, request.body) == ("hub.echo", (b"hello", b"front"))
    h.reply(request, b"hello", b"front")
    assert h.state is State.IDLE
    h.change(DOOR, "back")
    [second] = requests(h.outputs)[1:]
    h.reply(second, b"503")
    assert h.core.status.last_error == "call hub.echo answered 503"


def test_a_titanic_call_is_done_once_titanic_accepted_it() -> None:
    h, outputs = _fired(m.CallAction("hub.echo", ("hi",), titanic=True))
    [request] = requests(outputs)
    assert (request.service, request.body) == ("titanic.request", (b"hub.echo", b"hi"))
    h.reply(request, b"200", b"0" * 32)
    assert h.state is State.IDLE
    h.change(DOOR, "back")
    h.reply(requests(h.outputs)[1], b"400")
    assert h.core.status.last_error == "titanic refused the call to hub.echo: 400"


def test_wait_pauses_the_run_until_its_deadline() -> None:
    h, outputs = _fired(m.WaitAction(5), m.SetAction("/x", 1))
    assert sets(outputs) == []
    assert h.core.next_deadline() == h.mono + 5
    assert sets(h.advance(4.99)) == []
    assert sets(h.advance(0.01)) == [run.SetKey("/x", 1)]


def test_repeat_count_runs_its_actions_that_many_times() -> None:
    _, outputs = _fired(m.RepeatAction((m.SetAction("/x", 1),), count=3))
    assert sets(outputs) == [run.SetKey("/x", 1)] * 3


def test_a_repeat_without_a_wait_is_stopped_by_the_step_limit() -> None:
    h = harness(
        scenario(
            [m.RepeatAction((m.SetAction("/x", 1),), count=1_000_000)],
            [m.EventTrigger(DOOR)],
        ),
        step_limit=500,
    )
    outputs = h.change(DOOR, 1)
    assert len(sets(outputs)) == 500  # what it did before the limit stands
    assert h.core.status.last_error == "more than 500 steps without a wait; stopped"
    assert h.state is State.ERROR


def test_a_run_of_exactly_the_step_limit_ends_normally() -> None:
    # 5 steps with a limit of 5 is not "more than 5": the run had done them all
    # (a repeat count: 10000 of one action failed at its very end).
    h = harness(
        scenario(
            [m.RepeatAction((m.SetAction("/x", 1),), count=5)], [m.EventTrigger(DOOR)]
        ),
        step_limit=5,
    )
    assert len(sets(h.change(DOOR, 1))) == 5
    assert h.state is State.IDLE
    assert h.core.status.last_error is None


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    "body",
    [
        (m.ConditionAction(compile_expression("true")),),  # holds: nothing to do
        (
            m.ChooseAction(
                (m.Branch(compile_expression("false"), (m.LogAction("x"),)),)
            ),
        ),
        (m.WaitUntilAction(compile_expression("true")),),  # already true: no wait
        (m.RepeatAction((m.ConditionAction(compile_expression("true")),), count=3),),
        # ends at once: each pass paused for the next tick, which came at once, and
        # the actor spun for ever, never counted against the limit
        (m.WaitAction(0.0),),
    ],
    ids=["condition", "choose-none", "wait_until-true", "nested-repeat", "wait-0"],
)
def test_a_repeat_whose_passes_do_nothing_is_stopped_by_the_step_limit(
    body: tuple[m.Action, ...],
) -> None:
    # Such a loop yields no step; it held the scenario's actor (and its thread)
    # forever instead of failing the run.
    h = harness(
        scenario(
            [m.RepeatAction(body, while_=compile_expression("true"))],
            [m.EventTrigger(DOOR)],
        ),
        step_limit=500,
    )
    h.change(DOOR, 1)
    assert h.core.status.last_error == "more than 500 steps without a wait; stopped"
    assert h.state is State.ERROR


def test_a_repeat_of_empty_passes_within_the_limit_ends_normally() -> None:
    h = harness(
        scenario(
            [
                m.RepeatAction(
                    (m.ConditionAction(compile_expression("true")),), count=400
                ),
                m.SetAction("/x", 1),
            ],
            [m.EventTrigger(DOOR)],
        ),
        step_limit=500,
    )
    assert sets(h.change(DOOR, 1)) == [run.SetKey("/x", 1)]
    assert h.state is State.IDLE


def test_a_repeat_whose_only_pauses_are_requests_is_stopped_by_the_step_limit() -> None:
    """A reply is no wait: `repeat while true: toggle` clicked a relay as fast as it
    answered, for ever (20,000 requests in a property test). Requests now count
    toward the step limit, across the replies, until a real pause."""
    h = harness(
        scenario(
            [
                m.RepeatAction(
                    (m.DeviceAction(LAMP, "toggle"),),
                    while_=compile_expression("true"),
                )
            ],
            [m.EventTrigger(DOOR)],
        ),
        step_limit=50,
    )
    outputs = h.change(DOOR, 1)
    sent = 0
    while pending := requests(outputs):
        assert sent < 100, "the loop was never stopped"
        sent += 1
        outputs = h.reply(pending[0], b"200")
    assert h.core.status.last_error == "more than 50 steps without a wait; stopped"
    assert h.state is State.ERROR


def test_requests_between_waits_do_not_add_up_to_the_limit() -> None:
    """Each wait starts the count again: a blink of a lamp every second for ever is
    no runaway."""
    h = harness(
        scenario(
            [
                m.RepeatAction(
                    (m.DeviceAction(LAMP, "toggle"), m.WaitAction(1.0)),
                    while_=compile_expression("true"),
                )
            ],
            [m.EventTrigger(DOOR)],
        ),
        step_limit=10,
    )
    outputs = h.change(DOOR, 1)
    for _ in range(30):
        [request] = requests(outputs)
        h.reply(request, b"200")
        outputs = h.advance(1.0)
    assert h.core.status.last_error is None
    assert h.core.running


def test_a_repeat_with_a_wait_is_not_limited() -> None:
    h = harness(
        scenario(
            [m.RepeatAction((m.SetAction("/x", 1), m.WaitAction(1)), count=20)],
            [m.EventTrigger(DOOR)],
        ),
        step_limit=5,
    )
    h.change(DOOR, 1)
    for _ in range(20):
        h.advance(1)
    assert len(sets(h.outputs)) == 20
    assert h.state is State.IDLE


def test_a_bad_template_fails_the_run_with_its_reason() -> None:
    h, _ = _fired(m.SetAction("/x/{nothing}", 1))
    assert h.state is State.ERROR
    assert (
        h.core.status.last_error
        == "set: key: unknown name 'nothing' (at offset 3 of '/x/{nothing}')"
    )


def test_a_key_the_tree_would_refuse_fails_the_run() -> None:
    h, outputs = _fired(m.SetAction("{trigger.value}/x", 1))
    assert sets(outputs) == []
    assert h.core.status.last_error == (
        "set: key \"front/x\": key 'front/x' is not /-rooted"
    )


def test_an_error_is_left_behind_by_the_next_good_run() -> None:
    h, _ = _fired(m.SetAction("/x/{nothing}", 1))
    assert h.state is State.ERROR
    h.core = engine.ScenarioCore(
        scenario([m.SetAction("/x", 1)], [m.EventTrigger(DOOR)]),
        engine.EngineSettings("hub", h.core._settings.tz),
        kv=h.tree.get,
        sun=lambda event, wall: None,
        rng=random.Random(SEED),
        status=h.core.status,
    )
    h.change(DOOR, 2)
    assert h.core.status.state is State.IDLE
    assert h.core.status.runs == 2


# --- conditions and the actions that evaluate expressions --------------------------------
def test_conditions_must_all_hold_for_a_trigger_to_start_a_run() -> None:
    conditions = (
        compile_expression("kv('/device/{host}.fake.lamp/value') == false"),
        compile_expression("trigger.value == 'front'"),
    )
    h = harness(
        scenario([m.SetAction("/x", 1)], [m.EventTrigger(DOOR)], conditions=conditions),
        tree={"/device/hub.fake.lamp/value": True},
    )
    first = "condition 1 is false: kv('/device/{host}.fake.lamp/value') == false"
    assert h.change(DOOR, "front")[0] == engine.Skipped(first)
    h.tree["/device/hub.fake.lamp/value"] = False
    second = "condition 2 is false: trigger.value == 'front'"
    assert h.change(DOOR, "back")[0] == engine.Skipped(second)
    assert sets(h.change(DOOR, "front")) == [run.SetKey("/x", 1)]


def test_the_last_trigger_that_started_no_run_is_in_the_status_and_says_why() -> None:
    """ "Why did it not run?" had no answer but a debug log line: the status now
    keeps the last skip (when, why, which trigger); a run does not clear it, and a
    new version of the scenario (a status handed over) keeps it too."""
    door_open = compile_expression("trigger.value == 'open'")
    h = harness(
        scenario([m.WaitAction(60.0)], [m.EventTrigger(DOOR)], conditions=(door_open,)),
    )
    before = h.core.status
    assert before.last_skip is None
    h.change(DOOR, "shut")
    skip = h.core.status.last_skip
    assert skip is not None
    assert skip["at"] == h.wall
    assert skip["reason"] == "condition 1 is false: trigger.value == 'open'"
    trigger = skip["trigger"]
    assert isinstance(trigger, dict)
    assert (trigger["kind"], trigger["key"], trigger["value"]) == (
        "event",
        DOOR,
        "shut",
    )
    outputs = h.change(DOOR, "open")  # a run starts and waits: mode single is busy
    assert engine.StatusChanged(h.core.status) in outputs
    assert h.core.status.last_skip == skip
    h.advance(1.0)
    h.change(DOOR, "closed")
    h.change(DOOR, "open")
    busy = h.core.status.last_skip
    assert busy is not None
    assert busy["reason"] == "a run is under way (mode single)"
    assert busy["at"] == h.wall
    handed = engine.ScenarioCore(
        h.core.scenario,
        h.core._settings,
        kv=h.tree.get,
        sun=lambda event, wall: None,
        rng=random.Random(SEED),
        status=h.core.status,
    )
    assert handed.status.last_skip == busy


def test_a_condition_that_cannot_be_evaluated_puts_the_scenario_in_error() -> None:
    conditions = (compile_expression("kv('/missing') > 3"),)
    h = harness(
        scenario([m.SetAction("/x", 1)], [m.EventTrigger(DOOR)], conditions=conditions)
    )
    outputs = h.change(DOOR, 1)
    assert sets(outputs) == []
    assert h.core.status.state is State.ERROR
    error = (
        "condition 1: expression \"kv('/missing') > 3\": "
        "cannot compare null > 3 (at offset 15)"
    )
    assert h.core.status.last_error == error
    assert engine.RunEnded(0, error) in outputs


def test_a_condition_that_tests_again_without_a_fault_shows_idle_again() -> None:
    """As a `when:` trigger's fault that ended: a condition that faulted at one
    trigger and is false at the next (the sensor back) is no error any more; the
    last error and its time are kept, and only the state changes."""
    conditions = (compile_expression("kv('/t') < 18"),)
    h = harness(
        scenario([m.SetAction("/x", 1)], [m.EventTrigger(DOOR)], conditions=conditions)
    )
    h.change(DOOR, 1)
    faulted = h.core.status
    assert faulted.state is State.ERROR
    h.tree["/t"] = 20.0
    h.wall += 1
    outputs = h.change(DOOR, 2)
    assert outputs == [
        engine.Skipped("condition 1 is false: kv('/t') < 18"),
        engine.StatusChanged(
            dataclasses.replace(
                faulted, state=State.IDLE, last_skip=h.core.status.last_skip
            )
        ),
    ]
    assert (h.core.status.last_error_at, h.core.status.last_error) == (
        faulted.last_error_at,
        faulted.last_error,
    )


def test_choose_takes_the_first_branch_that_holds_else_the_otherwise() -> None:
    choose = m.ChooseAction(
        (
            m.Branch(compile_expression("trigger.value == 1"), (m.SetAction("/x", 1),)),
            m.Branch(compile_expression("trigger.value < 5"), (m.SetAction("/x", 2),)),
        ),
        otherwise=(m.SetAction("/x", 3),),
    )
    h = harness(scenario([choose], [m.EventTrigger(DOOR)]))
    assert sets(h.change(DOOR, 1)) == [run.SetKey("/x", 1)]
    assert sets(h.change(DOOR, 2)) == [run.SetKey("/x", 2)]
    assert sets(h.change(DOOR, 9)) == [run.SetKey("/x", 3)]


def test_a_false_condition_action_ends_the_run_quietly() -> None:
    h, outputs = _fired(
        m.RepeatAction(
            (m.ConditionAction(compile_expression("trigger.value == 'back'")),),
            count=2,
        ),
        m.SetAction("/x", 1),
    )
    assert sets(outputs) == []
    assert h.state is State.IDLE
    assert engine.RunEnded(1, None) in outputs


def test_repeat_while_and_until_read_the_tree_each_turn() -> None:
    count = "/count"
    h = harness(
        scenario(
            [
                m.RepeatAction(
                    (m.SetAction("/tick", 1), m.WaitAction(1)),
                    while_=compile_expression("kv('/count') < 3"),
                ),
                m.RepeatAction(
                    (m.SetAction("/tock", 1),),
                    until=compile_expression("true"),
                ),
            ],
            [m.EventTrigger(DOOR)],
        ),
        tree={count: 0},
    )
    h.change(DOOR, 1)
    for value in (1, 2, 3):
        h.tree[count] = value
        h.advance(1)
    assert [s.key for s in sets(h.outputs)] == ["/tick"] * 3 + ["/tock"]


def test_wait_until_resumes_when_the_tree_makes_it_true() -> None:
    level = "/device/hub.fake.living/value"
    h = harness(
        scenario(
            [
                m.WaitUntilAction(compile_expression(f"kv('{level}') > target"), 60),
                m.SetAction("/warm", True),
            ],
            [m.EventTrigger(DOOR)],
            variables={"target": 19.5},
        ),
        tree={level: 18},
    )
    h.change(DOOR, 1)
    assert h.core.next_deadline() == h.mono + 60
    assert sets(h.change(level, 19)) == []
    assert sets(h.change(level, 20)) == [run.SetKey("/warm", True)]


def test_wait_until_fails_at_its_timeout_unless_told_to_go_on() -> None:
    never = compile_expression("false")
    h, _ = _fired(m.WaitUntilAction(never, 30), m.SetAction("/x", 1))
    assert sets(h.advance(30)) == []
    assert h.core.status.last_error == 'wait_until "false" timed out after 30s'
    h2, _ = _fired(
        m.WaitUntilAction(never, 30, continue_on_timeout=True), m.SetAction("/x", 1)
    )
    assert sets(h2.advance(30)) == [run.SetKey("/x", 1)]


def test_an_expression_fault_in_an_action_fails_the_run() -> None:
    h, _ = _fired(m.ConditionAction(compile_expression("1 / 0 == 1")))
    assert h.state is State.ERROR
    assert h.core.status.last_error == (
        "condition: expression '1 / 0 == 1': division by zero in 1 / 0 (at offset 2)"
    )


@pytest.mark.parametrize("given", [float("inf"), float("nan"), [1, float("-inf")]])
def test_a_value_json_cannot_hold_fails_the_run_as_an_expression_does(
    given: JsonValue,
) -> None:
    """A tree body `1e400` reads as an infinity: `value: "{trigger.value}"` wrote
    the body `Infinity`, which is no JSON, where `expr:` fails the run."""
    key = "/event/x"
    for action in (
        m.SetAction(key, "{trigger.value}"),
        m.EventAction(key, "{trigger.value}"),
    ):
        h = harness(
            scenario([action, m.SetAction("/after", 1)], [m.EventTrigger(DOOR)])
        )
        outputs = h.change(DOOR, given)
        assert [
            o for o in outputs if isinstance(o, run.SetKey | run.PublishEvent)
        ] == []
        assert h.state is State.ERROR
        verb = "set" if isinstance(action, m.SetAction) else "event"
        assert h.core.status.last_error == (
            f'{verb}: key "{key}": the value is not a finite number'
            if isinstance(given, float)
            else f'{verb}: key "{key}": the value holds a number that is not finite'
        )


def test_a_device_value_json_cannot_hold_fails_the_run_and_is_not_sent() -> None:
    h = harness(
        scenario(
            [m.DeviceAction(LAMP, "set", "{trigger.value}")], [m.EventTrigger(DOOR)]
        )
    )
    assert requests(h.change(DOOR, float("inf"))) == []
    assert h.core.status.last_error == (
        f"device {LAMP}: set: the value is or holds a number that is not finite"
    )


@pytest.mark.parametrize("titanic", [False, True])
@pytest.mark.parametrize(
    ("frame", "given", "offset"),
    [
        ("{trigger.value}", float("inf"), 0),
        ('{{"v": 1, "value": {trigger.value:.1f}}}', float("nan"), 19),
        ("{trigger.value}", [1, float("-inf")], 0),
    ],
)
def test_a_call_frame_filled_with_a_number_json_has_not_fails_and_sends_nothing(
    frame: str, given: JsonValue, offset: int, titanic: bool
) -> None:
    """A tree body `1e400` reads as an infinity: a frame `{trigger.value}` was sent
    as the text `Infinity`, which is no JSON, where a device's value fails the run.
    The failure names the call, the frame and the field."""
    h = harness(
        scenario(
            [m.CallAction("hub.echo", ("hi", frame), titanic)], [m.EventTrigger(DOOR)]
        )
    )
    assert requests(h.change(DOOR, given)) == []
    assert h.state is State.ERROR
    assert h.core.status.last_error == (
        "call hub.echo: body frame 2: {trigger.value} is or holds a number that is "
        f"not finite (at offset {offset} of '{frame}')"
    )


_NOT_FINITE = "{trigger.value} is or holds a number that is not finite"


@pytest.mark.parametrize(
    ("action", "reason"),
    [
        (
            m.SetAction("/note", "temp is {trigger.value}"),
            f"set /note: value: {_NOT_FINITE} (at offset 8 of 'temp is {{trigger.value}}')",
        ),
        (
            m.SetAction("/note/{trigger.value}", 1),
            f"set: key: {_NOT_FINITE} (at offset 6 of '/note/{{trigger.value}}')",
        ),
        (
            m.DeleteAction("/note/{trigger.value}"),
            f"delete: key: {_NOT_FINITE} (at offset 6 of '/note/{{trigger.value}}')",
        ),
        (
            m.EventAction("/event/note", {"t": "temp is {trigger.value:.1f}"}),
            f"event /event/note: value: {_NOT_FINITE} "
            "(at offset 8 of 'temp is {trigger.value:.1f}')",
        ),
        (
            m.LogAction("temp is {trigger.value}", "info"),
            f"log: {_NOT_FINITE} (at offset 8 of 'temp is {{trigger.value}}')",
        ),
        (
            m.DeviceAction("{host}.fake.{trigger.value}", "on"),
            f"device: {_NOT_FINITE} (at offset 12 of '{{host}}.fake.{{trigger.value}}')",
        ),
        (
            m.DeviceAction(LAMP, "level", ["at {trigger.value}"]),
            f"device {LAMP} level: value: {_NOT_FINITE} "
            "(at offset 3 of 'at {trigger.value}')",
        ),
        (
            m.RunAction("other-{trigger.value}"),
            f"run: {_NOT_FINITE} (at offset 6 of 'other-{{trigger.value}}')",
        ),
        (
            m.CallAction("{trigger.value}.echo", ()),
            f"call: {_NOT_FINITE} (at offset 0 of '{{trigger.value}}.echo')",
        ),
    ],
    ids=[
        "set",
        "set-key",
        "delete",
        "event",
        "log",
        "device",
        "device-value",
        "run",
        "call",
    ],
)
def test_a_text_filled_with_a_number_json_has_not_fails_naming_action_and_field(
    action: m.Action, reason: str
) -> None:
    """A tree body `1e400` reads as an infinity: a text `temp is {trigger.value}`
    was written `temp is Infinity`, where the same field alone fails the run. The
    reason named the template alone, not the action whose field it is (a `call:`
    frame's named both)."""
    h = harness(scenario([action, m.SetAction("/after", 1)], [m.EventTrigger(DOOR)]))
    outputs = h.change(DOOR, float("inf"))
    assert [
        o
        for o in outputs
        if isinstance(o, run.SetKey | run.PublishEvent | run.Log | run.SendRequest)
    ] == []
    assert h.state is State.ERROR
    assert h.core.status.last_error == reason


def test_a_value_over_the_trees_limit_fails_the_run_naming_key_and_limit() -> None:
    """The tree drops a value over [clone] max_value_bytes after the fact: the run
    fails at the set, so it is not reported as a success with the key missing."""
    big = "x" * (64 * 1024)
    h, outputs = _fired(m.SetAction("/big", big), m.SetAction("/after", 1))
    assert sets(outputs) == []
    assert h.core.status.last_error == (
        'set: key "/big": a value of 65538 bytes is over [clone] max_value_bytes'
        " (65536)"
    )
    h2, outputs = _fired(m.EventAction("/event/big", big))
    assert h2.core.status.last_error is not None
    assert h2.core.status.last_error.startswith('event: key "/event/big": a value')


def test_set_and_event_with_null_write_json_null() -> None:
    """null is a value: the effect carries it (the actor stores b"null"); only the
    delete action deletes. An event's `value: null` written out was published as
    `true`, the value of an event without one."""
    _, outputs = _fired(m.SetAction("/n", None), m.EventAction("/event/n", None))
    assert sets(outputs) == [run.SetKey("/n", None, 0.0)]
    assert [o for o in outputs if isinstance(o, run.PublishEvent)] == [
        run.PublishEvent("/event/n", None)
    ]


def test_a_refused_run_action_shows_as_the_scenarios_error_until_a_run_succeeds() -> (
    None
):
    """The owner carries a `run:` out after the run went on; when it cannot, the
    scenario says so in its state and last error, not the log alone."""
    h, _ = _fired(m.RunAction("other"))
    assert h.state is State.IDLE
    shown = h.feed(h.core.action_refused("run: no scenario named 'other'"))
    assert [o.status.state for o in shown if isinstance(o, engine.StatusChanged)] == [
        State.ERROR
    ]
    assert h.core.status.last_error == "run: no scenario named 'other'"
    h.change(DOOR, "back")  # the next run that ends well clears the error state
    assert h.state is State.IDLE


def test_a_refusal_after_a_runaway_disable_keeps_the_disable_reason() -> None:
    h = harness(
        scenario([m.RunAction("other")], [m.EventTrigger(DOOR)]),
        max_runs_per_minute=1,
    )
    h.change(DOOR, "a")
    h.change(DOOR, "b")  # the second run in a minute: disabled
    assert h.state is State.DISABLED
    reason = h.core.status.last_error
    h.feed(h.core.action_refused("run: no scenario named 'other'"))
    assert (h.state, h.core.status.last_error) == (State.DISABLED, reason)


# --- the last run's trace ------------------------------------------------------------
def test_the_last_run_s_trace_says_what_it_did_at_what_time_and_how_it_ended() -> None:
    """ "Why did it do that?": the status keeps the last ended run's actions, a line
    each, at its time since the run began: what was set, what a device answered,
    which choice was taken, where a condition ended it."""
    warm = compile_expression("trigger.value == 'warm'")
    h, outputs = _fired(
        m.DeviceAction("{host}.fake.lamp", "on"),
        m.WaitAction(300.0),
        m.ChooseAction(
            (m.Branch(warm, (m.SetAction("/x", "warm"),)),),
            (m.SetAction("/x", "{trigger.value}"),),
        ),
        m.ConditionAction(warm),
        m.SetAction("/never", 1),
    )
    [request] = requests(outputs)
    h.advance(0.5)
    h.reply(request, b"200", b"{}")
    h.advance(300.0)
    assert h.core.status.last_trace == (
        "+0.0s device hub.fake.lamp on",
        "+0.5s device hub.fake.lamp: 200",
        "+0.5s wait 300s",
        "+300.5s choose: else",
        "+300.5s set /x = front",
        "+300.5s condition trigger.value == 'warm': false, the run ends",
        "+300.5s done",
    )


def test_a_command_a_device_holds_shows_in_the_trace_and_the_run_goes_on() -> None:
    """A GPIO switch held by its min_off_s answers 200 with what it holds: the
    step is done (the switch goes on by itself), and the trace says when."""
    h, outputs = _fired(m.DeviceAction(LAMP, "on"), m.SetAction("/x", "after"))
    [request] = requests(outputs)
    held = "off for 40s of min_off_s 300s: on in 260s"
    body = {"v": 1, "action": "on", "pending": {"state": True, "detail": held}}
    h.reply(request, b"200", json.dumps(body).encode())
    assert h.core.status.last_trace == (
        f"+0.0s device {LAMP} on",
        f"+0.0s device {LAMP}: 200 held ({held})",
        "+0.0s set /x = after",
        "+0.0s done",
    )


def test_a_failed_or_stopped_run_s_trace_says_so_and_a_long_one_is_cut() -> None:
    """A device line names the value sent too (a dimmer's level, a volume): the
    line said only `set`, and what the run asked of the device was not told."""
    h, outputs = _fired(m.DeviceAction(LAMP, "set", 7))
    [request] = requests(outputs)
    h.reply(request, b"400")
    assert h.core.status.last_trace == (
        f"+0.0s device {LAMP} set 7",
        f"+0.0s device {LAMP}: 400",
        f"+0.0s failed: device {LAMP}: set answered 400",
    )
    late, outputs = _fired(m.DeviceAction(LAMP, "on"))
    late.advance(5.0)  # no answer: the request times out
    assert late.core.status.last_trace[-1] == (
        f"+5.0s failed: device {LAMP}: on: hub.fake.devices did not answer within 5s"
    )
    busy = harness(
        scenario(
            [m.RepeatAction((m.SetAction("/n", 1),), count=80), m.WaitAction(60.0)],
            [m.EventTrigger(DOOR)],
            mode=m.Mode.RESTART,
        )
    )
    busy.change(DOOR, 1)
    busy.change(DOOR, 2)  # restart: the first run is stopped
    trace = busy.core.status.last_trace
    assert len(trace) == run.TRACE_LINES + 2
    assert trace[-2:] == ("... 31 more lines", "+0.0s stopped")


def test_a_long_run_writes_out_no_trace_line_past_the_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A note per action is on the engine's hot path: past TRACE_LINES a line is only
    counted, its value not written out (each value's JSON was made, to be cut at
    TRACE_VALUE_CHARS and dropped: 10,000 sets of a 40 KB value took 30% longer)."""
    written: list[object] = []
    short = run_scope.short

    def counted(value: JsonValue) -> str:
        written.append(value)
        return short(value)

    monkeypatch.setattr(run_walk, "short", counted)
    big: JsonValue = {"text": "x" * 1000}
    h, _ = _fired(m.RepeatAction((m.SetAction("/n", big),), count=500))
    assert len(written) == run.TRACE_LINES
    assert h.core.status.last_trace[-2:] == ("... 450 more lines", "+0.0s done")


def test_a_trace_line_is_cut_however_long_what_it_names() -> None:
    """A value is cut at TRACE_VALUE_CHARS, and so is a whole line: a scenario's, a
    service's or a device's name is a template, and one filled from a large value
    (64 KB a key of the tree) was kept whole, fifty times over, in the status."""
    actions: list[m.Action] = [
        m.RunAction("{trigger.value}"),
        m.DeviceAction("hub.fake.{trigger.value}", "{trigger.value}"),
    ]
    h = harness(scenario(actions, [m.EventTrigger(DOOR)]))
    h.change(DOOR, "n" * 5000)
    h.advance(5.0)  # the device's request times out: the run ends
    trace = h.core.status.last_trace
    assert max(map(len, trace)) <= run.TRACE_LINE_CHARS, [len(t) for t in trace]
    assert trace[0].endswith("n…")
    assert len(trace) == 3


def test_the_line_of_a_failure_is_cut_as_every_other_line() -> None:
    """A run's reason is kept to 500 characters, and a device's name filled from a
    large value makes one that long: the trace's `failed:` line was kept whole
    past TRACE_LINE_CHARS."""
    h = harness(
        scenario(
            [m.DeviceAction("hub.fake.{trigger.value}", "on")], [m.EventTrigger(DOOR)]
        )
    )
    [request] = requests(h.change(DOOR, "n" * 5000))
    h.reply(request, b"400")
    *_, failed = h.core.status.last_trace
    assert failed.startswith("+0.0s failed: device hub.fake.nnn")
    assert len(failed) == run.TRACE_LINE_CHARS


def test_a_stopped_run_s_trace_says_when_it_was_stopped() -> None:
    """`stopped` is at the time of the stop: a run stopped in the middle of a wait
    of ten minutes said `+0.0s stopped`, the time of its last step."""
    h, _ = _fired(m.WaitAction(600.0), m.SetAction("/never", 1))
    h.advance(120.0)
    h.feed(h.core.stop(h.mono))
    assert h.core.status.last_trace == ("+0.0s wait 600s", "+120.0s stopped")
    restarted = harness(
        scenario([m.WaitAction(600.0)], [m.EventTrigger(DOOR)], mode=m.Mode.RESTART)
    )
    restarted.change(DOOR, 1)
    restarted.mono += 30.0
    restarted.change(DOOR, 2)  # restart: the first run is stopped now
    assert restarted.core.status.last_trace[-1] == "+30.0s stopped"


def test_a_condition_that_fails_shows_in_the_trace_not_the_run_before() -> None:
    """A condition fault sets last_error and starts no run: the trace still showed
    the run before, ending `done`, under the error."""
    h = harness(
        scenario(
            [m.SetAction("/x", 1)],
            [m.EventTrigger(DOOR)],
            conditions=(compile_expression("trigger.value > 5"),),
        )
    )
    h.change(DOOR, 7)
    assert h.core.status.last_trace[-1] == "+0.0s done"
    h.change(DOOR, "seven")
    assert h.core.status.last_trace == (f"+0.0s failed: {h.core.status.last_error}",)
    assert h.core.status.state is State.ERROR


def test_a_fault_in_a_choice_of_several_names_the_choice() -> None:
    """A thermostat's choose of three tests failed as `choose: expression "kv(…"…`,
    the text cut short before it said which of the three it was."""
    mark = [m.SetAction("/x", 1)]
    several = m.ChooseAction(
        (
            m.Branch(compile_expression("trigger.value == 'back'"), tuple(mark)),
            m.Branch(compile_expression("trigger.value > 20"), tuple(mark)),
        )
    )
    h, _ = _fired(several)
    assert h.core.status.last_error == (
        "choose choice 2: expression 'trigger.value > 20': cannot compare 'front'"
        " > 20 (at offset 14)"
    )
    h, _ = _fired(m.ChooseAction(several.branches[1:]))
    assert h.core.status.last_error == (
        "choose: expression 'trigger.value > 20': cannot compare 'front' > 20"
        " (at offset 14)"
    )
