"""A scenario written from another system's habit (Home Assistant's words, a clock's
`00:03:00` for a duration, Jinja's braces) is refused with raspy's way of saying it,
at its line and column: a spelling hint cannot get from `delay` to `wait`."""

from __future__ import annotations

import pytest

from raspy.rules.document import validate_scenario

HOME_ASSISTANT = """\
name: hall
triggers:
  - platform: state
    entity_id: binary_sensor.motion
    to: "on"
actions:
  - delay: 5s
  - service: light.turn_on
  - repeat:
      count: 3
      sequence: [{log: x}]
  - choose:
      - conditions: "true"
        sequence: [{log: y}]
    default: [{log: z}]
  - event: /event/x
    event_data: {a: 1}
  - if:
      - condition: state
    then: [{log: x}]
  - wait: 1s
    alias: short
"""


def test_home_assistant_s_words_are_told_raspy_s_at_their_place() -> None:
    kinds = "kv, when, event, cron, at, every, sun or startup"
    assert validate_scenario(HOME_ASSISTANT, "s.yaml") == [
        f"s.yaml:3:5: triggers[0]: unknown key 'platform' (Home Assistant's; a raspy"
        f" trigger starts with its kind: {kinds}, e.g. kv:"
        " /device/<host>.<service>.<name>/value)",
        "s.yaml:4:5: triggers[0]: unknown key 'entity_id' (Home Assistant's word;"
        " raspy's is 'kv')",
        "s.yaml:7:5: actions[0]: unknown key 'delay' (Home Assistant's word; raspy's"
        " is 'wait')",
        "s.yaml:8:5: actions[1]: unknown key 'service' (Home Assistant's word; raspy's"
        " is 'device')",
        "s.yaml:11:7: actions[2].repeat: unknown key 'sequence' (Home Assistant's"
        " word; raspy's is 'actions')",
        "s.yaml:13:9: actions[3].choose[0]: unknown key 'conditions' (Home"
        " Assistant's word; raspy's is 'if')",
        "s.yaml:14:9: actions[3].choose[0]: unknown key 'sequence' (Home Assistant's"
        " word; raspy's is 'then')",
        "s.yaml:15:5: actions[3]: unknown key 'default' (Home Assistant's word;"
        " raspy's is 'else')",
        "s.yaml:17:5: actions[4]: unknown key 'event_data' (Home Assistant's word;"
        " raspy's is 'value')",
        "s.yaml:19:7: actions[5].if: expected an expression, got a list (one"
        " expression here: join the tests with and, e.g. kv('/a') == 1 and"
        " hour() >= 18)",
        # a word raspy takes nowhere near: no hint rather than a wrong one
        "s.yaml:22:5: actions[6]: unknown key 'alias'",
    ]


@pytest.mark.parametrize(
    ("written", "told"),
    [
        ('"00:03:00"', "got '00:03:00' (a clock's time: write 3m)"),
        ('"01:30:05"', "got '01:30:05' (a clock's time: write 1h30m5s)"),
        # a bare 1:30 is YAML 1.1's number 90 (base 60): it was taken as 90 seconds
        ("1:30", "got '1:30' (a clock's time: write 1h30m or 1m30s)"),
        ("2:00", "got '2:00' (a clock's time: write 2h or 2m)"),
        ('"1:x"', "got '1:x'"),
    ],
)
def test_a_duration_written_as_a_clock_is_refused_with_raspy_s_form(
    written: str, told: str
) -> None:
    text = f"name: a\nactions:\n  - wait: {written}\n"
    assert validate_scenario(text, "s.yaml") == [
        f"s.yaml:3:11: actions[0].wait: expected a duration like 90s, 5m or 1h30m, {told}"
    ]


def test_a_bare_clock_is_refused_in_a_for_hold_too_and_a_time_of_day_still_reads() -> (
    None
):
    text = (
        "name: a\ntriggers:\n  - at: 7:30\n  - kv: /x\n    for: 3:00\n"
        "actions: [{log: x}]\n"
    )
    assert validate_scenario(text, "s.yaml") == [
        "s.yaml:5:10: triggers[1].for: expected a duration like 90s, 5m or 1h30m,"
        " got '3:00' (a clock's time: write 3h or 3m)"
    ]


def test_jinja_braces_around_an_expression_and_a_computation_in_a_template() -> None:
    text = (
        "name: a\nconditions:\n  - \"{{ kv('/house/away') == true }}\"\n"
        'actions:\n  - set: /x\n    value: "{trigger.value * 10}"\n'
        '  - log: "a {x y} b"\n'
    )
    assert validate_scenario(text, "s.yaml") == [
        "s.yaml:3:6: conditions[0]: unexpected character '{' (an expression has no"
        " braces around it)",
        "s.yaml:6:13: actions[0].value: {trigger.value * 10} is no field: a template"
        " names a value ({trigger.value}) and computes none (the expr: of a set,"
        " device, event or http action does)",
        "s.yaml:7:13: actions[1].log: '{' starts no {name} field (write '{{' and"
        " '}}' for braces)",
    ]


def test_a_template_trigger_s_value_template_is_told_raspy_s_when() -> None:
    text = "name: a\ntriggers:\n  - value_template: x\nactions: [{wait: 1s}]\n"
    assert validate_scenario(text, "s.yaml") == [
        "s.yaml:3:5: triggers[0]: unknown key 'value_template' (Home Assistant's"
        " word; raspy's is 'when')"
    ]


def test_home_assistant_s_duration_mapping_is_refused_with_raspy_s_form() -> None:
    """`for: {minutes: 5}`, as Home Assistant writes a duration, is told raspy's
    text for it at a for:, a timeout: and a wait:, where a wait's `minutes` was
    told "did you mean 'min'?", the key of a random wait, which is no help."""
    text = (
        "name: a\ntriggers:\n"
        "  - kv: /x\n    for: {minutes: 5}\n"
        "  - when: \"kv('/x') < 3\"\n    for: {hours: 1, minutes: 30}\n"
        "actions:\n"
        "  - wait: {minutes: 5}\n"
        "  - wait: {milliseconds: 250}\n"
        "  - wait_until: \"kv('/x') == 1\"\n    timeout: {seconds: 1.5}\n"
        "  - wait: {min: 1m, max: 2m}\n"  # a random wait, as before
        "  - wait: {minutes: 5, foo: 1}\n"  # not Home Assistant's: as before
    )
    told = "expected a duration like 90s, 5m or 1h30m, got a mapping (Home Assistant's"
    assert validate_scenario(text, "s.yaml") == [
        f"s.yaml:4:10: triggers[0].for: {told} form: write 5m)",
        f"s.yaml:6:10: triggers[1].for: {told} form: write 1h30m)",
        f"s.yaml:8:11: actions[0].wait: {told} form: write 5m)",
        f"s.yaml:9:11: actions[1].wait: {told} form: write 250ms)",
        f"s.yaml:11:14: actions[2].timeout: {told} form: write 1.5s)",
        "s.yaml:13:12: actions[4].wait: unknown key 'minutes' (did you mean 'min'?)",
        "s.yaml:13:24: actions[4].wait: unknown key 'foo'",
    ]


def test_every_duration_field_tells_home_assistant_s_mapping_its_form() -> None:
    """A sun trigger's `offset: {minutes: 15}` (and an `every:`) was still told
    "expected a value, got a mapping": each field that takes a duration says it;
    an offset, which may be negative, as an offset."""
    text = (
        "name: a\ntriggers:\n"
        "  - sun: sunset\n    offset: {minutes: 15}\n"
        "  - sun: sunrise\n    offset: {minutes: -15}\n"
        "  - every: {hours: 2}\n"
        "actions:\n"
        "  - set: /x\n    value: 1\n    ttl: {seconds: 30}\n"
        "  - device: '{host}.fake.lamp'\n    action: 'on'\n    timeout: {seconds: 3}\n"
        "  - call: '{host}.echo'\n    timeout: {seconds: 2}\n"
        "  - http: https://ntfy.sh/x\n    timeout: {seconds: 20}\n"
        "  - wait: {min: {minutes: 1}, max: 2m}\n"
    )
    told = "got a mapping (Home Assistant's form: write"
    duration = f"expected a duration like 90s, 5m or 1h30m, {told}"
    offset = f"expected an offset like -15m or 30s, {told}"
    assert validate_scenario(text, "s.yaml") == [
        f"s.yaml:4:13: triggers[0].offset: {offset} 15m)",
        f"s.yaml:6:13: triggers[1].offset: {offset} -15m)",
        f"s.yaml:7:12: triggers[2].every: {duration} 2h)",
        f"s.yaml:11:10: actions[0].ttl: {duration} 30s)",
        f"s.yaml:14:14: actions[1].timeout: {duration} 3s)",
        f"s.yaml:16:14: actions[2].timeout: {duration} 2s)",
        f"s.yaml:18:14: actions[3].timeout: {duration} 20s)",
        f"s.yaml:19:17: actions[4].wait.min: {duration} 1m)",
    ]
    at = "name: a\ntriggers:\n  - at: {hours: 7}\nactions: [{log: x}]\n"
    assert validate_scenario(at, "s.yaml") == [  # no duration: as before
        "s.yaml:3:9: triggers[0].at: expected a value, got a mapping"
    ]
