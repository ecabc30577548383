"""Scenarios imported, run and deleted again and again leave nothing behind in the
tree (tools/soak.py found each deleted scenario's own keys kept until a restart)."""

from __future__ import annotations

from support.core_actors import (
    Core,
    core_fixture,  # noqa: F401  # fixture `core`
    tree_fixture,  # noqa: F401  # fixture `tree`
    wait_value,
)
from support.device_services import server_fixture  # noqa: F401  # fixture `server`
from support.wait import wait_until

from raspy.client.clone import CloneClient

ROUNDS = 12

WRITER = """\
name: {name}
triggers: [{{event: /event/{name}}}]
actions:
  - set: /scenario/{name}/note
    value: {n}
  - set: /scenario/{name}/deeper/still
    value: true
"""


def test_deleted_scenarios_take_their_own_keys_with_them(
    core: Core, tree: CloneClient
) -> None:
    core.start()
    for n in range(ROUNDS):
        name = f"churn-{n}"
        assert core.request("import", document=WRITER.format(name=name, n=n))[0] == (
            b"200"
        )
        assert core.request("run", name=name)[0] == b"200"
        wait_value(tree, f"/scenario/{name}/note", n)
        wait_value(tree, f"/scenario/{name}/deeper/still", True)
        wait_value(tree, f"/scenario/{name}/state", "idle")
        assert core.request("delete", name=name)[0] == b"200"
    wait_until(
        lambda: tree.items(b"/scenario/") == [],
        what="no key left under /scenario/ after every scenario was deleted",
    )
