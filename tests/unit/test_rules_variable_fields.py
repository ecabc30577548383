"""rules.variable_fields: a variable's text that reads as a template is a warning
of an import (its fields are never filled in), at its place."""

from __future__ import annotations

from raspy.rules.document import load_scenario
from raspy.rules.variable_fields import variable_warnings

HALL = """\
name: hall
variables:
  room: "{trigger.value}-{host}"
  target: 19.5
  plain: "no braces"
  braces: "a { that starts no field"
  nested:
    names: ["{trigger.value}"]
triggers:
  - event: /event/door
actions:
  - log: "{room}"
"""


def test_a_variable_that_reads_as_a_template_is_a_warning_at_its_place() -> None:
    found = variable_warnings(load_scenario(HALL, "h.yaml"), HALL)
    assert found == [
        (
            3,
            9,
            "variables: room: {trigger.value} is never filled in (a variable is a"
            " value, taken as written): write {trigger.value} in the text that uses"
            " {room} instead",
        ),
    ]


def test_variables_without_fields_have_no_warning() -> None:
    """A number, a plain text, a `{` that starts no field, a text in a list."""
    text = HALL.replace('"{trigger.value}-{host}"', '"hall"')
    assert variable_warnings(load_scenario(text, "h.yaml"), text) == []
