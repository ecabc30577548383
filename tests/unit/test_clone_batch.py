"""The in-process batch message of ClonePublisher (raspy/protocol/clone_local.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from raspy import packing
from raspy.errors import MalformedMessage
from raspy.protocol.clone_local import BATCH_BYTES, BATCH_LIMIT, chunks, unpack_batch

_ENTRIES = st.lists(
    st.tuples(st.binary(max_size=40), st.binary(max_size=40)), max_size=50
)


@given(_ENTRIES)
def test_a_packed_batch_unpacks_to_the_same_entries(
    entries: list[tuple[bytes, bytes]],
) -> None:
    assert unpack_batch(packing.pack(entries)) == entries


@given(st.binary(max_size=200))
def test_any_bytes_unpack_or_raise_malformed_message(frame: bytes) -> None:
    """Never another exception: the Clone I/O thread must not die on a bad frame."""
    try:
        entries = unpack_batch(frame)
    except MalformedMessage as exc:
        reason = exc.reason
    else:
        assert all(type(k) is bytes and type(v) is bytes for k, v in entries)
        return
    assert reason == "bad_batch"


@pytest.mark.parametrize(
    "value",
    [
        {"a": 1},
        [[b"/k"]],
        [[b"/k", "text"]],
        [[b"/k", b"v", b"extra"]],
        [(b"/k", b"v")] * (BATCH_LIMIT + 1),
    ],
    ids=["not_a_list", "short_entry", "str_body", "long_entry", "over_the_limit"],
)
def test_wrong_shapes_are_refused_with_bad_batch(value: object) -> None:
    with pytest.raises(MalformedMessage, match="bad_batch"):
        unpack_batch(packing.pack(value))


@given(
    st.lists(
        st.tuples(st.binary(max_size=8), st.integers(0, 700_000)),
        max_size=30,
    )
)
def test_chunks_keep_order_count_and_size_bounds(
    sizes: list[tuple[bytes, int]],
) -> None:
    """Every entry once, in order; a chunk over BATCH_BYTES holds a single entry."""
    entries = [(key, bytes(size)) for key, size in sizes]
    messages = list(chunks(entries))
    assert [entry for chunk in messages for entry in chunk] == entries
    for chunk in messages:
        assert 1 <= len(chunk) <= BATCH_LIMIT
        size = sum(len(k) + len(v) for k, v in chunk)
        assert size <= BATCH_BYTES or len(chunk) == 1


def test_a_thousand_and_one_small_entries_take_two_messages() -> None:
    entries = [(b"/k", b"v")] * (BATCH_LIMIT + 1)
    assert [len(chunk) for chunk in chunks(entries)] == [BATCH_LIMIT, 1]
