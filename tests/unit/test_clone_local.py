"""The in-process envelope to the Clone server and CloneCore's answer to it.

In-process publishes are numbered, stored and published exactly as a KVSET from the
collector would be (docs/protocols.md §6.4); what cannot be read is rejected with a
reason and takes no sequence number. Which rejections are logged: §6.4 (raspy) resends.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from raspy import packing
from raspy.cores.clone import Accept, CloneCore, Rejected, Update
from raspy.errors import MalformedMessage
from raspy.protocol import clone
from raspy.protocol.clone_local import (
    BATCH_CHANNEL,
    PUBLISH_CHANNEL,
    LocalBatch,
    LocalKvset,
    decode_local,
)

NOW = 50.0
UUID_A = b"A" * 16


def test_a_publish_message_carries_the_collectors_five_frames() -> None:
    frames = clone.kvset(b"/a", b"v", UUID_A, (("unit", "C"),))
    assert decode_local([PUBLISH_CHANNEL, *frames]) == LocalKvset(frames)


def test_a_batch_message_carries_its_entries_in_order() -> None:
    entries = [(b"/b", b"1"), (b"/a", b"2")]
    packed = packing.pack(entries)
    assert decode_local([BATCH_CHANNEL, packed]) == LocalBatch(entries)


@pytest.mark.parametrize(
    "frames",
    [[], [b"X", b"body"], [b""], [BATCH_CHANNEL], [BATCH_CHANNEL, b"\x90", b"more"]],
    ids=["nothing", "unknown_channel", "empty_channel", "batch_alone", "batch_long"],
)
def test_any_other_shape_is_a_bad_channel(frames: list[bytes]) -> None:
    with pytest.raises(MalformedMessage) as caught:
        decode_local(frames)
    assert (caught.value.reason, caught.value.detail) == ("bad_channel", "")


_CHANNEL = st.sampled_from([PUBLISH_CHANNEL, BATCH_CHANNEL]) | st.binary(max_size=2)


@given(_CHANNEL, st.lists(st.binary(max_size=12), max_size=6))
def test_any_frames_decode_or_raise_malformed_message(
    channel: bytes, rest: list[bytes]
) -> None:
    """Never another exception: the Clone I/O thread must not die on a bad message."""
    try:
        message = decode_local([channel, *rest])
    except MalformedMessage as exc:
        reason = exc.reason
    else:
        assert isinstance(message, LocalKvset | LocalBatch)
        return
    assert reason in {"bad_channel", "bad_batch"}


def test_an_in_process_kvset_is_numbered_and_echoed_like_a_collector_one() -> None:
    """§6.4: the next sequence number; uuid and properties published unchanged."""
    core = CloneCore()
    frames = clone.kvset(b"/a", b"v", UUID_A, (("unit", "C"),))
    assert core.on_local([PUBLISH_CHANNEL, *frames], NOW) == [
        Accept(Update(1, b"/a", UUID_A, (("unit", "C"),), b"v", None, b"unit=C\n"))
    ]


def test_an_in_process_kvset_with_ttl_makes_the_key_ephemeral() -> None:
    """§6.6: ttl in relative seconds; the server keeps the deadline itself."""
    core = CloneCore()
    frames = clone.kvset(b"/e", b"v", UUID_A, (), 30)
    core.on_local([PUBLISH_CHANNEL, *frames], NOW)
    assert core.next_deadline() == NOW + 30


def test_an_in_process_batch_is_numbered_in_order_and_coalesced_by_prefix() -> None:
    core = CloneCore(coalesced_prefixes=[b"/device/"])
    packed = packing.pack([(b"/device/t", b"21"), (b"/event/x", b"1")])
    assert core.on_local([BATCH_CHANNEL, packed], NOW) == [
        Accept(Update(1, b"/device/t", b"", (), b"21", None), coalesced=True),
        Accept(Update(2, b"/event/x", b"", (), b"1", None), coalesced=False),
    ]


@pytest.mark.parametrize(
    ("frames", "reason"),
    [
        ([b"?", b"x"], "bad_channel"),
        ([BATCH_CHANNEL, b"\xc1"], "bad_batch"),
        ([PUBLISH_CHANNEL, b"/a", bytes(8)], "wrong_frame_count"),
    ],
    ids=["channel", "batch", "kvset"],
)
def test_an_unreadable_in_process_message_is_rejected_without_a_number(
    frames: list[bytes], reason: str
) -> None:
    core = CloneCore()
    [out] = core.on_local(frames, NOW)
    assert isinstance(out, Rejected)
    assert out.reason == reason
    assert core.last_seq == 0


def test_a_resend_is_counted_as_a_duplicate_and_not_worth_a_log_line() -> None:
    """§6.4 raspy: a resent KVSET (same UUID) is applied once; it is expected."""
    core = CloneCore()
    frames = [PUBLISH_CHANNEL, *clone.kvset(b"/a", b"v", UUID_A)]
    core.on_local(frames, NOW)
    [resent] = core.on_local(frames, NOW)
    assert resent == Rejected("duplicate_uuid", UUID_A.hex())
    assert (resent.counter, resent.worth_logging) == ("clone.duplicates", False)


def test_bad_input_is_counted_under_its_reason_and_worth_a_log_line() -> None:
    """§6.4: a KVSET that breaks the rules is dropped and counted."""
    rejected = Rejected("bad_sequence", "7 bytes, expected 8")
    assert (rejected.counter, rejected.worth_logging) == (
        "clone.rejected.bad_sequence",
        True,
    )
