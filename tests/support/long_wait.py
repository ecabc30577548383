"""A scenario in a long wait on a real core (support.core_actors), and what the
one-transaction tests read of it: the store's commits once every in-process write
is published, and the record of its run in the wait as the tree has it."""

from __future__ import annotations

import json

from raspy.actors.clone.server import read_tree
from raspy.client.clone import CloneClient
from support.core_actors import Core, value
from support.wait import wait_until

# a run that waits an hour once `/event/go` is set: a record a restart takes up
SLOW = """\
name: slow
triggers: [{event: /event/go}]
actions:
  - wait: 1h
  - set: /scenario/slow/done
    value: true
"""
RECORD = "/scenario/slow/resume"


def scenario_keys(core: Core) -> list[str]:
    """The keys under /scenario/, every in-process write sent so far included."""
    return [key for key, _ in read_tree(core.server.ref, core.store, "/scenario/")]


def commits(core: Core) -> float:
    """The store's commits, once every in-process write sent so far is stored."""
    scenario_keys(core)  # published, so stored
    return core.store.stats()["commits"]


def record(core: Core) -> dict[str, object]:
    """The record of slow's run in its wait, {} when there is none."""
    found = dict(read_tree(core.server.ref, core.store, RECORD)).get(RECORD)
    return {} if found is None else dict(json.loads(found))


def record_version(core: Core) -> object:
    """The version (text fingerprint) the record names, None without a record."""
    return record(core).get("version")


def run_slow(core: Core, tree: CloneClient) -> None:
    """Run slow (imported already) and wait until its run's record is in the tree:
    the run is in its long wait."""
    core.request("run", name="slow")
    wait_until(lambda: value(tree, RECORD) is not None, what="the run's record")
