"""An import through the core warns of Jinja's `{{ trigger.value }}`, which writes
the name in braces (rules.jinja_fields; docs/scenarios.md "Templates"), and still
stores the scenario."""

from __future__ import annotations

from support.core_actors import (
    Core,
    core_fixture,  # noqa: F401  # fixture `core`
)
from support.device_services import (
    server_fixture,  # noqa: F401  # fixture `server`
)

DOOR = """\
name: door
triggers:
  - event: /event/door
actions:
  - log: "door {{ trigger.value }}"
  - log: "{{{{ now }}}} is literal Jinja"
"""


def test_an_import_warns_of_jinja_s_double_braces_around_a_known_name(
    core: Core,
) -> None:
    """`log: "door {{ trigger.value }}"` wrote `door { trigger.value }` at every
    run, said nowhere; the literal `{{{{ now }}}}` is meant as written."""
    core.start()
    assert core.request("import", document=DOOR, source="door.yaml") == (
        b"200",
        {
            "name": "door",
            "replaced": False,
            "warnings": [
                "door.yaml:5:16: warning: log: {{ trigger.value }} writes the name"
                " in braces ('{{' is a literal brace): raspy's field is"
                " {trigger.value}"
            ],
        },
    )
