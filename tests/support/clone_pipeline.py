"""The Clone server's commit pipeline driven by hand over a real Store: a store whose
next submits are refused as a full one's would be, the releases drained, what the
store holds of a key, and updates made to measure."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast

from raspy.actors.clone.commit import CommitPipeline
from raspy.config import StoreConfig
from raspy.cores import clone as core_mod
from raspy.errors import StoreFullError
from raspy.stats import Stats
from raspy.storage.ops import Op, Put
from raspy.storage.store import Store
from raspy.storage.tables import KvRecord, Table, decode_kv
from raspy.storage.writer import Done
from raspy.transport.wakeup import Wakeup
from support.wait import wait_until

KEY = b"/device/t/value"


class Refusing:
    """A real store whose next `refuse` submits fail as a full one's would (a
    transient failure of exactly one write, which the map cannot be made to give);
    and, while `room` is not None, every submit whose values take more than `room`
    bytes: a full disk, on which a write that fits the pages the store has
    already is stored, and one that needs more is refused."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.config = store.config
        self.refuse = 0
        self.room: int | None = None

    def submit_then(
        self, ops: Sequence[Op], on_done: Done, *, alone: bool = False
    ) -> None:
        if self.refuse:
            self.refuse -= 1
            raise StoreFullError(f"store in {self.store.path} is full (refused)")
        size = sum(len(op.value) for op in ops if isinstance(op, Put))
        if self.room is not None and size > self.room:
            raise StoreFullError(f"store in {self.store.path}: no room on its disk")
        self.store.submit_then(ops, on_done, alone=alone)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


def taking_released(pipeline: CommitPipeline) -> Callable[[], None]:
    """A publish for CommitPipeline.finish that takes what it released, as the Clone
    loop's stop does, and tells no one: one that took nothing left the batches
    unreleased, and finish waited out its whole limit."""

    def publish() -> None:
        for _ in pipeline.released():
            pass

    return publish


def drained(pipeline: CommitPipeline) -> list[int]:
    """The sequence numbers released once nothing is on its way to the store."""
    out: list[int] = []

    def settled() -> bool:
        out.extend(update.seq for update in pipeline.released())
        return not pipeline._batches

    wait_until(settled, what="the batches settled")
    return out


def flushed(pipeline: CommitPipeline) -> None:
    """A flush submitted now, and waited for (what it wrote, or put back); the
    batches stored meanwhile are released."""
    pipeline.flush()

    def settled() -> bool:
        list(pipeline.released())  # collects the store's answers
        return pipeline._flushing is None

    wait_until(settled, what="the flush settled")


def stored(store: Store, key: bytes) -> KvRecord | None:
    raw = store.get(Table.KV, key)
    return None if raw is None else decode_kv(raw)


def reading(
    seq: int, body: bytes, key: bytes = KEY, uuid: bytes = b""
) -> core_mod.Update:
    """An update of `key` numbered `seq` (a uuid: an in-process writer's set)."""
    return core_mod.Update(seq, key, uuid, (), body, None)


@dataclass(frozen=True, slots=True)
class Refused:
    """A commit pipeline over a real store that can be told to refuse writes."""

    store: Store
    refusing: Refusing
    pipeline: CommitPipeline
    stats: Stats


@contextmanager
def refusing_pipeline(data_dir: Path, seq_block: int = 1000) -> Iterator[Refused]:
    """A 1 MB store in `data_dir`, a Refusing over it and a loaded CommitPipeline
    writing through it; the store and the wake-up closed at the end."""
    store = Store.open(
        data_dir, StoreConfig(map_size_initial_mb=1, seq_block=seq_block)
    )
    wake = Wakeup()
    try:
        refusing = Refusing(store)
        stats = Stats()
        pipeline = CommitPipeline(
            cast(Store, refusing), core_mod.CloneCore(), stats, wake
        )
        pipeline.load(0.0)
        yield Refused(store, refusing, pipeline, stats)
    finally:
        wake.close()
        store.close()


@contextmanager
def one_mb_pipeline(
    data_dir: Path, *, filled: bool = False
) -> Iterator[tuple[Store, CommitPipeline, Stats]]:
    """A store whose map never grows past 1 MB (a value may be 2 MB: bigger than
    the map can ever hold) and a loaded CommitPipeline over it; `filled` first
    stores some 200 KB of history rows. Closed at the end."""
    config = StoreConfig(map_size_initial_mb=1, map_size_max_mb=1)
    store = Store.open(data_dir, replace(config, max_value_bytes=2 << 20))
    if filled:
        store.commit(
            [Put(Table.HISTORY, b"h%04d" % i, b"r" * 100) for i in range(2000)]
        )
    wake = Wakeup()
    try:
        stats = Stats()
        pipeline = CommitPipeline(store, core_mod.CloneCore(), stats, wake)
        pipeline.load(0.0)
        yield store, pipeline, stats
    finally:
        wake.close()
        store.close()
