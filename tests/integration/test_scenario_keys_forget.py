"""A deleted scenario's keys are those the Clone server holds, not the core's view's.

The Clone I/O thread publishes an update over TCP, then tells the core; a client
that saw a scenario's write and deleted the scenario at once could beat the core's
view to it, and the key stayed in the tree for good (seen once in a churn test).
Here the view is left empty on purpose: only the server knows the keys.
"""

from __future__ import annotations

import pytest
from support.clonesrv import CloneServer

from raspy.actors.clone.server import commit_along, read_tree
from raspy.actors.core.status_keys import StatusKeys
from raspy.errors import StoreError
from raspy.rules.tree_view import TreeView
from raspy.storage.store import Store

pytestmark = pytest.mark.timeout(30)


def _served(server: CloneServer, store: Store, prefix: str) -> list[str]:
    return [key for key, _ in read_tree(server.ref, store, prefix)]


def _forget(keys: StatusKeys, server: CloneServer, name: str) -> None:
    """As a delete does: the keys it leaves deleted from the tree, and the view."""
    left = keys.left_by(name)
    commit_along(server.ref, [(key.encode(), b"") for key in left], [])
    keys.dropped(left)


def test_a_key_the_view_has_not_heard_of_goes_with_its_scenario(
    server: CloneServer, store: Store
) -> None:
    keys = StatusKeys(
        TreeView(), server.publisher, lambda prefix: _served(server, store, prefix)
    )
    for key in (b"/scenario/gone/note", b"/scenario/gone/deeper/still"):
        server.publisher.set(key, b"1")
    server.publisher.set(b"/scenario/gone-too/note", b"1")  # a name it prefixes

    _forget(keys, server, "gone")

    assert _served(server, store, "/scenario/") == ["/scenario/gone-too/note"]


def test_a_server_that_cannot_be_read_still_leaves_the_views_keys_deleted(
    server: CloneServer, store: Store
) -> None:
    def unreadable(prefix: str) -> list[str]:
        raise StoreError(f"cannot read {prefix}")

    view = TreeView()
    view.update("/scenario/gone/note", b"1")
    server.publisher.set(b"/scenario/gone/note", b"1")
    server.publisher.set(b"/scenario/gone/state", b'"idle"')

    _forget(StatusKeys(view, server.publisher, unreadable), server, "gone")

    assert _served(server, store, "/scenario/") == []
    assert view.keys_under("/scenario/") == set()
