"""A household's backups, typos and traces (third field trial).

The same house as test_scenario_trial2.py (the real core, Clone server, store and fake
devices, the user's command line, a FakeClock): a restore of an unchanged backup
while a run waits, a `run:` of a misspelt scenario checked by the hub, a value the
device's command cannot take, and the trace of a `wait_until` on a `{host}` key.
"""

from __future__ import annotations

import pytest
from support.core_actors import (
    HOST,
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

MINUTE = 60.0
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


# --- 1. the same document imported again ------------------------------------------------
def test_a_restore_of_an_unchanged_backup_keeps_the_waiting_run(house: House) -> None:
    house.start()
    porch = house.imported("porch.yaml", PORCH)
    house.event("/event/porch/arrived", True, porch)
    wait_value(house.tree, LAMP, True)
    house.answered(porch)
    backup = house.folder / "backup.yaml"
    assert house.cli("export", porch, "-o", str(backup)) == 0
    assert house.cli("import", "--replace", str(backup)) == 0
    assert house.output == [f"unchanged {porch} from {backup}"]
    # line breaks aside it is the same text too (a file written on another system)
    crlf = house.folder / "crlf.yaml"
    crlf.write_bytes(PORCH.replace("\n", "\r\n").encode())
    assert house.cli("import", "--replace", str(crlf)) == 0
    assert house.output == [f"unchanged {porch} from {crlf}"]
    house.tick(porch)
    assert house.state(porch) == "running"
    assert value(house.tree, f"/scenario/{porch}/last_error") is None
    reply = house.core.request("get", name=porch)
    assert reply[1]["document"] == PORCH  # nothing stored over it
    house.advance(2 * 60 * MINUTE)  # the run goes on: the porch light off on time
    house.tick(porch)
    wait_value(house.tree, LAMP, False)
    assert value(house.tree, f"/scenario/{porch}/last_error") is None


def test_an_import_that_changes_only_the_enabled_state_is_stored(
    house: House,
) -> None:
    house.start()
    porch = house.imported("porch.yaml", PORCH)
    assert house.cli("disable", porch) == 0
    enabled = PORCH.replace("triggers:", "enabled: true\ntriggers:")
    assert house.import_("porch2.yaml", enabled, "--replace") == 0
    assert house.output[0].startswith(f"replaced {porch} ")
    wait_value(house.tree, f"/scenario/{porch}/state", "idle")
    # the same text and state again: unchanged
    assert house.import_("porch2.yaml", enabled, "--replace") == 0
    assert house.output[0].startswith(f"unchanged {porch} ")


# --- 2. a run: of a misspelt scenario ----------------------------------------------------
FROST = """\
name: frost-lamp
actions:
  - device: "{host}.fake.lamp"
    action: "on"
"""
COLD_NIGHT = """\
name: cold-night
triggers:
  - event: /event/cold
actions:
  - run: frost-lam
  - stop: cold-night
"""


def test_the_hub_warns_of_a_run_of_no_scenario_to_the_web_check_and_the_cli(
    house: House,
) -> None:
    """The web face's Check (the core's validate) said "No problems" for a typo
    that only the command line warned of."""
    house.start()
    house.imported("frost.yaml", FROST)
    warning = (
        "cold.yaml:5:10: warning: run: 'frost-lam' (did you mean 'frost-lamp'?) is "
        "no scenario on the hub; the run does nothing until one of that name is "
        "imported"
    )
    status, reply = house.core.request(
        "validate", document=COLD_NIGHT, source="cold.yaml"
    )
    assert (status, reply) == (b"200", {"name": "cold-night", "warnings": [warning]})
    # the command line prints the hub's, once
    path = house.folder / "cold.yaml"
    path.write_text(COLD_NIGHT)
    assert house.cli("import", str(path)) == 0
    assert house.errors == [
        f"raspy scenario import: {path}{warning.removeprefix('cold.yaml')}"
    ]
    # a name imported along with it (the same file) is no warning
    both = house.folder / "both.yaml"
    both.write_text(COLD_NIGHT.replace("frost-lam", "dawn") + "---\n" + DAWN)
    assert house.cli("import", "--replace", str(both)) == 0
    assert house.errors == []
    assert house.output == [
        f"replaced cold-night from {both}",
        f"imported dawn from {both}",
    ]


DAWN = """\
name: dawn
actions:
  - log: the day begins
"""


# --- 3. a value the command cannot take -----------------------------------------------------
HALF_LIGHT = """\
name: half-light
actions:
  - device: "{host}.fake.hall"
    action: level
    value: 50%
  - device: "{host}.fake.hall"
    action: level
    value: "{trigger.value}"
  - device: "{host}.fake.hall"
    action: level
    value: 40
"""


def test_a_value_the_command_cannot_take_is_a_warning_at_its_line(
    house: House,
) -> None:
    """`value: 50%` for a dimmer's level passed every check and failed only when it
    ran, at no line; a value made when the run goes is not judged."""
    house.start()
    status, reply = house.core.request(
        "validate", document=HALF_LIGHT, source="half.yaml"
    )
    assert (status, reply) == (
        b"200",
        {
            "name": "half-light",
            "warnings": [
                'half.yaml:5:12: warning: value: level: expected an integer, got "50%"; '
                "the device will refuse it"
            ],
        },
    )
    path = house.folder / "half.yaml"
    path.write_text(HALF_LIGHT)
    assert house.cli("import", str(path)) == 0  # a warning: it is imported
    assert len(house.errors) == 1
    assert house.errors[0].startswith(f"raspy scenario import: {path}:5:12: warning: ")


# --- 4. the trace of a wait_until on a {host} key --------------------------------------
BATH_FAN = """\
name: bath-fan
triggers:
  - event: /event/bath/shower
actions:
  - wait_until: "kv('/device/{host}.fake.hall/value') > 50"
    timeout: 10m
  - condition: "kv('/device/{host}.fake.hall/value') > 90"
"""


def test_the_trace_shows_the_key_the_wait_until_watches(house: House) -> None:
    """The trace said `kv('/device/{host}.fake.bathroom/value')`, `{host}` unfilled,
    unlike the key the run watches."""
    house.start()
    fan = house.imported("fan.yaml", BATH_FAN)
    house.event("/event/bath/shower", True, fan)
    wait_value(house.tree, f"/scenario/{fan}/state", "running")
    key = f"/device/{HOST}.fake.hall/value"
    status, reply = house.core.request("get", name=fan)
    assert status == b"200"
    lines = [line.partition(" ")[2] for line in reply["run_trace"]]
    assert f"wait_until kv('{key}') > 50 (timeout 600s)" in lines
    house.reading(key, 60, fan)  # holds: on to the condition, which is false
    wait_value(house.tree, f"/scenario/{fan}/state", "idle")
    status, reply = house.core.request("get", name=fan)
    lines = [line.partition(" ")[2] for line in reply["last_trace"]]
    assert f"condition kv('{key}') > 90: false, the run ends" in lines
