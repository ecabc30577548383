"""Read-your-writes in the core (TreeView, OwnWrites): a scenario's write is read by
every kv() at once, before the Clone server's update comes back; the server's
order wins in the end, and a write it drops leaves no value it never had."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import zmq
from support.clock import FakeClock
from support.clonesrv import FAST, clone_server
from support.core_actors import (
    Core,
    core_fixture,  # noqa: F401  # fixture `core`
    tree_fixture,  # noqa: F401  # fixture `tree`
    value,
    wait_value,
)
from support.edge_fixtures import EdgeHandle
from support.wait import wait_until
from support.writer_gate import WriterGate

from raspy.client.clone import CloneClient
from raspy.config import StoreConfig
from raspy.rules.tree_view import TreeView
from raspy.storage.store import Store

Context = zmq.Context[zmq.Socket[bytes]]
RINGS = "/house/doorbell/rings"
COUNTER = """\
name: doorbell-counter
triggers:
  - event: "/event/doorbell/*"
actions:
  - set: /house/doorbell/rings
    expr: "(kv('/house/doorbell/rings') or 0) + 1"
"""
SET_THEN_CHOOSE = """\
name: away
triggers:
  - event: /event/away
actions:
  - set: /house/mode
    value: away
  - choose:
      - if: "kv('/house/mode') == 'away'"
        then:
          - set: /house/seen
            expr: "kv('/house/mode')"
    else:
      - set: /house/seen
        expr: "'still ' + kv('/house/mode')"
  - delete: /house/mode
  - set: /house/gone
    expr: "kv('/house/mode') == null"
"""
DOUBLE = """\
name: double
triggers:
  - event: /event/double
actions:
  - set: /house/note
    expr: "trigger.value + trigger.value"
"""
COPY = """\
name: copy
triggers:
  - event: /event/copy
actions:
  - set: /house/copy
    expr: "kv('/house/note')"
"""
MARK = """\
name: mark
actions:
  - set: /house/who
    value: scenario
"""


def _view(core: Core) -> TreeView:
    assert core.ref is not None
    view = core.ref.proxy().tree.get(timeout=5)
    assert isinstance(view, TreeView)
    return view


def _imported(core: Core, document: str) -> None:
    status, reply = core.request("import", document=document)
    assert status == b"200", reply


def _settled(core: Core) -> None:
    """Every write the scenarios sent has come back or been refused."""
    view = _view(core)
    wait_until(lambda: view.on_the_way() == 0, what="the writes settled")


def test_two_rings_within_a_millisecond_count_two(
    core: Core, tree: CloneClient
) -> None:
    """Both events come in one batch: the second run reads the first one's count
    before the server has sent it back (it read the count before: 1, not 2)."""
    core.start()
    _imported(core, COUNTER)
    publisher = core.server.publisher
    for pair in (1, 2, 3):
        rings = [(f"/event/doorbell/{door}".encode(), b"true") for door in "ab"]
        assert publisher.set_many(rings) == []
        wait_value(tree, "/scenario/doorbell-counter/runs", 2 * pair)
        wait_value(tree, RINGS, 2 * pair)
    _settled(core)
    assert value(tree, RINGS) == 6
    assert value(tree, "/scenario/doorbell-counter/last_error") is None


def test_a_set_then_a_choose_in_one_run_reads_the_new_value(
    core: Core, tree: CloneClient
) -> None:
    core.server.publisher.set(b"/house/mode", b'"home"')
    wait_value(tree, "/house/mode", "home")
    core.start()  # its view starts with `home`
    _imported(core, SET_THEN_CHOOSE)
    core.server.publisher.set(b"/event/away", b"true")
    wait_value(tree, "/scenario/away/runs", 1)
    wait_value(tree, "/house/gone", True)
    assert value(tree, "/house/seen") == "away"
    assert value(tree, "/scenario/away/last_error") is None
    _settled(core)
    assert _view(core).kv("/house/mode") is None


@pytest.mark.parametrize(
    ("clone_limit", "store_limit", "half", "reason"),
    [
        (4000, 1024 * 1024, 2100, "body_too_large"),  # refused as it comes in
        (64 * 1024, 2000, 1500, "commit_failed"),  # accepted, its commit fails
    ],
)
def test_a_write_the_server_drops_leaves_the_value_it_had(
    zmq_context: Context,
    tmp_path: Path,
    edge: EdgeHandle,
    clone_limit: int,
    store_limit: int,
    half: int,
    reason: str,
) -> None:
    """The scenario's value fits the core's limit, not the server's (or the store's):
    the view shows it until the server says it dropped it, then the old one."""
    config = StoreConfig(map_size_initial_mb=1, max_value_bytes=store_limit)
    store = Store.open(tmp_path / "data", config)
    clone_config = replace(FAST, max_value_bytes=clone_limit)
    try:
        with clone_server(zmq_context, store, FakeClock(), config=clone_config) as srv:
            core = Core(edge, srv, store, FakeClock())
            try:
                srv.publisher.set(b"/house/note", b'"old"')
                core.start()
                wait_until(lambda: _view(core).kv("/house/note") == "old", what="old")
                _imported(core, DOUBLE)
                _imported(core, COPY)
                event = f'"{"n" * half}"'.encode()
                srv.publisher.set(b"/event/double", event)
                wait_until(
                    lambda: core.stats.get("core.writes_refused") == 1,
                    what=f"the write refused ({reason})",
                )
                _settled(core)
                assert _view(core).kv("/house/note") == "old"
                # and so every scenario reads it
                srv.publisher.set(b"/event/copy", b"true")
                with CloneClient(srv.endpoints, b"/", context=zmq_context) as tree:
                    tree.wait_synced()
                    wait_value(tree, "/house/copy", "old")
                    assert value(tree, "/house/note") == "old"
            finally:
                core.stop()
    finally:
        store.close()


@pytest.mark.parametrize("other_first", [False, True])
def test_another_writer_between_our_write_and_its_echo_ends_with_the_servers_value(
    core: Core, store: Store, tree: CloneClient, other_first: bool
) -> None:
    """Another in-process writer sets the key just before or just after ours (one
    queue into the server: that is the server's order), while the store's writer is
    held, so neither comes back. The view shows ours meanwhile; once both are back,
    the one the server numbered last, which the tree holds."""
    core.start()
    _imported(core, MARK)
    view = _view(core)
    other = core.server.publisher
    with WriterGate(store) as gate:
        if other_first:
            other.set(b"/house/who", b'"other"')
        assert core.request("run", name="mark")[0] == b"200"  # sent when answered
        assert view.on_the_way() == 1
        if not other_first:
            other.set(b"/house/who", b'"other"')
        assert view.kv("/house/who") == "scenario"  # ours, not back yet
        gate.open()
    last = "scenario" if other_first else "other"
    wait_value(tree, "/house/who", last)
    _settled(core)
    assert view.kv("/house/who") == last
