"""TurnWrites on a real Store in tmp_path: one submit per turn, tokens back per batch,
a too-large value refused alone, and each add its own submit without group commit."""

from __future__ import annotations

import queue
from pathlib import Path

import pytest
from support.store_fixtures import (
    EVENT_TIMEOUT_S,
    TINY,
    data_dir_fixture,  # noqa: F401  # fixture `data_dir`
    store_fixture,  # noqa: F401  # fixture `store`
)

from raspy.config import StoreConfig
from raspy.errors import ValueTooLargeError
from raspy.storage.store import Delete, Put, Store, Table
from raspy.storage.turn_writes import TurnWrites

pytestmark = pytest.mark.timeout(30)

Done = queue.SimpleQueue[tuple[int, BaseException | None]]


def _writes(store: Store) -> tuple[TurnWrites, Done, list[int]]:
    done: Done = queue.SimpleQueue()
    requested: list[int] = []
    writes = TurnWrites(
        store,
        lambda batch, error: done.put((batch, error)),
        request_flush=lambda: requested.append(1),
    )
    return writes, done, requested


def test_a_turns_writes_are_one_submit_and_the_batch_names_its_tokens(
    store: Store,
) -> None:
    writes, done, requested = _writes(store)
    before = store.stats()["submits"]
    writes.add(7, [Put(Table.KV, b"a", b"1"), Put(Table.KV, b"b", b"2")])
    writes.add(8, [Delete(Table.KV, b"c")])
    assert requested == [1]  # one flush asked for the turn, not one per add
    writes.flush()
    batch, error = done.get(timeout=EVENT_TIMEOUT_S)
    assert error is None
    assert store.stats()["submits"] == before + 1
    assert writes.tokens_of(batch) == [7, 8]
    assert writes.tokens_of(batch) == []  # told once
    assert store.get(Table.KV, b"a") == b"1"
    assert store.get(Table.KV, b"b") == b"2"


def test_a_covered_turn_asks_for_no_flush_and_an_empty_flush_submits_nothing(
    store: Store,
) -> None:
    writes, done, requested = _writes(store)
    before = store.stats()["submits"]
    writes.flush()
    writes.covered()
    writes.add(1, [Put(Table.KV, b"k", b"v")])
    assert requested == []
    writes.flush()
    assert done.get(timeout=EVENT_TIMEOUT_S)[1] is None
    assert store.stats()["submits"] == before + 1


def test_a_value_over_the_limit_is_refused_alone_and_nothing_of_it_is_written(
    store: Store,
) -> None:
    writes, done, _ = _writes(store)
    too_big = b"x" * (TINY.max_value_bytes + 1)
    with pytest.raises(ValueTooLargeError, match="max_value_bytes"):
        writes.add(1, [Put(Table.KV, b"first", b"ok"), Put(Table.KV, b"big", too_big)])
    writes.add(2, [Put(Table.KV, b"second", b"ok")])
    writes.flush()
    batch, error = done.get(timeout=EVENT_TIMEOUT_S)
    assert error is None
    assert writes.tokens_of(batch) == [2]
    assert store.get(Table.KV, b"first") is None
    assert store.get(Table.KV, b"second") == b"ok"


def test_without_group_commit_every_add_is_its_own_submit(data_dir: Path) -> None:
    config = StoreConfig(map_size_initial_mb=1, group_commit=False)
    with Store.open(data_dir, config) as store:
        writes, done, requested = _writes(store)
        writes.add(1, [Put(Table.KV, b"a", b"1")])
        writes.add(2, [Put(Table.KV, b"b", b"2")])
        assert requested == []
        batches = [done.get(timeout=EVENT_TIMEOUT_S) for _ in range(2)]
        assert [writes.tokens_of(batch) for batch, _ in batches] == [[1], [2]]
        assert all(error is None for _, error in batches)


def test_a_submit_refused_by_a_closed_store_reports_the_batch_failed(
    data_dir: Path,
) -> None:
    store = Store.open(data_dir, TINY)
    writes, done, _ = _writes(store)
    writes.add(5, [Put(Table.KV, b"a", b"1")])
    store.close()
    writes.flush()
    batch, error = done.get(timeout=EVENT_TIMEOUT_S)
    assert error is not None
    assert writes.tokens_of(batch) == [5]
