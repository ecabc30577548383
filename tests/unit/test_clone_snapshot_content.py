"""SnapshotContent and cut_off_reason: what one snapshot sends, and when it ends early.

docs/protocols.md §6.3: KVSYNC [key, seq, '', '', value] per key of the subtree, then
exactly one KTHXBAI [KTHXBAI, seq, '', '', subtree]; raspy: each key's own sequence,
and the published coalesced values not yet stored laid over the store (issue 17).
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from raspy.cores.clone import Update
from raspy.cores.clone_snapshot import (
    DEFAULT_MAX_S,
    MIN_HWM,
    STALL_LIMIT_S,
    SnapshotContent,
    cut_off_reason,
    snapshot_hwm,
)
from raspy.protocol import clone


def _seq(seq: int) -> bytes:
    return clone.encode_seq(seq)


def _reading(key: bytes, seq: int, body: bytes) -> Update:
    return Update(seq, key, b"", (), body, None)


def _frames(content: SnapshotContent) -> list[list[bytes]]:
    return list(content.outgoing)


def test_an_empty_subtree_gets_kthxbai_alone_with_the_sequence_and_the_subtree() -> (
    None
):
    """§6.3: the server answers every well-formed ICANHAZ?, one matching no key too."""
    content = SnapshotContent(b"/none/", 7, [])
    content.end()
    assert _frames(content) == [[b"KTHXBAI", _seq(7), b"", b"", b"/none/"]]
    assert (content.entries, content.ended) == (0, True)


@pytest.mark.parametrize("command", [b"KTHXBAI", b"HUGZ"])
def test_a_stored_key_that_is_a_clone_command_is_left_out(command: bytes) -> None:
    """§6.2, §6.3 raspy: a key no write lets in but an older restore did; sent, it
    reads as the end of the snapshot (or a HUGZ), so KTHXBAI stays the last, alone."""
    content = SnapshotContent(b"", 9, [])
    content.add_record(b"/a", 2, b"1")
    content.add_record(command, 3, b"x")
    content.add_record(b"Zed", 4, b"2")
    content.end()
    assert _frames(content) == [
        [b"/a", _seq(2), b"", b"", b"1"],
        [b"Zed", _seq(4), b"", b"", b"2"],
        [b"KTHXBAI", _seq(9), b"", b"", b""],
    ]
    assert content.entries == 2


def test_each_stored_key_is_sent_with_its_own_sequence_then_kthxbai() -> None:
    """§6.3 raspy: the sequence of the update that last set the key; no uuid, no
    properties."""
    content = SnapshotContent(b"", 4, [])
    content.add_record(b"/a", 2, b"1")
    content.add_record(b"/b", 1, b"2")
    content.end()
    assert _frames(content) == [
        [b"/a", _seq(2), b"", b"", b"1"],
        [b"/b", _seq(1), b"", b"", b"2"],
        [b"KTHXBAI", _seq(4), b"", b"", b""],
    ]
    assert content.entries == 2


def test_published_readings_not_yet_stored_interleave_in_key_order() -> None:
    """Issue 17: a reading published but not yet written is in the snapshot."""
    overlay = [_reading(b"/d/a", 9, b"x"), _reading(b"/d/c", 10, b"y")]
    content = SnapshotContent(b"/d/", 10, overlay)
    content.add_record(b"/d/b", 3, b"s")
    content.end()
    assert [frames[0] for frames in _frames(content)] == [
        b"/d/a",
        b"/d/b",
        b"/d/c",
        b"KTHXBAI",
    ]


def test_the_higher_sequence_of_a_key_wins_between_store_and_overlay() -> None:
    content = SnapshotContent(
        b"", 20, [_reading(b"/new", 12, b"o"), _reading(b"/old", 5, b"o")]
    )
    content.add_record(b"/new", 11, b"s")
    content.add_record(b"/old", 6, b"s")
    content.end()
    assert _frames(content)[:2] == [
        [b"/new", _seq(12), b"", b"", b"o"],
        [b"/old", _seq(6), b"", b"", b"s"],
    ]


def test_a_newer_deletion_not_yet_stored_hides_the_key() -> None:
    """§6.4: an empty value means delete; the key is gone from the snapshot."""
    content = SnapshotContent(b"", 8, [_reading(b"/gone", 8, b"")])
    content.add_record(b"/gone", 2, b"v")
    content.add_record(b"/kept", 3, b"v")
    content.end()
    assert [frames[0] for frames in _frames(content)] == [b"/kept", b"KTHXBAI"]
    assert content.entries == 1


def test_kthxbai_is_queued_once_even_if_end_comes_twice() -> None:
    content = SnapshotContent(b"", 1, [])
    content.end()
    content.end()
    assert _frames(content) == [[b"KTHXBAI", _seq(1), b"", b"", b""]]


_KEYS = st.binary(min_size=1, max_size=3).map(lambda k: b"/" + k)
_SIDE = st.dictionaries(_KEYS, st.tuples(st.integers(1, 50), st.binary(max_size=2)))


@given(_SIDE, _SIDE, st.integers(1, 4))
def test_any_store_and_overlay_give_each_live_key_once_in_order_then_kthxbai(
    stored: dict[bytes, tuple[int, bytes]],
    published: dict[bytes, tuple[int, bytes]],
    chunk: int,
) -> None:
    """Whatever the chunking: every key once, in key order, with the newer value of
    the two sides; a key whose newer value is a deletion is absent; KTHXBAI last."""
    records = [(k, seq, body or b"v") for k, (seq, body) in sorted(stored.items())]
    overlay = [_reading(k, seq, body) for k, (seq, body) in sorted(published.items())]
    content = SnapshotContent(b"/", 99, overlay)
    for start in range(0, len(records), chunk):
        for key, seq, body in records[start : start + chunk]:
            content.add_record(key, seq, body)
    content.end()
    newest = {key: (seq, body) for key, seq, body in records}
    for update in overlay:
        if update.key not in newest or update.seq > newest[update.key][0]:
            newest[update.key] = (update.seq, update.body)
    expected = [
        [key, _seq(seq), b"", b"", body]
        for key, (seq, body) in sorted(newest.items())
        if body
    ]
    assert _frames(content) == [*expected, [b"KTHXBAI", _seq(99), b"", b"", b"/"]]


LONG = DEFAULT_MAX_S + 1
STALL = STALL_LIMIT_S + 1


@pytest.mark.parametrize(
    ("elapsed_s", "idle_s", "blocked", "growing", "expected"),
    [
        (1.0, 1.0, False, False, None),
        (1.0, 1.0, False, True, "store_growing"),
        (LONG, 1.0, False, False, "too_long"),
        (1.0, STALL, True, False, "stalled"),
        (1.0, STALL, False, False, None),
        (1.0, STALL_LIMIT_S - 1, True, False, None),
    ],
    ids=[
        "running",
        "store_growing",
        "too_long",
        "stalled",
        "idle_not_blocked",
        "short_stall",
    ],
)
def test_a_snapshot_is_cut_off_only_for_its_reasons(
    elapsed_s: float, idle_s: float, blocked: bool, growing: bool, expected: str | None
) -> None:
    """Issue 18: no client holds the store's writes hostage; a blocked peer that
    reads nothing for STALL_LIMIT_S loses its snapshot, an idle one waiting for
    nothing does not."""
    now = 1000.0
    reason = cut_off_reason(
        now=now,
        started_at=now - elapsed_s,
        progress_at=now - idle_s,
        blocked=blocked,
        store_growing=growing,
    )
    assert reason == expected


def test_the_stall_limit_is_the_one_given() -> None:
    """[limits] snapshot_stall_s: a peer stuck for longer is cut off, sooner is not."""
    now = 1000.0
    for idle_s, expected in ((0.4, None), (0.6, "stalled")):
        reason = cut_off_reason(
            now=now,
            started_at=now - 1,
            progress_at=now - idle_s,
            blocked=True,
            store_growing=False,
            stall_s=0.5,
        )
        assert reason == expected


MB = 1024 * 1024


@pytest.mark.parametrize(
    ("budget", "largest", "chunk", "expected"),
    [
        (8 * MB, 64 * 1024 + 4375, 500, 119),  # the defaults: 119 of the largest
        (8 * MB, 4 * MB + 4375, 500, MIN_HWM),  # values too large: at least two
        (8 * MB, 1024, 500, 1000),  # small values: two chunks at most
    ],
    ids=["defaults", "huge_values", "small_values"],
)
def test_the_snapshot_queue_holds_a_peers_byte_budget_of_the_largest_messages(
    budget: int, largest: int, chunk: int, expected: int
) -> None:
    """Issue 18: 32 peers that never read once held two chunks of the largest
    values each (1000 messages of ~68 KB); now a peer's budget at most."""
    assert snapshot_hwm(budget, largest, chunk) == expected
    assert expected == MIN_HWM or expected * largest <= budget


def test_a_snapshot_hwm_needs_a_budget_and_a_size() -> None:
    with pytest.raises(ValueError, match="must be > 0"):
        snapshot_hwm(0, 1024, 500)
    with pytest.raises(ValueError, match="must be > 0"):
        snapshot_hwm(1024, 0, 500)
