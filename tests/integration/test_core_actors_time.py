"""The core over a real edge, Clone server and Store (issue 11): time triggers on the
core's one scheduler, startup triggers, the runaway guard, the preload folder, and
`run:`/`stop:` actions between scenarios."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from structlog.testing import capture_logs
from support.core_actors import (
    Core,
    core_fixture,  # noqa: F401  # fixture `core`
    tree_fixture,  # noqa: F401  # fixture `tree`
    value,
    wait_value,
)
from support.device_services import server_fixture  # noqa: F401  # fixture `server`
from support.wait import wait_until

from raspy.client.clone import CloneClient
from raspy.storage.scenario_store import stored_tree

TICK = """\
name: tick
triggers: [{every: 10s}]
actions:
  - set: /scenario/tick/at
    value: "{trigger.kind} {trigger.value}"
"""
HELLO = """\
name: hello
triggers: [{startup: true}]
actions:
  - event: /event/hello
"""
LOOP = """\
name: loop
triggers: [{event: "/event/go"}]
actions:
  - log: "go {trigger.value}"
"""


def test_an_every_trigger_fires_on_the_core_clock(
    core: Core, tree: CloneClient
) -> None:
    core.start()
    assert core.request("import", document=TICK)[0] == b"200"
    start = core.clock.wall()
    wait_value(tree, "/scenario/tick/state", "idle")
    core.clock.advance(10)
    wait_value(tree, "/scenario/tick/runs", 1)
    assert value(tree, "/scenario/tick/at") == f"every {start + 10}"  # the grid
    core.clock.advance(10)
    wait_value(tree, "/scenario/tick/runs", 2)


def test_startup_triggers_fire_when_the_core_starts_not_on_import(
    core: Core, tree: CloneClient
) -> None:
    core.start()
    assert core.request("import", document=HELLO)[0] == b"200"
    wait_value(tree, "/scenario/hello/state", "idle")
    assert value(tree, "/event/hello") is None
    core.stop()
    core.start()
    wait_value(tree, "/event/hello", True)
    wait_value(tree, "/scenario/hello/runs", 1)


def test_the_runaway_guard_disables_the_scenario_and_it_stays_disabled(
    core: Core, tree: CloneClient
) -> None:
    core.config = dataclasses.replace(core.config, max_runs_per_minute=2)
    core.start()
    assert core.request("import", document=LOOP)[0] == b"200"
    for count in (1, 2):
        core.server.publisher.set(b"/event/go", str(count).encode())
        wait_value(tree, "/scenario/loop/runs", count)
    core.server.publisher.set(b"/event/go", b"3")
    wait_value(tree, "/scenario/loop/state", "disabled")
    reason = (
        "runaway: more than 2 runs in a minute; disabled at a start by event /event/go"
        " (an action that sets what triggers it loops; a reading this frequent"
        " wants a test such as above:, to: or for:, or a higher [core]"
        " max_runs_per_minute)"
    )
    wait_value(tree, "/scenario/loop/last_error", reason)
    core.stop()
    core.start()
    _, listed = core.request("list")
    assert [(e["enabled"], e["state"], e["last_error"]) for e in listed] == [
        (False, "disabled", reason)
    ]


def test_the_preload_folder_imports_what_is_not_stored_yet(
    core: Core, tmp_path: Path
) -> None:
    folder = tmp_path / "preload"
    folder.mkdir()
    (folder / "tick.yaml").write_text(TICK)
    (folder / "broken.yaml").write_text("name: [\n")
    core.config = dataclasses.replace(core.config, preload_dir=str(folder))
    core.start()
    assert core.request("get", name="tick")[1]["document"] == TICK
    core.stop()
    (folder / "tick.yaml").write_text(TICK + "# changed\n")
    core.start()
    wait_until(
        lambda: core.request("get", name="tick")[1]["document"] == TICK,
        what="the stored tick kept",
    )
    _, listed = core.request("list")
    assert [e["name"] for e in listed] == ["tick"]


def test_a_refused_preload_is_logged_with_its_problem_lines(
    core: Core, tmp_path: Path
) -> None:
    """Was the reply's dict repr: "{'error': ..., 'problems': [...]}"."""
    folder = tmp_path / "preload"
    folder.mkdir()
    (folder / "dusk.yaml").write_text(
        "name: dusk\ntriggers:\n  - sun: sunset\nactions:\n  - log: dusk\n"
    )
    core.config = dataclasses.replace(core.config, preload_dir=str(folder))
    with capture_logs() as logs:
        core.start()
        refused = wait_until(
            lambda: [e for e in logs if e["event"] == "scenario_preload_refused"],
            what="the refusal logged",
        )
    assert refused[0]["reason"] == (
        "dusk.yaml:3:10: triggers[0].sun: a sun trigger needs [core] latitude and "
        "longitude in raspyd's config: set them, then restart raspyd"
    )


def test_run_and_stop_actions_reach_the_other_scenario(
    core: Core, tree: CloneClient
) -> None:
    core.start()
    worker = """\
name: worker
triggers: [{event: "/event/never"}]
actions:
  - set: /scenario/worker/started
    value: "by {trigger.by}"
  - wait: 1h
"""
    boss = """\
name: boss
triggers: [{event: "/event/boss"}]
actions:
  - choose:
      - if: "trigger.value == 'start'"
        then: [{run: worker}]
    else: [{stop: worker}]
"""
    for document in (worker, boss):
        assert core.request("import", document=document)[0] == b"200"
    core.server.publisher.set(b"/event/boss", b'"start"')
    wait_value(tree, "/scenario/worker/started", "by boss")  # who, not just "manual"
    wait_value(tree, "/scenario/worker/state", "running")
    core.server.publisher.set(b"/event/boss", b'"stop"')
    wait_value(tree, "/scenario/worker/state", "idle")
    wait_value(  # its own set: it may land a commit after the state
        tree,
        "/scenario/worker/last_trigger",
        {
            "kind": "manual",
            "id": "",
            "key": None,
            "value": None,
            "from": None,
            "by": "boss",
        },
    )


DOOR_KEY = "/device/testhost.fake.door/value"
DOOR = """\
name: door
triggers:
  - kv: "/device/*.fake.door/value"
    to: true
    for: 10m
actions:
  - set: /scenario/door/note
    value: "open: {trigger.value}"
"""


def test_a_for_hold_under_way_at_a_stop_holds_again_from_the_next_start(
    core: Core, tree: CloneClient
) -> None:
    """A door left open across a restart still fires "open for 10 minutes": the
    whole 10 minutes from the start (the time before the stop is not known)."""
    core.start()
    assert core.request("import", document=DOOR)[0] == b"200"
    wait_value(tree, "/scenario/door/state", "idle")
    core.server.publisher.set(DOOR_KEY.encode(), b"true")
    wait_value(tree, "/device/testhost.fake.door/value", True)
    wait_until(  # the next core reads the tree from the store
        lambda: (DOOR_KEY, b"true") in stored_tree(core.store),
        what="the door's value stored",
    )
    core.clock.advance(300)  # half way, then the stop
    core.stop()
    core.start()
    # the scenario actor answers `stop` after the Startup told before it: resumed
    assert core.request("stop", name="door")[0] == b"200"
    core.clock.advance(599)
    assert value(tree, "/scenario/door/note") is None
    core.clock.advance(1)
    wait_value(tree, "/scenario/door/note", "open: true")
    # the run's count is published when the run ends, after its action's write
    wait_value(tree, "/scenario/door/runs", 1)


def test_a_scenario_actor_gone_on_its_own_leaves_the_others_time_triggers_going(
    core: Core, tree: CloneClient
) -> None:
    """A fire told to an actor that is no longer there raised out of the core's
    wake-up: the fires after it in that wake-up were lost and the core's timer was
    never set again, so no time trigger of any scenario fired after it."""
    core.start()
    early = TICK.replace("name: tick", "name: early").replace("tick/at", "early/at")
    assert core.request("import", document=early)[0] == b"200"
    assert core.request("import", document=TICK)[0] == b"200"
    wait_value(tree, "/scenario/tick/state", "idle")
    assert core.ref is not None
    core.ref.proxy().entries.get()["early"].ref.stop()  # not through the core
    core.clock.advance(10)
    wait_value(tree, "/scenario/tick/runs", 1)
    core.clock.advance(10)
    wait_value(tree, "/scenario/tick/runs", 2)
