"""An import through the core warns of a variable whose text holds a template
field, which is never filled in (rules.variable_fields; docs/scenarios.md "The
document")."""

from __future__ import annotations

from support.core_actors import (
    Core,
    core_fixture,  # noqa: F401  # fixture `core`
)
from support.device_services import (
    server_fixture,  # noqa: F401  # fixture `server`
)

HALL = """\
name: hall
variables:
  room: "{host}-hall"
triggers:
  - event: /event/door
actions:
  - log: "{room}"
"""


def test_an_import_warns_of_a_variable_whose_field_is_never_filled_in(
    core: Core,
) -> None:
    """`room: "{host}-hall"` is taken as written (a variable is a value): a
    `log: "{room}"` wrote `{host}-hall`, said nowhere."""
    core.start()
    assert core.request("import", document=HALL, source="hall.yaml") == (
        b"200",
        {
            "name": "hall",
            "replaced": False,
            "warnings": [
                "hall.yaml:3:9: warning: variables: room: {host} is never filled in"
                " (a variable is a value, taken as written): write {host} in the"
                " text that uses {room} instead"
            ],
        },
    )
