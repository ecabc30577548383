"""The write budget's pure parts (issue 17): sequence blocks and the coalescing buffer.

SequenceBlocks must never let a number be published that a restart could give again;
CoalescingBuffer must write the latest value per key, never an older value after a
newer durable one, and show snapshots exactly what was published but not stored.
"""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from raspy.cores.clone import Accept, CloneCore, Update
from raspy.cores.clone_durability import CoalescingBuffer, SequenceBlocks, is_volatile


def _update(seq: int, key: bytes, body: bytes = b"v") -> Update:
    return Update(seq, key, b"", (), body, None)


def test_a_coalesced_number_past_the_mark_opens_a_whole_block() -> None:
    blocks = SequenceBlocks(stored_mark=7, block=100)
    blocks.cover(8, coalesced=True)
    assert (blocks.wanted, blocks.confirmed, blocks.covered(8)) == (107, 7, False)
    blocks.confirm(107)
    assert (blocks.covered(107), blocks.covered(108)) == (True, False)


def test_a_durable_number_raises_the_mark_to_itself_only() -> None:
    blocks = SequenceBlocks(stored_mark=7, block=100)
    blocks.cover(8, coalesced=False)
    assert blocks.wanted == 8


def test_blocks_refuse_a_block_below_one() -> None:
    with pytest.raises(ValueError, match="block must be >= 1, got 0"):
        SequenceBlocks(stored_mark=0, block=0)


@given(
    block=st.integers(min_value=1, max_value=50),
    kinds=st.lists(st.booleans(), min_size=1, max_size=300),
    crash_at=st.integers(min_value=0, max_value=300),
)
def test_after_a_crash_the_next_number_is_above_every_published_one(
    block: int, kinds: list[bool], crash_at: int
) -> None:
    """The protocol of CommitPipeline, in miniature: a mark is stored (and confirmed)
    before a coalesced number past it is published; durable numbers go out with
    their own mark. A crash anywhere loses what was not stored; the restart starts
    from the stored mark, and must give no number a subscriber already saw."""
    stored = 0
    blocks = SequenceBlocks(stored, block)
    published: list[int] = []
    writes = 0
    for seq, coalesced in enumerate(kinds[:crash_at], start=1):
        blocks.cover(seq, coalesced=coalesced)
        if not coalesced or not blocks.covered(seq):
            stored = blocks.wanted  # one transaction: the mark (and a durable value)
            blocks.confirm(stored)
            writes += 1
        assert blocks.covered(seq)
        published.append(seq)
    restarted = CloneCore()
    restarted.load(stored, (), now=0.0)
    [first] = restarted.on_local_batch([(b"/k", b"1")], now=0.0)
    assert isinstance(first, Accept)
    assert first.update.seq > max(published, default=0)
    given_out = kinds[:crash_at]
    if given_out and all(given_out):
        assert writes == -(-len(given_out) // block)  # one write per block


def test_take_returns_the_latest_value_per_key_in_sequence_order() -> None:
    buffer = CoalescingBuffer()
    for update in (_update(1, b"/a"), _update(2, b"/b"), _update(3, b"/a", b"new")):
        buffer.accept(update)
    assert buffer.take() == [_update(2, b"/b"), _update(3, b"/a", b"new")]
    assert buffer.take() == []


def test_take_up_to_a_mark_leaves_the_numbers_past_it_pending() -> None:
    buffer = CoalescingBuffer()
    for update in (_update(1, b"/a"), _update(2, b"/b"), _update(3, b"/c")):
        buffer.accept(update)
    assert buffer.take(2) == [_update(1, b"/a"), _update(2, b"/b")]
    assert buffer.pending_count == 1
    assert buffer.take(2) == []
    assert buffer.take(3) == [_update(3, b"/c")]


def test_a_durable_update_keeps_the_older_coalesced_value_from_being_written() -> None:
    buffer = CoalescingBuffer()
    buffer.accept(_update(1, b"/a"))
    buffer.supersede(_update(2, b"/a", b"durable"))
    assert buffer.take() == []


def test_overlay_shows_published_values_until_the_store_holds_them() -> None:
    buffer = CoalescingBuffer()
    first, second = _update(1, b"/d/a"), _update(2, b"/d/b")
    for update in (first, second):
        buffer.accept(update)
        buffer.released(update, coalesced=True)
    assert buffer.overlay(b"/d/") == [first, second]
    assert buffer.overlay(b"/x/") == []
    buffer.written(buffer.take()[:1])
    assert buffer.overlay(b"") == [second]


def test_a_released_durable_update_hides_the_older_coalesced_value() -> None:
    buffer = CoalescingBuffer()
    reading = _update(1, b"/d/a")
    buffer.accept(reading)
    buffer.released(reading, coalesced=True)
    deletion = _update(2, b"/d/a", b"")
    buffer.supersede(deletion)
    buffer.released(deletion, coalesced=False)
    assert buffer.overlay(b"") == []


def test_a_volatile_key_is_never_pending_and_stays_in_the_overlay() -> None:
    """`/stats/` lives in memory only: no flush takes it, a failed write (a mark
    that could not be stored: CommitFailures._lost) does not put it back to be
    written, and the overlay, the only place that holds it, keeps it."""
    buffer = CoalescingBuffer()
    uptime, reading = _update(1, b"/stats/h/clone/uptime_s"), _update(2, b"/d/a")
    for update in (uptime, reading):
        buffer.accept(update)
        buffer.released(update, coalesced=True)
    assert not buffer.has_pending(uptime.key)
    assert buffer.restore(uptime) is False
    taken = buffer.take()
    assert taken == [reading]
    buffer.written(taken)
    assert buffer.overlay(b"") == [uptime]
    assert (is_volatile(uptime.key), is_volatile(b"/device/stats/x")) == (True, False)


_OPS = st.lists(
    st.tuples(st.sampled_from([b"/a", b"/b", b"/c"]), st.booleans()),
    max_size=60,
)


@given(ops=_OPS, flush_every=st.integers(min_value=1, max_value=10))
def test_the_store_ends_with_the_newest_value_of_every_key(
    ops: list[tuple[bytes, bool]], flush_every: int
) -> None:
    """Durable writes go to the store at once, coalesced ones with each flush, in
    submit order (the store's writer is FIFO). After a final flush the store must
    hold, for every key, the update with the highest sequence number."""
    buffer = CoalescingBuffer()
    store: dict[bytes, Update] = {}
    newest: dict[bytes, Update] = {}
    for seq, (key, coalesced) in enumerate(ops, start=1):
        update = _update(seq, key, str(seq).encode())
        newest[key] = update
        if coalesced:
            buffer.accept(update)
        else:
            buffer.supersede(update)
            store[key] = update
        buffer.released(update, coalesced=coalesced)
        if seq % flush_every == 0:
            taken = buffer.take()
            store.update((u.key, u) for u in taken)
            buffer.written(taken)
        shown = {u.key: u for u in buffer.overlay(b"")}
        merged = {
            k: max((u for u in (store.get(k), shown.get(k)) if u), key=lambda u: u.seq)
            for k in store.keys() | shown.keys()
        }
        assert merged == newest  # what a snapshot shows: store under the overlay
    store.update((u.key, u) for u in buffer.take())
    assert store == newest


_STEPS = st.lists(
    st.one_of(
        st.tuples(
            st.sampled_from(["reading", "write"]), st.sampled_from([b"/a", b"/b"])
        ),
        st.tuples(st.sampled_from(["commit", "release", "flush"]), st.just(b"")),
    ),
    max_size=80,
)


@example(  # a reading told, then its next one waits behind a client's write
    steps=[
        ("reading", b"/a"),
        ("release", b""),
        ("write", b"/b"),
        ("reading", b"/a"),
        ("flush", b""),
        ("commit", b""),
        ("commit", b""),
    ]
)
@given(steps=_STEPS)
def test_a_flush_stores_every_value_told_before_it_and_never_an_older_one(
    steps: list[tuple[str, bytes]],
) -> None:
    """CommitPipeline's order, in miniature, with releases that lag: a client's
    write (durable) is released only once the store's FIFO writer committed it, and
    the readings numbered after it wait behind it. A flush takes what was published
    and, for a key whose newest reading still waits, the one told before it
    (`stand_ins`), unless a client's write of the key is on its way. Once the flush
    is committed the store holds, for every key, at least what subscribers were
    told when it was submitted; no key's stored number ever goes down."""
    buffer = CoalescingBuffer()
    store: dict[bytes, Update] = {}
    queue: list[list[Update]] = []  # the writer's jobs, in submit order
    unreleased: list[tuple[Update, bool]] = []  # (update, coalesced), in seq order
    committed: set[int] = set()  # durable numbers the writer stored
    told: dict[bytes, Update] = {}
    expected: dict[int, dict[bytes, Update]] = {}  # a flush job's id -> told then
    seq = 0

    def commit() -> None:
        job = queue.pop(0)
        for update in job:
            old = store.get(update.key)
            assert old is None or old.seq <= update.seq, "a stored value went back"
            store[update.key] = update
            committed.add(update.seq)
        if id(job) in expected:
            buffer.written(job)
            for key, update in expected.pop(id(job)).items():
                stored = store.get(key, _update(0, key))
                assert stored.seq >= update.seq, f"{key!r} not stored"

    for action, key in steps:
        if action == "reading":
            seq += 1
            update = _update(seq, key, str(seq).encode())
            buffer.accept(update)
            unreleased.append((update, True))
        elif action == "write":
            seq += 1
            update = _update(seq, key, str(seq).encode())
            buffer.supersede(update)
            queue.append([update])
            unreleased.append((update, False))
        elif action == "commit" and queue:
            commit()
        elif action == "release":
            while unreleased and (
                unreleased[0][1] or unreleased[0][0].seq in committed
            ):
                update, coalesced = unreleased.pop(0)
                buffer.released(update, coalesced=coalesced)
                told[update.key] = update
        elif action == "flush" and not any(id(job) in expected for job in queue):
            published = max((u.seq for u in told.values()), default=0)
            on_their_way = {u.key for u, coalesced in unreleased if not coalesced}
            job = buffer.take(published)
            job += buffer.stand_ins(published, on_their_way)
            assert all(u.seq <= published for u in job), "an unpublished value taken"
            queue.append(job)
            expected[id(job)] = dict(told)
    while queue:
        commit()
