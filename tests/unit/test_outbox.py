"""The edge's in-memory outbox: every message arrives once, in order, and the reader
is woken whenever it may be asleep with messages waiting (never left asleep)."""

from __future__ import annotations

import math
import select
import threading
from collections.abc import Callable, Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from raspy.transport.outbox import (
    LOCAL_REPLY_CHANNEL,
    MDP_BATCH_CHANNEL,
    MDP_CHANNEL,
    MDP_REQUEST_CHANNEL,
    Outbox,
    client_requests,
    pack_patience,
    split_records,
)

pytestmark = pytest.mark.timeout(30)


def _readable(outbox: Outbox, timeout_s: float = 0.0) -> bool:
    ready, _, _ = select.select([outbox.read_fd], [], [], timeout_s)
    return bool(ready)


@pytest.fixture
def outbox() -> Iterator[Outbox]:
    box = Outbox()
    yield box
    box.close()


def test_a_message_keeps_its_channel_and_frames_and_wakes_the_reader(
    outbox: Outbox,
) -> None:
    assert not _readable(outbox)
    outbox.send_mdp(b"peer", [b"MDPW02", b"\x01", b"svc"])
    outbox.send_local_replies([b"svc", b"client", b"1", b"body"])
    outbox.send_mdp_batch([b"peer", b"1", b"frame"])
    assert _readable(outbox)
    got: list[list[bytes]] = []
    assert outbox.drain(got.append, 10) == 3
    assert got == [
        [MDP_CHANNEL, b"peer", b"MDPW02", b"\x01", b"svc"],
        [LOCAL_REPLY_CHANNEL, b"svc", b"client", b"1", b"body"],
        [MDP_BATCH_CHANNEL, b"peer", b"1", b"frame"],
    ]
    assert not _readable(outbox)  # nothing left: the reader may sleep


def test_a_burst_costs_one_wake_up_and_a_later_message_wakes_again(
    outbox: Outbox,
) -> None:
    for index in range(100):
        outbox.send([b"M", b"%d" % index])
    got: list[list[bytes]] = []
    outbox.drain(got.append, 1000)
    assert len(got) == 100
    assert not _readable(outbox)
    outbox.send([b"M", b"late"])
    assert _readable(outbox)


def test_a_drain_stopped_by_its_limit_leaves_the_reader_woken(outbox: Outbox) -> None:
    for index in range(5):
        outbox.send([b"M", b"%d" % index])
    got: list[list[bytes]] = []
    assert outbox.drain(got.append, 2) == 2
    assert _readable(outbox)  # the rest is read on the next turn, without a new send
    assert outbox.drain(got.append, 2) == 2
    assert outbox.drain(got.append, 2) == 1
    assert [m[1] for m in got] == [b"0", b"1", b"2", b"3", b"4"]
    assert not _readable(outbox)


def test_send_copies_the_frames_it_is_given(outbox: Outbox) -> None:
    frames = [b"M", b"peer", b"x"]
    outbox.send(frames)
    frames.append(b"changed later")
    got: list[list[bytes]] = []
    outbox.drain(got.append, 10)
    assert got == [[b"M", b"peer", b"x"]]


def test_after_close_messages_are_dropped_quietly() -> None:
    box = Outbox()
    box.close()
    box.send([b"M", b"peer"])
    box.send_mdp(b"peer", [b"x"])
    got: list[list[bytes]] = []
    assert box.drain(got.append, 10) == 0


@settings(max_examples=30, deadline=None)
@given(
    senders=st.integers(min_value=1, max_value=4),
    per_sender=st.integers(min_value=1, max_value=400),
    limit=st.integers(min_value=1, max_value=64),
)
def test_concurrent_senders_lose_nothing_and_keep_each_senders_order(
    senders: int, per_sender: int, limit: int
) -> None:
    """The reader sleeps in select() as the edge sleeps in its poller; it must be
    woken for every message (a lost wake-up would leave it asleep till the deadline)."""
    box = Outbox()
    got: list[list[bytes]] = []
    total = senders * per_sender

    def send_all(sender: int) -> None:
        for index in range(per_sender):
            box.send([b"M", b"%d" % sender, b"%d" % index])

    threads = [threading.Thread(target=send_all, args=(n,)) for n in range(senders)]
    for thread in threads:
        thread.start()
    try:
        while len(got) < total:
            assert _readable(box, timeout_s=5.0), f"asleep with {len(got)}/{total} read"
            box.drain(got.append, limit)
    finally:
        for thread in threads:
            thread.join(10)
        box.close()
    for sender in range(senders):
        order = [int(m[2]) for m in got if m[1] == b"%d" % sender]
        assert order == list(range(per_sender))


_frame = st.binary(max_size=8)


@settings(max_examples=200)
@given(
    records=st.lists(
        st.tuples(st.lists(_frame, min_size=2, max_size=2), st.lists(_frame)),
        max_size=6,
    )
)
def test_records_written_as_the_channels_say_are_read_back_whole(
    records: list[tuple[list[bytes], list[bytes]]],
) -> None:
    message = [LOCAL_REPLY_CHANNEL]
    for fields, frames in records:
        message += [*fields, b"%d" % len(frames), *frames]
    assert split_records(message, 3) == (records, True)


@settings(max_examples=300)
@given(message=st.lists(_frame, max_size=12), head=st.integers(2, 3))
def test_any_message_splits_without_raising_and_a_bad_one_is_flagged(
    message: list[bytes], head: int
) -> None:
    records, whole = split_records([MDP_BATCH_CHANNEL, *message], head)
    index = 0
    for fields, frames in records:  # the good records are the message's prefix
        assert fields == message[index : index + head - 1]
        index += head
        assert frames == message[index : index + len(frames)]
        index += len(frames)
    assert index <= len(message)
    assert whole == (index == len(message))


def test_a_count_past_the_end_ends_the_records_there() -> None:
    message = [MDP_BATCH_CHANNEL, b"p1", b"1", b"a", b"p2", b"5", b"b"]
    assert split_records(message, 2) == ([([b"p1"], [b"a"])], False)
    assert split_records([MDP_BATCH_CHANNEL, b"p1", b"x", b"a"], 2) == ([], False)


def _written(write: Callable[[Outbox], None]) -> list[bytes]:
    """The one message `write` appends, as the owner reads it."""
    box = Outbox()
    try:
        write(box)
        got: list[list[bytes]] = []
        assert box.drain(got.append, 10) == 1
        return got[0]
    finally:
        box.close()


def test_an_in_process_clients_request_is_read_back_with_its_patience() -> None:
    message = _written(lambda box: box.send_mdp_request(b"me/q1", [b"a", b"b"], 2.5))
    assert client_requests(message) == ([(b"me/q1", 2.5, [b"a", b"b"])], 0)


@pytest.mark.parametrize(
    "message",
    [
        [MDP_REQUEST_CHANNEL, b"me/q1"],  # no patience
        [MDP_REQUEST_CHANNEL, b"me/q1", b"1.5", b"a"],  # not a packed float
        # NaN or inf: a deadline never reached, or one compared false to any time
        [MDP_REQUEST_CHANNEL, b"me/q1", pack_patience(math.nan), b"a"],
        [MDP_REQUEST_CHANNEL, b"me/q1", pack_patience(math.inf), b"a"],
        [MDP_REQUEST_CHANNEL, b"me/q1", pack_patience(-math.inf), b"a"],
        [MDP_BATCH_CHANNEL, b"t/1", pack_patience(math.nan), b"1", b"a"],
    ],
    ids=["none", "text", "nan", "inf", "-inf", "batch-nan"],
)
def test_a_request_without_a_patience_is_one_fault(message: list[bytes]) -> None:
    assert client_requests(message) == ([], 1)


def test_a_batch_keeps_its_good_requests_and_counts_each_fault() -> None:
    patience = pack_patience(3.0)
    records = [
        *(b"t/1", patience, b"2", b"a", b"b"),
        *(b"t/2", b"bad", b"1", b"c"),  # a patience that is not one: left out
        *(b"t/3", patience, b"0"),
        *(b"t/4", patience, b"5", b"cut"),  # says 5 frames, has 1: the end lost
    ]
    message = _written(lambda box: box.send_mdp_batch(records))
    assert client_requests(message) == (
        [(b"t/1", 3.0, [b"a", b"b"]), (b"t/3", 3.0, [])],
        2,
    )


@settings(max_examples=100)
@given(
    requests=st.lists(
        st.tuples(
            _frame,
            st.floats(min_value=0, max_value=1e6),
            st.lists(_frame, max_size=4),
        ),
        max_size=6,
    )
)
def test_requests_batched_as_titanic_writes_them_are_read_back_whole(
    requests: list[tuple[bytes, float, list[bytes]]],
) -> None:
    records: list[bytes] = []
    for peer, patience_s, frames in requests:
        records += [peer, pack_patience(patience_s), b"%d" % len(frames), *frames]
    assert client_requests([MDP_BATCH_CHANNEL, *records]) == (requests, 0)


@settings(max_examples=200)
@given(
    channel=st.sampled_from([MDP_REQUEST_CHANNEL, MDP_BATCH_CHANNEL]),
    message=st.lists(_frame, max_size=12),
)
def test_any_request_message_reads_without_raising(
    channel: bytes, message: list[bytes]
) -> None:
    """Each part is a request or a fault: a lone request is one or the other, a batch
    gives each record one or the other, and one fault more if it is cut short."""
    requests, faults = client_requests([channel, *message])
    if channel == MDP_REQUEST_CHANNEL:
        assert len(requests) + faults == 1
    else:
        records, whole = split_records([channel, *message], 3)
        assert len(requests) + faults == len(records) + (0 if whole else 1)
