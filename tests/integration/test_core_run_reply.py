"""The `run` request's reply says what this run did when it was over within the
request: failed (and why) or done. The state alone read as this run's outcome:
`error` after a run that failed at once (why only in `show`), and also `error` left
from an earlier failure, or `running` for another run (docs/scenarios.md
"Modes", "The hub's service")."""

from __future__ import annotations

import dataclasses

import pytest
from support.core_actors import (
    Core,
    core_fixture,  # noqa: F401  # fixture `core`
    tree_fixture,  # noqa: F401  # fixture `tree`
    wait_value,
)
from support.device_services import (
    server_fixture,  # noqa: F401  # fixture `server`
)

from raspy.client.clone import CloneClient

pytestmark = pytest.mark.timeout(30)

# cookbook recipe 13, run by hand: a manual run has no trigger.id
SETPOINT = """\
name: heat-setpoint
mode: queued
triggers:
  - when: "kv('/device/{host}.fake.living/value') < 19"
    id: "on"
actions:
  - device: "{host}.fake.lamp"
    action: "{trigger.id}"
"""
NO_COMMAND = (
    'device testhost.fake.lamp: action "{trigger.id}" gave no command in this run '
    "(its trigger: manual): nothing sent"
)
# fails while /scenario/count/n is not there (null + 1), is done once it is
COUNT = """\
name: count
mode: parallel
triggers:
  - event: /event/count
actions:
  - set: /scenario/count/next
    expr: "kv('/scenario/count/n') + 1"
"""


def test_a_run_that_fails_at_once_says_why(core: Core, tree: CloneClient) -> None:
    core.start()
    assert core.request("import", document=SETPOINT)[0] == b"200"
    status, reply = core.request("run", name="heat-setpoint")
    assert (status, reply) == (
        b"200",
        {"name": "heat-setpoint", "state": "error", "failed": NO_COMMAND},
    )
    wait_value(tree, "/scenario/heat-setpoint/last_error", NO_COMMAND)


def test_a_run_done_at_once_says_so_whatever_an_earlier_run_left(
    core: Core, tree: CloneClient
) -> None:
    """The first run fails; the next one, the key there, is done: its reply said
    only `idle`, and a run that failed and one not yet heard of read alike."""
    core.start()
    assert core.request("import", document=COUNT)[0] == b"200"
    status, failed = core.request("run", name="count")
    assert (status, failed["state"], failed["failed"][:24]) == (
        b"200",
        "error",
        "set /scenario/count/next",
    )
    core.server.publisher.set(b"/scenario/count/n", b"1")
    wait_value(tree, "/scenario/count/n", 1)
    assert core.request("run", name="count") == (
        b"200",
        {"name": "count", "state": "idle", "done": True},
    )
    wait_value(tree, "/scenario/count/next", 2)


def test_a_run_over_at_once_beside_a_run_under_way_is_told_apart_from_it(
    core: Core, tree: CloneClient
) -> None:
    """Mode parallel: a run started by the event waits, so the state is `running`,
    which read as if this run were under way (its failure said nowhere)."""
    core.start()
    both = COUNT.replace(
        "actions:\n",
        "actions:\n  - if: \"trigger.kind == 'event'\"\n    then:\n      - wait: 1h\n",
    )
    assert core.request("import", document=both)[0] == b"200"
    core.server.publisher.set(b"/event/count", b"true")
    wait_value(tree, "/scenario/count/state", "running")
    status, failed = core.request("run", name="count")
    assert (status, failed["state"], failed["failed"][:24]) == (
        b"200",
        "running",
        "set /scenario/count/next",
    )
    core.server.publisher.set(b"/scenario/count/n", b"5")
    wait_value(tree, "/scenario/count/n", 5)
    assert core.request("run", name="count") == (
        b"200",
        {"name": "count", "state": "running", "done": True},
    )
    wait_value(tree, "/scenario/count/next", 6)
    core.request("stop", name="count")


def test_a_run_the_runaway_guard_refuses_is_said_not_started(
    core: Core, tree: CloneClient
) -> None:
    """The guard's refusal read as the state `disabled`, exit 0 on the CLI."""
    core.config = dataclasses.replace(core.config, max_runs_per_minute=1)
    core.start()
    core.server.publisher.set(b"/scenario/count/n", b"1")
    wait_value(tree, "/scenario/count/n", 1)
    assert core.request("import", document=COUNT)[0] == b"200"
    assert core.request("run", name="count")[1]["done"] is True
    status, reply = core.request("run", name="count")
    assert (status, reply["state"], reply["not_started"][:9]) == (
        b"200",
        "disabled",
        "runaway: ",
    )
    assert "done" not in reply
