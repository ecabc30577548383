"""`raspy scenario export -o all.yaml` then `raspy scenario import all.yaml
--replace` is a backup and its restore (docs/scenarios.md, "The command line"), and
an import of the text stored already ends no run ("When something goes wrong"). A
stream of several documents ends each with a line break: a scenario saved by the
web face's editor (a textarea's text has none at its end) came back from its backup
one line break longer, a new version, and the run that waited in it was cut short."""

from __future__ import annotations

import pytest
from support.core_actors import (
    core_fixture,  # noqa: F401  # fixture `core`
    tree_fixture,  # noqa: F401  # fixture `tree`
    value,
    wait_value,
)
from support.device_services import (
    server_fixture,  # noqa: F401  # fixture `server`
    services_fixture,  # noqa: F401  # fixture `services`
)
from support.scenario_house import (
    LAMP,
    House,
    house_fixture,  # noqa: F401  # fixture `house`
)

pytestmark = pytest.mark.timeout(60)

# as the web face's editor saves it: no line break after its last line
PORCH = """\
name: porch-light
triggers:
  - event: /event/porch/arrived
actions:
  - device: "{host}.fake.lamp"
    action: "on"
  - wait: 2h
  - device: "{host}.fake.lamp"
    action: "off\""""
HALL = """\
name: hall
triggers: [{event: /event/hall}]
actions: [{log: hall}]
"""


def test_a_restore_of_a_backup_of_several_keeps_a_run_of_a_text_saved_without_a_last_line_break(
    house: House,
) -> None:
    house.start()
    porch = "porch-light"
    status, _ = house.core.request("import", document=PORCH, source="document")
    assert status == b"200"
    house.imported("hall.yaml", HALL)
    wait_value(house.tree, f"/scenario/{porch}/state", "idle")
    house.tick(porch)
    house.event("/event/porch/arrived", True, porch)
    wait_value(house.tree, LAMP, True)
    house.answered(porch)
    backup = house.folder / "all.yaml"
    assert house.cli("export", "-o", str(backup)) == 0
    assert house.cli("import", "--replace", str(backup)) == 0
    assert sorted(house.output) == [
        f"unchanged hall from {backup}",
        f"unchanged {porch} from {backup}",
    ]
    house.tick(porch)
    assert house.state(porch) == "running"
    assert value(house.tree, f"/scenario/{porch}/last_error") is None
    assert house.core.request("get", name=porch)[1]["document"] == PORCH
    house.advance(2 * 3600)  # the run goes on: the porch light off on time
    house.tick(porch)
    wait_value(house.tree, LAMP, False)
    assert value(house.tree, f"/scenario/{porch}/last_error") is None
