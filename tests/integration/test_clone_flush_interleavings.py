"""The Clone server's commit pipeline under any order of its events, failures among
them: readings, clients' writes and deletes, submits (held too, as for a snapshot),
releases, flushes, and each write stored or refused in the order it was submitted
(the store's writer is one FIFO thread). After every step: the store never holds
an older value of a key after a newer one, a flush writes only values subscribers
were told, and what a snapshot would read (the store under the published, unstored
overlay) is what subscribers were told. At a clean stop every value told is stored.

The writes wait in a queue here and go to a real LMDB store one at a time, or are
refused as a full store's would be: which happens first is the test's to choose.
"""

from __future__ import annotations

import functools
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from support.wait import wait_until

from raspy.actors.clone.commit import CommitPipeline
from raspy.actors.clone.commit_failures import Batch
from raspy.actors.clone.flushes import Flush
from raspy.config import StoreConfig
from raspy.cores import clone as core_mod
from raspy.errors import StoreFullError
from raspy.stats import Stats
from raspy.storage.ops import Op
from raspy.storage.store import Store
from raspy.storage.tables import Table, decode_kv
from raspy.storage.writer import Done
from raspy.transport.wakeup import Wakeup

pytestmark = pytest.mark.timeout(300)

KEYS = (b"/device/a", b"/device/b", b"/stats/x")  # the last one volatile
STORED_KEYS = KEYS[:2]


@dataclass
class Held:
    """A real store whose submits wait here, in order, until the test lets the
    oldest one through (written, its answer awaited) or refuses it."""

    store: Store
    pipeline: Callable[[], CommitPipeline]
    config: StoreConfig = field(init=False)
    queue: deque[tuple[list[Op], Done]] = field(default_factory=deque)
    newest: dict[bytes, int] = field(default_factory=dict)  # seq the store last took

    def __post_init__(self) -> None:
        self.config = self.store.config

    def submit_then(
        self, ops: Sequence[Op], on_done: Done, *, alone: bool = False
    ) -> None:
        self.store.validate(ops)
        job = _job(on_done)
        if isinstance(job, Flush):  # only values subscribers were told
            published = self.pipeline().published_seq
            assert all(u.seq <= published for u in job.updates), "unpublished"
        self.queue.append((list(ops), on_done))

    def write(self) -> None:
        ops, on_done = self.queue.popleft()
        job = _job(on_done)
        if isinstance(job, Flush):
            updates = job.updates
        else:  # a batch writes its durable updates (and its mark)
            updates = [u for u, coalesced in job.entries if not coalesced]
        written = {u.key: u.seq for u in updates}
        for op in ops:
            if op.table is Table.KV:
                seq = written[op.key]
                assert seq >= self.newest.get(op.key, 0), f"{op.key!r} went back"
                self.newest[op.key] = seq
        answers: list[BaseException | None] = []
        self.store.submit_then(ops, answers.append)
        wait_until(lambda: bool(answers), what="the write stored")
        on_done(answers[0])

    def refuse(self) -> None:
        _, on_done = self.queue.popleft()
        on_done(StoreFullError("the store is full (refused)"))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


def _job(on_done: Done) -> Batch | Flush:
    """The pipeline's job an answer goes to (its on_done is a partial over it)."""
    assert isinstance(on_done, functools.partial)
    job = on_done.args[0]
    assert isinstance(job, Batch | Flush)
    return job


@contextmanager
def _held_pipeline(data_dir: Path) -> Iterator[tuple[Held, CommitPipeline, Wakeup]]:
    store = Store.open(data_dir, StoreConfig(map_size_initial_mb=1, seq_block=3))
    wake = Wakeup()
    try:
        pipelines: list[CommitPipeline] = []
        held = Held(store, lambda: pipelines[0])
        pipeline = CommitPipeline(
            cast(Store, held), core_mod.CloneCore(), Stats(), wake
        )
        pipelines.append(pipeline)
        pipeline.load(0.0)
        yield held, pipeline, wake
    finally:
        wake.close()
        store.close()


def _snapshot(held: Held, pipeline: CommitPipeline) -> dict[bytes, int]:
    """What a snapshot started now reads of each key: the store under the overlay."""
    seen: dict[bytes, int] = {}
    for key in KEYS:
        raw = held.store.get(Table.KV, key)
        if raw is not None:
            seen[key] = decode_kv(raw).seq
        shown = pipeline.buffer.shown(key)
        if shown is not None and shown.seq > seen.get(key, 0):
            seen.pop(key, None)
            if not shown.is_delete:
                seen[key] = shown.seq
    return seen


def _told_tree(told: dict[bytes, core_mod.Update]) -> dict[bytes, int]:
    return {key: u.seq for key, u in told.items() if not u.is_delete}


_STEPS = st.lists(
    st.one_of(
        st.tuples(
            st.sampled_from(["reading", "write", "delete"]), st.sampled_from(KEYS)
        ),
        st.tuples(
            st.sampled_from(["submit", "hold", "release", "flush", "store", "refuse"]),
            st.just(b""),
        ),
    ),
    max_size=60,
)


@example(  # a reading told, its next one behind a client's write of another key:
    steps=[  # the one told is written in its place (and put back when refused)
        ("reading", KEYS[0]),
        ("submit", b""),  # its block's mark
        ("store", b""),
        ("release", b""),
        ("write", KEYS[1]),
        ("submit", b""),
        ("reading", KEYS[0]),
        ("submit", b""),
        ("flush", b""),
        ("store", b""),
        ("refuse", b""),
        ("release", b""),
    ]
)
@example(  # the same behind a client's write of its own key: the reading told
    steps=[  # before that write must not be written after it
        ("reading", KEYS[0]),
        ("submit", b""),
        ("store", b""),
        ("release", b""),
        ("write", KEYS[0]),
        ("submit", b""),
        ("reading", KEYS[0]),
        ("submit", b""),
        ("flush", b""),
        ("store", b""),
        ("store", b""),
    ]
)
@example(  # a group refused, written again a value each: not the one whose key a
    steps=[  # client's write submitted meanwhile took
        ("reading", KEYS[0]),
        ("reading", KEYS[1]),
        ("submit", b""),
        ("store", b""),
        ("release", b""),
        ("flush", b""),
        ("write", KEYS[0]),
        ("submit", b""),
        ("refuse", b""),
        ("release", b""),
        ("store", b""),
        ("store", b""),
    ]
)
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(steps=_STEPS)
def test_no_order_of_writes_and_failures_breaks_the_stores_invariants(
    tmp_path_factory: pytest.TempPathFactory, steps: list[tuple[str, bytes]]
) -> None:
    with _held_pipeline(tmp_path_factory.mktemp("data")) as (held, pipeline, wake):
        told: dict[bytes, core_mod.Update] = {}
        seq = 0

        def release() -> None:
            for update in pipeline.released():
                told[update.key] = update
            wake.drain()

        for action, key in steps:
            if action in ("reading", "write", "delete"):
                seq += 1
                body = b"" if action == "delete" else str(seq).encode()
                uuid = b"" if action == "reading" else b"%016d" % seq
                update = core_mod.Update(seq, key, uuid, (), body, None)
                pipeline.accept(update, coalesced=action == "reading")
            elif action == "submit":
                pipeline.submit()
            elif action == "hold":
                pipeline.submit(hold=True)
            elif action == "release":
                release()
            elif action == "flush":
                pipeline.flush()
            elif action == "store" and held.queue:
                held.write()
            elif action == "refuse" and held.queue:
                held.refuse()
            if not pipeline.storing:
                assert _snapshot(held, pipeline) == _told_tree(told)
        # a clean stop: nothing refused now, everything told is stored
        for _ in range(50):
            pipeline.submit()
            release()
            pipeline.flush()
            while held.queue:
                held.write()
            release()
            if not pipeline.in_flight:
                break
        assert not pipeline.in_flight
        assert _snapshot(held, pipeline) == _told_tree(told)
        stored = {
            key: decode_kv(raw).seq
            for key in STORED_KEYS
            if (raw := held.store.get(Table.KV, key)) is not None
        }
        assert stored == {k: s for k, s in _told_tree(told).items() if k in STORED_KEYS}
