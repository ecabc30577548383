"""rules.jinja_fields: Jinja's `{{ trigger.value }}` around a name a template
knows is a warning of an import, at its place; literal Jinja meant as such, a
brace around a field and braces around other text are not."""

from __future__ import annotations

from raspy.rules.document import load_scenario
from raspy.rules.jinja_fields import jinja_warnings

WARNS = """\
name: door
variables:
  room: hall
triggers:
  - event: /event/door
actions:
  - log: "door {{ trigger.value }}"
  - log: door {{ room }} at {{now}}
  - set: /note
    value: "{{ host | upper }}"
  - repeat:
      count: 2
      actions:
        - event: /event/pass
          value: "{{ repeat.index }}"
  - if: "true"
    then:
      - http: "https://example.org/{{ trigger.key }}"
        headers:
          Title: "{{trigger.kind}}"
        body: {text: "{{ trigger.nothing }}"}
  - run: "{{ room }}"
  - log: "at\\n{{ host }}"
"""


def test_jinja_fields_of_known_names_are_warned_at_their_place() -> None:
    """At the field for a text on one line as written; at the text's start for
    one with an escape; a filter is said to be none of raspy's."""
    found = jinja_warnings(load_scenario(WARNS, "d.yaml"), WARNS)
    assert found == [
        (
            7,
            16,
            "log: {{ trigger.value }} writes the name in braces ('{{' is a literal"
            " brace): raspy's field is {trigger.value}",
        ),
        (
            8,
            15,
            "log: {{ room }} writes the name in braces ('{{' is a literal brace):"
            " raspy's field is {room}",
        ),
        (
            8,
            29,
            "log: {{now}} writes the name in braces ('{{' is a literal brace):"
            " raspy's field is {now}",
        ),
        (
            10,
            13,
            "value: {{ host | upper }} writes the name in braces ('{{' is a literal"
            " brace): raspy's field is {host} (raspy has no filters: expr:"
            " computes a value)",
        ),
        (
            15,
            19,
            "value: {{ repeat.index }} writes the name in braces ('{{' is a literal"
            " brace): raspy's field is {repeat.index}",
        ),
        (
            18,
            36,
            "http: {{ trigger.key }} writes the name in braces ('{{' is a literal"
            " brace): raspy's field is {trigger.key}",
        ),
        (
            20,
            19,
            "Title: {{trigger.kind}} writes the name in braces ('{{' is a literal"
            " brace): raspy's field is {trigger.kind}",
        ),
        (
            21,
            23,
            "text: {{ trigger.nothing }} writes the name in braces ('{{' is a"
            " literal brace): raspy's field is {trigger.nothing}",
        ),
        (
            22,
            11,
            "run: {{ room }} writes the name in braces ('{{' is a literal brace):"
            " raspy's field is {room}",
        ),
        (
            23,
            10,
            "log: {{ host }} writes the name in braces ('{{' is a literal brace):"
            " raspy's field is {host}",
        ),
    ]


QUIET = """\
name: quiet
variables:
  x: 1
triggers:
  - event: /event/door
actions:
  - log: "{{{{ now }}}} is sent to Home Assistant as written"
  - log: "{{ {x}host }}"
  - log: "{{{host}}} and {{ nothing }} and {{\\"on\\": true}}"
  - log: "{{ repeat.index }} outside every repeat"
  - log: "{{ host + 1 }} {{ }}"
  - call: "{host}.echo"
    body: [{"m": "{{ host }}"}]
"""


def test_literal_jinja_a_brace_around_a_field_and_unknown_names_are_quiet() -> None:
    """`{{{{ now }}}}` is literal Jinja meant as such; `{{ {x}host }}` is no
    `{{ host }}` (literal parts are never joined across a field); `{{{host}}}` is
    a brace around a field; other names, and sums, are no field of raspy's; a
    call's JSON frame has its braces doubled (literal)."""
    assert jinja_warnings(load_scenario(QUIET, "q.yaml"), QUIET) == []


def test_a_stored_scenario_with_jinja_fields_still_loads() -> None:
    """A warning, never a refusal: a scenario stored before loads as it did."""
    assert load_scenario(WARNS, "d.yaml").name == "door"
