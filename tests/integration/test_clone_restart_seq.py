"""A Clone server started again in the same raspyd (its I/O thread failed, a
restart by the supervisor) over the same store: the old server's writes may still
wait in the store's queue. The new one reads the sequence only once they are
written, so it never gives out a number the store already holds (§6.2)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.wait import wait_until
from support.writer_gate import WriterGate

from raspy.actors.clone.commit import CommitPipeline
from raspy.config import StoreConfig
from raspy.cores import clone as core_mod
from raspy.stats import Stats
from raspy.storage.store import Store, Table
from raspy.storage.tables import decode_kv
from raspy.transport.wakeup import Wakeup


@pytest.fixture(name="store")
def store_fixture(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(tmp_path / "data", StoreConfig(map_size_initial_mb=1))
    yield opened
    opened.close()


def _pipeline(store: Store, wake: Wakeup) -> CommitPipeline:
    return CommitPipeline(store, core_mod.CloneCore(), Stats(), wake)


def test_a_server_started_again_reads_the_sequence_after_the_old_ones_writes(
    store: Store,
) -> None:
    """The old server's durable update waits in the store's queue (a slow card)
    when the new one starts: the new one read the mark before it was written, and
    gave the update's number again to another key."""
    wake = Wakeup()
    old = _pipeline(store, wake)
    old.load(0.0)
    try:
        with WriterGate(store) as gate:
            (accepted,) = old._core.on_kvset(
                [b"/a", b"\x00" * 8, b"u" * 16, b"", b"old"], 0.0
            )
            assert isinstance(accepted, core_mod.Accept)
            old.accept(accepted.update)
            old.submit()  # queued behind the gate, not written yet
            new = _pipeline(store, wake)
            loaded = gate.open_once_started(
                lambda: new.load(0.0), what="the new server's start"
            )
        wait_until(lambda: store.get(Table.KV, b"/a") is not None, what="the write")
        stored = store.get(Table.KV, b"/a")
        assert stored is not None
        assert loaded == decode_kv(stored).seq == 1  # the next number is 2
    finally:
        wake.close()
