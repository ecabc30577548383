"""A Save (or `import --replace`) whose text differs from the stored one only in its
`enabled:` line is a disable or an enable, not a new version: it cut the run under
way with "a run was cut short by an import of a new version", an error that stayed
after the scenario was enabled again, where the Disable button ends it quietly."""

from __future__ import annotations

import pytest
from support.core_actors import (
    Core,
    core_fixture,  # noqa: F401  # fixture `core`
    tree_fixture,  # noqa: F401  # fixture `tree`
    value,
    wait_value,
)
from support.device_services import server_fixture  # noqa: F401  # fixture `server`

from raspy.actors.core.service_imports import REPLACED_RUN_ERROR
from raspy.client.clone import CloneClient
from raspy.rules.document_yaml import without_entry

pytestmark = pytest.mark.timeout(30)

SLOW = """\
name: slow
enabled: true  # on all year
triggers: [{event: /event/go}]
actions:
  - wait: 1h
  - set: /scenario/slow/done
    value: true
"""
OFF = SLOW.replace("enabled: true  # on all year", "enabled: false")


def test_a_save_turning_enabled_off_and_on_again_is_a_disable_and_an_enable(
    core: Core, tree: CloneClient
) -> None:
    core.start()
    assert core.request("import", document=SLOW)[0] == b"200"
    core.request("run", name="slow")
    wait_value(tree, "/scenario/slow/state", "running")
    assert core.request("import", document=OFF, replace=True) == (
        b"200",
        {"name": "slow", "replaced": True},
    )
    got = core.request("get", name="slow")[1]
    assert (got["state"], got["enabled"], got["document"]) == ("disabled", False, OFF)
    assert got["last_trace"][-1].endswith("stopped")  # ended as a disable ends it
    assert got["last_error"] is None
    wait_value(tree, "/scenario/slow/state", "disabled")
    assert value(tree, "/scenario/slow/last_error") is None
    # and on again: it runs, and this text is the version its runs belong to
    assert core.request("import", document=SLOW, replace=True)[0] == b"200"
    wait_value(tree, "/scenario/slow/state", "idle")
    got = core.request("get", name="slow")[1]
    assert (got["enabled"], got["document"], got["last_error"]) == (True, SLOW, None)
    assert core.request("run", name="slow")[1]["state"] == "running"
    core.clock.advance(3600)
    wait_value(tree, "/scenario/slow/done", True)


def test_a_save_changing_more_than_enabled_is_a_new_version_still(
    core: Core, tree: CloneClient
) -> None:
    core.start()
    core.request("import", document=SLOW)
    core.request("run", name="slow")
    wait_value(tree, "/scenario/slow/state", "running")
    changed = OFF.replace("wait: 1h", "wait: 2h")
    assert core.request("import", document=changed, replace=True)[0] == b"200"
    got = core.request("get", name="slow")[1]
    assert (got["state"], got["last_error"]) == ("disabled", REPLACED_RUN_ERROR)


@pytest.mark.parametrize(
    ("new", "same"),
    [
        ("name: a\nenabled: false\nactions: []\n", True),
        ("name: a\nactions: []\n", True),
        ("name: a\nenabled:\n  false\nactions: []\n", True),
        ("name: a\r\nenabled: false\r\nactions: []\r\n", True),
        ("name: a\nenabled: false\nactions: [] # x\n", False),
        ("name: b\nenabled: false\nactions: []\n", False),
    ],
)
def test_a_text_without_its_enabled_entry_leaves_out_that_entry_s_lines_only(
    new: str, same: bool
) -> None:
    stored = "name: a\nenabled: true  # on\nactions: []\n"
    assert (without_entry(new, "enabled") == without_entry(stored, "enabled")) is same


def test_an_enabled_entry_on_a_line_with_others_cannot_be_left_out() -> None:
    assert without_entry("{name: a, enabled: true}", "enabled") is None
