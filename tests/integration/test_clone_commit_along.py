"""msgs.CommitAlong: tree keys set and another table's records stored in ONE
transaction, durable when commit_along returns; an op over the store's limits
refused before anything of it is taken; an ask that timed out is either never
stored or waited for."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import pytest
from support.clonesrv import CloneServer
from support.wait import wait_until

from raspy.actors import messages as msgs
from raspy.actors.clone import server as server_mod
from raspy.actors.clone.server import CloneServerActor, commit_along, read_tree
from raspy.cores.clone import DEFAULT_MAX_VALUE_BYTES
from raspy.errors import (
    StoreError,
    StoreNotTaken,
    StoreOutcomeUnknown,
    ValueTooLargeError,
)
from raspy.storage import store_writes
from raspy.storage.ops import apply_ops
from raspy.storage.store import Op, Put, Store
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


def _held_hand_on(
    monkeypatch: pytest.MonkeyPatch, release: threading.Event, *, taken_first: bool
) -> None:
    """The server holds its CommitAlong asks until `release`: before handing one
    on to its I/O thread (a busy mailbox), or after (a late I/O thread)."""
    original = CloneServerActor._handed_on

    def held(actor: CloneServerActor, message: object) -> object:
        if not isinstance(message, msgs.CommitAlong):
            return original(actor, message)
        if taken_first:
            answer = original(actor, message)
            release.wait(10)
            return answer
        release.wait(10)
        return original(actor, message)

    monkeypatch.setattr(CloneServerActor, "_handed_on", held)
    monkeypatch.setattr(server_mod, "_ALONG_ASK_S", 0.2)


def test_an_ask_that_timed_out_is_never_stored_later(
    server: CloneServer, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ask's wait is bounded (_ALONG_ASK_S), and the ask cancelled."""
    release = threading.Event()
    _held_hand_on(monkeypatch, release, taken_first=False)
    started = time.monotonic()

    with pytest.raises(StoreNotTaken, match="did not take the write in time"):
        commit_along(
            server.ref,
            [(b"/along/late", b"1")],
            [Put(Table.SCENARIO, b"scenario.late.code", b"\xa1x")],
        )
    assert time.monotonic() - started < 3.0
    release.set()
    monkeypatch.undo()
    commit_along(server.ref, [(b"/along/after", b"2")], [])  # after it, durable

    assert store.get(Table.SCENARIO, b"scenario.late.code") is None
    assert _tree(server, store) == [("/along/after", b"2")]


def test_an_ask_taken_before_its_timeout_is_waited_for(
    server: CloneServer, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    _held_hand_on(monkeypatch, release, taken_first=True)
    released = threading.Timer(0.5, release.set)  # after the ask's timeout
    released.start()
    try:
        commit_along(
            server.ref,
            [(b"/along/late", b"1")],
            [Put(Table.SCENARIO, b"scenario.late.code", b"\xa1x")],
        )
    finally:
        released.cancel()
        release.set()

    assert store.get(Table.SCENARIO, b"scenario.late.code") == b"\xa1x"
    assert _tree(server, store) == [("/along/late", b"1")]


def test_a_failure_of_the_writer_is_told_as_a_store_error(
    server: CloneServer, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its callers catch StoreError: any other error (a bug in the writer) left a
    scenario enabled with its actor stopped."""

    def failing(txn: object, ops: Sequence[Op]) -> None:
        if any(op.key == b"scenario.bug.code" for op in ops):
            raise RuntimeError("a bug in the writer")
        apply_ops(txn, ops)  # type: ignore[arg-type]  # a WriteTxn, passed on

    monkeypatch.setattr(store_writes, "apply_ops", failing)  # its import of it

    with pytest.raises(StoreError, match="a bug in the writer"):
        commit_along(
            server.ref,
            [(b"/along/new", b"2")],
            [Put(Table.SCENARIO, b"scenario.bug.code", b"\xa1x")],
        )

    assert store.get(Table.SCENARIO, b"scenario.bug.code") is None


@pytest.mark.parametrize(
    ("key", "body", "error"),
    [
        (b"along/rootless", b"2", StoreError),
        (b"/along/huge", b"x" * (DEFAULT_MAX_VALUE_BYTES + 1), ValueTooLargeError),
    ],
)
def test_an_entry_the_tree_refuses_is_raised_and_nothing_is_stored(
    server: CloneServer, store: Store, key: bytes, body: bytes, error: type[Exception]
) -> None:
    """Only logged before, while the other entries and the ops were stored."""
    with pytest.raises(error, match=key.decode()):
        commit_along(
            server.ref,
            [(b"/along/new", b"2"), (key, body)],
            [Put(Table.SCENARIO, b"scenario.x.code", b"\xa1x")],
        )

    assert _tree(server, store) == []
    assert store.get(Table.SCENARIO, b"scenario.x.code") is None


def test_a_write_taken_and_not_ended_in_time_is_said_unknown_never_failed(
    server: CloneServer, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer stuck in its transaction (a dying card's sync): the caller is not
    told "not stored" (it was said so, and the write landed after), but that it
    is not known; the write then lands."""
    release = threading.Event()

    def slow(txn: object, ops: Sequence[Op]) -> None:
        if any(op.key == b"scenario.slow.code" for op in ops):
            release.wait(10)
        apply_ops(txn, ops)  # type: ignore[arg-type]  # a WriteTxn, passed on

    monkeypatch.setattr(store_writes, "apply_ops", slow)  # its import of it
    monkeypatch.setattr(server_mod, "_TAKEN_WAIT_S", 0.3)
    try:
        with pytest.raises(StoreOutcomeUnknown, match="has not ended its write"):
            commit_along(
                server.ref,
                [(b"/along/slow", b"1")],
                [Put(Table.SCENARIO, b"scenario.slow.code", b"\xa1x")],
            )
    finally:
        release.set()

    wait_until(
        lambda: store.get(Table.SCENARIO, b"scenario.slow.code") == b"\xa1x",
        what="the write landed",
    )
    assert _tree(server, store) == [("/along/slow", b"1")]


def test_a_write_the_store_had_when_the_server_stopped_is_said_unknown(
    server: CloneServer, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store is not the server's: its writer writes what is queued after the
    server's stop. Told "not stored" (a plain StoreError), the caller started a
    deleted scenario again while its delete landed."""
    release = threading.Event()
    writing = threading.Event()

    def slow(txn: object, ops: Sequence[Op]) -> None:
        if any(op.key == b"scenario.slow.code" for op in ops):
            writing.set()
            release.wait(20)
        apply_ops(txn, ops)  # type: ignore[arg-type]  # a WriteTxn, passed on

    monkeypatch.setattr(store_writes, "apply_ops", slow)  # its import of it
    raised: list[BaseException] = []

    def ask() -> None:
        try:
            commit_along(
                server.ref, [], [Put(Table.SCENARIO, b"scenario.slow.code", b"\xa1x")]
            )
        except BaseException as exc:  # noqa: BLE001  # what the caller is told
            raised.append(exc)

    asker = threading.Thread(target=ask)
    asker.start()
    try:
        assert writing.wait(10)
        server.ref.stop(block=True, timeout=20)
        asker.join(20)
    finally:
        release.set()

    assert [type(exc) for exc in raised] == [StoreOutcomeUnknown]
    wait_until(
        lambda: store.get(Table.SCENARIO, b"scenario.slow.code") == b"\xa1x",
        what="the write landed",
    )
