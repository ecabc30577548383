"""An import (a Save, `import --replace`) that only adds or drops an `enabled:` line
saying what the scenario is already is the same scenario: it cut the runs under way
as a new version ("a run was cut short by an import of a new version"). Its text is
stored, its runs go on, and a run in a long wait is still taken up by a restart
(its record names the stored text)."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

import pytest
from structlog.testing import capture_logs
from support.core_actors import (
    Core,
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
from support.wait import wait_until

from raspy.client.clone import CloneClient
from raspy.rules.resume_record import fingerprint
from raspy.rules.scenario_api import SAME_SCENARIO

pytestmark = pytest.mark.timeout(60)

MINUTE = 60.0
WAKEUP = """\
name: wakeup
triggers:
  - event: /event/morning/wakeup
actions:
  - device: "{host}.fake.lamp"
    action: "on"
  - wait: 20m
  - device: "{host}.fake.lamp"
    action: "off"
"""
ENABLED = WAKEUP.replace("triggers:", "enabled: true  # all year\ntriggers:")
RECORD = "/scenario/wakeup/resume"


def _record_version(house: House) -> Any:
    record = value(house.tree, RECORD)
    return None if not isinstance(record, dict) else record.get("version")


def test_a_save_adding_enabled_true_keeps_the_run_and_a_restart_takes_it_up(
    house: House,
) -> None:
    house.start()
    name = house.imported("wakeup.yaml", WAKEUP)
    house.event("/event/morning/wakeup", "morning", name)
    wait_value(house.tree, LAMP, True)
    house.answered(name)
    wait_until(lambda: _record_version(house) == fingerprint(WAKEUP), what="record")
    assert house.import_("wakeup2.yaml", ENABLED, "--replace") == 0
    assert house.output == [
        f"stored {name} from {house.folder / 'wakeup2.yaml'} ({SAME_SCENARIO})"
    ]
    assert house.cli("export", name) == 0
    assert "\n".join(house.output) + "\n" == ENABLED  # what was saved
    # the record of the run in its wait names the text stored now
    wait_until(lambda: _record_version(house) == fingerprint(ENABLED), what="record")
    house.advance(5 * MINUTE)
    with capture_logs() as logs:
        house.restart()
    assert _logged(logs, "scenario_run_lost") == []
    assert [e["left_s"] for e in _logged(logs, "scenario_run_resumed")] == [900]
    house.advance(15 * MINUTE)
    house.tick(name)
    wait_value(house.tree, LAMP, False)
    wait_value(house.tree, f"/scenario/{name}/state", "idle")
    assert value(house.tree, f"/scenario/{name}/last_error") is None


def _logged(
    logs: list[MutableMapping[str, Any]], event: str
) -> list[MutableMapping[str, Any]]:
    return [entry for entry in logs if entry["event"] == event]


SLOW = """\
name: slow
enabled: true
triggers: [{event: /event/go}]
actions:
  - wait: 1h
  - set: /scenario/slow/done
    value: true
"""
NO_LINE = SLOW.replace("enabled: true\n", "")


def test_a_save_dropping_enabled_true_keeps_the_run(
    core: Core, tree: CloneClient
) -> None:
    core.start()
    assert core.request("import", document=SLOW)[0] == b"200"
    core.request("run", name="slow")
    wait_value(tree, "/scenario/slow/state", "running")
    assert core.request("import", document=NO_LINE, replace=True) == (
        b"200",
        {"name": "slow", "replaced": True, "same_scenario": True},
    )
    got = core.request("get", name="slow")[1]
    assert (got["state"], got["enabled"], got["document"]) == (
        "running",
        True,
        NO_LINE,
    )
    assert got["last_error"] is None
    core.clock.advance(3600)
    wait_value(tree, "/scenario/slow/done", True)
    assert value(tree, "/scenario/slow/last_error") is None


def test_a_disabled_scenario_saved_with_enabled_false_added_stays_disabled(
    core: Core, tree: CloneClient
) -> None:
    core.start()
    core.request("import", document=NO_LINE)
    core.request("disable", name="slow")
    wait_value(tree, "/scenario/slow/state", "disabled")
    off = SLOW.replace("enabled: true", "enabled: false")
    assert core.request("import", document=off, replace=True) == (
        b"200",
        {"name": "slow", "replaced": True, "same_scenario": True},
    )
    got = core.request("get", name="slow")[1]
    assert (got["state"], got["enabled"], got["document"]) == ("disabled", False, off)
    # and the same text again: unchanged, nothing stored
    reply = core.request("import", document=off, replace=True)[1]
    assert reply == {"name": "slow", "replaced": True, "unchanged": True}
