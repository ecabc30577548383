"""A `to:` trigger fires once per change, whatever is on its way to the store while
the core starts.

The core seeds its copy of the tree where its subscription begins
(raspy.actors.clone.server.subscribe_seeded). It used to subscribe, then read the
store: two sets of a key stored but not yet published were in that seed as the
last, then told to it one by one, so a `to:` trigger fired for a change made
before the core began.
"""

from __future__ import annotations

import threading

import pytest
from support.clone_pipeline import stored
from support.core_actors import (
    Core,
    core_fixture,  # noqa: F401  # fixture `core`
    tree_fixture,  # noqa: F401  # fixture `tree`
    wait_value,
)
from support.wait import wait_until
from support.writer_gate import CommittedGate

from raspy.actors import messages as msgs
from raspy.client.clone import CloneClient
from raspy.storage.store import Store

pytestmark = pytest.mark.timeout(60)

LAMP = b"/house/lamp"
LOG = "/house/log"
LAMP_ON = """\
name: lamp-on
mode: queued
triggers:
  - kv: /house/lamp
    to: "on"
  - event: /event/mark
actions:
  - set: /house/log
    expr: "(kv('/house/log') or '') + trigger.key + ';'"
"""


def _seeds_waiting(core: Core) -> int:
    answer = core.server.ref.ask(msgs.GetStats(), timeout=5)
    assert isinstance(answer, dict)
    waiting = answer.get("clone.seeds.waiting", 0)
    assert isinstance(waiting, int)
    return waiting


def test_a_to_trigger_fires_once_for_a_change_racing_the_core_start(
    core: Core, tree: CloneClient, store: Store
) -> None:
    """The lamp is off; it is set on and off again, both stored and not yet
    published, as the core starts. Then it is set on once, and an event marks the
    end: the scenario ran for that one change and the mark. It ran for the change
    made before the core began too (off in its seed, then told off -> on)."""
    core.start()
    status, reply = core.request("import", document=LAMP_ON)
    assert status == b"200", reply
    core.stop()
    publisher = core.server.publisher
    publisher.set(LAMP, b'"off"')
    wait_until(lambda: stored(store, LAMP) is not None, what="off stored")
    with CommittedGate(store) as gate:
        submits = store.stats()["submits"]
        publisher.set(LAMP, b'"on"')
        wait_until(lambda: store.stats()["submits"] > submits, what="on submitted")
        publisher.set(LAMP, b'"off"')
        wait_until(lambda: store.stats()["submits"] > submits + 1, what="off submitted")
        gate.commit()
        started = threading.Event()

        def start() -> None:
            core.start()
            started.set()

        thread = threading.Thread(target=start)
        thread.start()
        wait_until(
            lambda: started.is_set() or _seeds_waiting(core) == 1,
            what="the core seeded or waiting for its seed",
        )
        gate.open()
    thread.join(20)
    assert started.is_set(), "the core never started"
    publisher.set(LAMP, b'"on"')
    publisher.set(b"/event/mark", b"true")
    wait_value(tree, LOG, "/house/lamp;/event/mark;")
    wait_value(tree, "/scenario/lamp-on/runs", 2)
