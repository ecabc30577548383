"""msgs.CommitAlong: tree keys set and another table's records stored in ONE
transaction, durable when commit_along returns; an op over the store's limits
refused before anything of it is taken."""

from __future__ import annotations

import pytest
from support.clonesrv import CloneServer

from raspy.actors.clone.server import commit_along, read_tree
from raspy.errors import ValueTooLargeError
from raspy.storage.store import Put, Store
from raspy.storage.tables import Table

pytestmark = pytest.mark.timeout(30)


def _tree(server: CloneServer, store: Store) -> list[tuple[str, bytes]]:
    return read_tree(server.ref, store, "/along/")


def test_the_keys_and_the_records_are_one_commit(
    server: CloneServer, store: Store
) -> None:
    server.publisher.set(b"/along/old", b"1")
    _tree(server, store)  # published, so stored
    before = store.stats()["commits"]

    commit_along(
        server.ref,
        [(b"/along/old", b""), (b"/along/new", b"2")],
        [Put(Table.SCENARIO, b"scenario.x.code", b"\xa1x")],
    )

    assert store.stats()["commits"] - before == 1
    assert store.get(Table.SCENARIO, b"scenario.x.code") == b"\xa1x"
    assert _tree(server, store) == [("/along/new", b"2")]


def test_an_op_over_the_limits_is_refused_and_nothing_is_set(
    server: CloneServer, store: Store
) -> None:
    huge = b"x" * (store.config.max_value_bytes + 1)

    with pytest.raises(ValueTooLargeError):
        commit_along(
            server.ref,
            [(b"/along/new", b"2")],
            [Put(Table.SCENARIO, b"scenario.x.code", huge)],
        )

    assert _tree(server, store) == []
    assert store.get(Table.SCENARIO, b"scenario.x.code") is None
