"""Scenario documents as the issue #11 contract writes them -> rules.model values."""

from __future__ import annotations

import textwrap

import pytest

from raspy.rules import model
from raspy.rules.document import load_scenario, validate_scenario
from raspy.rules.expr import compile_expression

ISSUE_EXAMPLE = textwrap.dedent(
    """\
    name: heat-living              # [a-z0-9_-]{1,64}, unique
    description: Heater on when the living room is cold
    enabled: true                  # default true
    mode: single                   # single | restart | queued | parallel (+ max: N)
    variables: {target: 19.5}
    triggers:                      # any one fires the scenario
      - kv: "/device/*.fake.living/value"
        below: 19.5
        for: 60s
      - cron: "0 7 * * 1-5"
      - at: "23:00"
      - every: 10m
      - sun: sunset
        offset: -15m
      - event: "/event/doorbell/*"
      - startup: true
    conditions:
      - "kv('/device/{host}.fake.lamp/value') == false"
      - "between('06:00', '23:30')"
    actions:
      - device: "{host}.fake.lamp"
        action: set
        value: true
      - set: /scenario/heat-living/note
        value: "heating"
      - call: "{host}.echo"
        body: ["hello"]
      - wait: 5s
      - wait_until: "kv('/device/{host}.fake.living/value') > target"
        timeout: 30m
      - repeat: {count: 3, actions: [{wait: 1s}]}
      - choose: [{if: "trigger.value < 10", then: [{log: cold}]}]
        else: [{log: warm}]
      - event: /event/heating/on
      - run: other-scenario
      - log: "living is {trigger.value} °C"
    """
)


def test_the_issue_example_loads_into_the_model() -> None:
    """Issue #11 "Scenario documents": every key of the example maps onto the model."""
    c = compile_expression
    assert load_scenario(ISSUE_EXAMPLE, "heat.yaml") == model.Scenario(
        name="heat-living",
        description="Heater on when the living room is cold",
        enabled=True,
        mode=model.Mode.SINGLE,
        max_runs=10,
        variables={"target": 19.5},
        triggers=(
            model.KvTrigger("/device/*.fake.living/value", below=19.5, for_s=60.0),
            model.CronTrigger("0 7 * * 1-5"),
            model.AtTrigger(23 * 3600),
            model.EveryTrigger(600.0),
            model.SunTrigger(model.SunEvent.SUNSET, -900.0),
            model.EventTrigger("/event/doorbell/*"),
            model.StartupTrigger(),
        ),
        conditions=(
            c("kv('/device/{host}.fake.lamp/value') == false"),
            c("between('06:00', '23:30')"),
        ),
        actions=(
            model.DeviceAction("{host}.fake.lamp", "set", True),
            model.SetAction("/scenario/heat-living/note", "heating"),
            model.CallAction("{host}.echo", ("hello",)),
            model.WaitAction(5.0),
            model.WaitUntilAction(
                c("kv('/device/{host}.fake.living/value') > target"), 1800.0
            ),
            model.RepeatAction((model.WaitAction(1.0),), count=3),
            model.ChooseAction(
                (model.Branch(c("trigger.value < 10"), (model.LogAction("cold"),)),),
                (model.LogAction("warm"),),
            ),
            model.EventAction("/event/heating/on"),
            model.RunAction("other-scenario"),
            model.LogAction("living is {trigger.value} °C"),
        ),
        source_text=ISSUE_EXAMPLE,
    )


def test_source_text_is_the_document_byte_for_byte() -> None:
    """Issue #11: export gives the document back exactly, comments kept."""
    text = "# a comment\nname: x   # trailing\r\nactions: [{wait: 1s}]\n\n"
    assert load_scenario(text).source_text == text


def test_a_minimal_document_takes_the_defaults() -> None:
    assert load_scenario("name: x\nactions: [{log: hi}]\n") == model.Scenario(
        name="x",
        triggers=(),
        actions=(model.LogAction("hi"),),
        source_text="name: x\nactions: [{log: hi}]\n",
    )


def test_json_is_accepted_as_the_yaml_subset() -> None:
    text = '{"name": "j", "mode": "parallel", "max": 3, "triggers": [{"every": 90}],\n "actions": [{"event": "/event/j", "value": {"a": [1, null]}}]}'
    assert load_scenario(text) == model.Scenario(
        name="j",
        mode=model.Mode.PARALLEL,
        max_runs=3,
        triggers=(model.EveryTrigger(90.0),),
        actions=(model.EventAction("/event/j", {"a": [1, None]}),),
        source_text=text,
    )


@pytest.mark.parametrize(
    ("trigger", "expected"),
    [
        (
            "{kv: /a, to: 'on', from: null}",
            model.KvTrigger("/a", to="on", has_to=True, has_from=True),
        ),
        (
            "{kv: /a, above: 3, below: 5.5, id: warm}",
            model.KvTrigger("/a", below=5.5, above=3.0, id="warm"),
        ),
        (
            "{kv: '/device/{host}.x/value', to: false}",
            model.KvTrigger("/device/{host}.x/value", to=False, has_to=True),
        ),
        ("{cron: '@daily', id: d}", model.CronTrigger("@daily", "d")),
        ("{at: 06:30}", model.AtTrigger(6 * 3600 + 30 * 60)),
        ("{at: '7:05:09'}", model.AtTrigger(7 * 3600 + 5 * 60 + 9)),
        ("{every: 1h30m}", model.EveryTrigger(5400.0)),
        ("{sun: dawn}", model.SunTrigger(model.SunEvent.DAWN)),
        (
            "{sun: sunrise, offset: 20m}",
            model.SunTrigger(model.SunEvent.SUNRISE, 1200.0),
        ),
        ("{sun: dusk, offset: -90}", model.SunTrigger(model.SunEvent.DUSK, -90.0)),
        ("{event: '/event/{host}/*'}", model.EventTrigger("/event/{host}/*")),
        ("{startup: true, id: boot}", model.StartupTrigger("boot")),
    ],
)
def test_every_trigger_kind_maps_onto_the_model(
    trigger: str, expected: model.Trigger
) -> None:
    text = f"name: t\ntriggers: [{trigger}]\nactions: [{{wait: 0}}]\n"
    assert load_scenario(text).triggers == (expected,)


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        (
            "{device: '{host}.fake.dimmer', action: dim, value: 30, timeout: 2s}",
            model.DeviceAction("{host}.fake.dimmer", "dim", 30, 2.0),
        ),
        (
            "{device: pi.fake.lamp, action: toggle}",
            model.DeviceAction("pi.fake.lamp", "toggle"),
        ),
        (
            "{set: '/x/{trigger.key}', value: [1, '{now}'], ttl: 1m}",
            model.SetAction("/x/{trigger.key}", [1, "{now}"], 60.0),
        ),
        ("{set: /x, value: null}", model.SetAction("/x", None)),
        ("{delete: /x}", model.DeleteAction("/x")),
        (
            "{call: titanic.x, body: one, titanic: true, timeout: 10s}",
            model.CallAction("titanic.x", ("one",), True, 10.0),
        ),
        (
            "{call: pi.core.scenario, body: [{v: 1, action: list}, 5]}",
            model.CallAction("pi.core.scenario", ('{{"v":1,"action":"list"}}', "5")),
        ),
        ("{wait: 250ms}", model.WaitAction(0.25)),
        (
            "{wait_until: 'hour() > 6', continue_on_timeout: true, timeout: 5m}",
            model.WaitUntilAction(
                compile_expression("hour() > 6"), 300.0, True, reads_time=True
            ),
        ),
        (
            "{wait_until: \"kv('/x') == 1\"}",
            model.WaitUntilAction(compile_expression("kv('/x') == 1")),
        ),
        (
            "{repeat: {while: 'n < 3', actions: [{wait: 1s}]}}",
            model.RepeatAction(
                (model.WaitAction(1.0),), while_=compile_expression("n < 3")
            ),
        ),
        (
            "{repeat: {until: 'n > 3', actions: [{wait: 1s}]}}",
            model.RepeatAction(
                (model.WaitAction(1.0),), until=compile_expression("n > 3")
            ),
        ),
        (
            "{choose: [{if: 'n', then: []}, {if: 'not n', then: [{stop: other}]}]}",
            model.ChooseAction(
                (
                    model.Branch(compile_expression("n"), ()),
                    model.Branch(
                        compile_expression("not n"), (model.StopAction("other"),)
                    ),
                )
            ),
        ),
        ("{event: /event/x}", model.EventAction("/event/x", True)),
        ("{event: /event/x, value: null}", model.EventAction("/event/x", None)),
        (
            "{event: /event/x, value: {n: '{n}'}}",
            model.EventAction("/event/x", {"n": "{n}"}),
        ),
        ("{run: '{trigger.value}'}", model.RunAction("{trigger.value}")),
        (
            "{log: 'n={n} {{braces}}', level: warning}",
            model.LogAction("n={n} {{braces}}", "warning"),
        ),
        ("{condition: 'n > 1'}", model.ConditionAction(compile_expression("n > 1"))),
    ],
)
def test_every_action_kind_maps_onto_the_model(
    action: str, expected: model.Action
) -> None:
    text = f"name: a\nvariables: {{n: 1}}\nactions: [{action}]\n"
    assert load_scenario(text).actions == (expected,)


def test_a_single_condition_may_be_written_without_a_list() -> None:
    scenario = load_scenario(
        "name: c\nconditions: 'weekday() < 6'\nactions: [{wait: 1}]\n"
    )
    assert scenario.conditions == (compile_expression("weekday() < 6"),)


def test_yaml_words_for_booleans_are_booleans() -> None:
    text = "name: b\nenabled: off\nactions: [{set: /a, value: yes}]\n"
    scenario = load_scenario(text)
    assert (scenario.enabled, scenario.actions) == (
        False,
        (model.SetAction("/a", True),),
    )


def test_an_empty_choose_with_an_else_loads_and_always_takes_the_else() -> None:
    """Older raspy stored such texts, and ran them; refusing them stopped a
    household's scenario at the upgrade. Without an else it is still refused."""
    scenario = load_scenario(
        "name: e\nactions:\n  - choose: []\n    else: [{set: /a, value: 1}]\n"
    )
    assert scenario.actions == (model.ChooseAction((), (model.SetAction("/a", 1),)),)


def test_validate_gives_no_problems_for_a_good_document() -> None:
    assert validate_scenario(ISSUE_EXAMPLE, "heat.yaml") == []


def test_json_numbers_with_an_exponent_are_numbers_as_json_has_them() -> None:
    """YAML 1.1 reads `1e-05` and `1e+16` (no dot, as json.dumps and JavaScript
    write them) as text: a JSON document refused `below: 1e-05`, and stored the
    string "1e+16" as a `set`'s value. A quoted one is still text."""
    text = (
        '{"name": "j", "triggers": [{"kv": "/x", "below": 1e-05}],'
        ' "actions": [{"set": "/y", "value": 1e+16}, {"set": "/z", "value": "1e3"},'
        ' {"set": "/w", "value": 2.5E5}]}'
    )
    scenario = load_scenario(text, "j.json")
    trigger = scenario.triggers[0]
    assert isinstance(trigger, model.KvTrigger)
    values = [a.value for a in scenario.actions if isinstance(a, model.SetAction)]
    assert (trigger.below, values) == (1e-05, [1e16, "1e3", 250000.0])


def test_a_number_no_float_holds_is_refused_at_its_place() -> None:
    """math.isfinite() of a 400-digit integer raised OverflowError out of the
    loader, where every other bad number is a problem at its line and column."""
    text = "name: x\ntriggers:\n  - kv: /a\n    above: " + "9" * 400 + "\n"
    assert validate_scenario(text + "actions:\n  - log: hi\n", "x.yaml") == [
        "x.yaml:4:12: triggers[0].above: number out of range"
    ]
