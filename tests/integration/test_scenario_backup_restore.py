"""`raspy scenario export -o all.yaml` then `raspy scenario import all.yaml
--replace` is a backup and its restore (docs/scenarios.md, "The command line"), and
an import of the text stored already ends no run ("When something goes wrong").

A text the web face (or MQTT) stored came back from its backup changed, a new
version, and the run that waited in it was cut short: a stream of several ends
each document with a line break, which the editor's text has not after its last
line; and the command line's import leaves out a `---` line that starts a
document (with the comments and directives before it), which a text typed in the
editor may have: it took a directive (`%YAML 1.1`) for a document of its own and
refused the backup."""

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

from raspy.rules.scenario_api import SAME_SCENARIO

pytestmark = pytest.mark.timeout(60)

PORCH = """\
name: porch-light
triggers:
  - event: /event/porch/arrived
actions:
  - device: "{host}.fake.lamp"
    action: "on"
  - wait: 2h
  - device: "{host}.fake.lamp"
    action: "off"
"""
HALL = """\
name: hall
triggers: [{event: /event/hall}]
actions: [{log: hall}]
"""


@pytest.mark.parametrize(
    "saved",
    [
        PORCH.removesuffix("\n"),
        f"# the porch\n--- # its light\n{PORCH}",
        f"%YAML 1.1\n---\n{PORCH}",
    ],
    ids=["without_a_last_line_break", "started_by_a_dashes_line", "with_a_directive"],
)
@pytest.mark.parametrize("names", [["porch-light"], []], ids=["alone", "all"])
def test_a_restore_of_a_backup_keeps_the_run_of_a_text_the_web_face_saved(
    house: House, saved: str, names: list[str]
) -> None:
    house.start()
    porch = "porch-light"
    assert house.core.request("import", document=saved, source="document")[0] == b"200"
    house.imported("hall.yaml", HALL)
    house.tick(porch)
    house.event("/event/porch/arrived", True, porch)
    wait_value(house.tree, LAMP, True)
    house.answered(porch)
    backup = house.folder / "backup.yaml"
    assert house.cli("export", *names, "-o", str(backup)) == 0
    assert house.cli("import", "--replace", str(backup)) == 0
    assert house.output == [
        f"unchanged {name} from {backup}" for name in names or ["hall", porch]
    ]
    house.tick(porch)
    assert house.state(porch) == "running"
    assert value(house.tree, f"/scenario/{porch}/last_error") is None
    assert house.core.request("get", name=porch)[1]["document"] == saved
    house.advance(2 * 3600)  # the run goes on: the porch light off on time
    house.tick(porch)
    wait_value(house.tree, LAMP, False)
    assert value(house.tree, f"/scenario/{porch}/last_error") is None


def test_a_backup_edited_to_drop_an_enabled_line_that_changes_nothing_keeps_the_run(
    house: House,
) -> None:
    """Only an `enabled:` line that says what the scenario is already differs: the
    same scenario, its runs go on, though the backup of several ended the text
    with a line break the web face's editor did not write."""
    house.start()
    porch = "porch-light"
    saved = f"{PORCH}enabled: true"  # the editor's last line, no line break after it
    assert house.core.request("import", document=saved, source="document")[0] == b"200"
    house.imported("hall.yaml", HALL)
    house.tick(porch)
    house.event("/event/porch/arrived", True, porch)
    wait_value(house.tree, LAMP, True)
    house.answered(porch)
    backup = house.folder / "backup.yaml"
    assert house.cli("export", "-o", str(backup)) == 0
    backup.write_text(backup.read_text().replace("enabled: true\n", ""))
    assert house.cli("import", "--replace", str(backup)) == 0
    assert house.output == [
        f"unchanged hall from {backup}",
        f"stored {porch} from {backup} ({SAME_SCENARIO})",
    ]
    house.tick(porch)
    assert house.state(porch) == "running"
    assert value(house.tree, f"/scenario/{porch}/last_error") is None
    house.advance(2 * 3600)
    house.tick(porch)
    wait_value(house.tree, LAMP, False)
    assert value(house.tree, f"/scenario/{porch}/last_error") is None
