"""raspy.transport.multipart: whole messages in and out, as pyzmq's own calls do."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import zmq
from hypothesis import given, settings
from hypothesis import strategies as st

from raspy.transport.multipart import recv_frames, send_frames

Context = zmq.Context[zmq.Socket[bytes]]
Pair = tuple[zmq.Socket[bytes], zmq.Socket[bytes]]


@pytest.fixture(scope="module")
def pair() -> Iterator[Pair]:
    ctx: Context = zmq.Context()
    push, pull = ctx.socket(zmq.PUSH), ctx.socket(zmq.PULL)
    pull.bind("inproc://multipart-test")
    push.connect("inproc://multipart-test")
    try:
        yield push, pull
    finally:
        push.close(linger=0)
        pull.close(linger=0)
        ctx.term()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=300), min_size=1, max_size=12))
def test_what_send_frames_sends_recv_frames_returns_whole(
    pair: Pair, frames: list[bytes]
) -> None:
    push, pull = pair
    send_frames(push, frames)
    assert pull.poll(2000)
    assert recv_frames(pull) == frames


def test_messages_keep_their_boundaries_and_pyzmq_peers_agree(pair: Pair) -> None:
    push, pull = pair
    send_frames(push, [b"a", b"", b"c"])
    push.send_multipart([b"single"])
    send_frames(push, [b"last"])
    assert pull.poll(2000)
    assert recv_frames(pull) == [b"a", b"", b"c"]
    assert pull.poll(2000)
    assert recv_frames(pull) == [b"single"]
    assert pull.poll(2000)
    assert pull.recv_multipart() == [b"last"]


def test_recv_frames_raises_again_when_nothing_waits(pair: Pair) -> None:
    _, pull = pair
    with pytest.raises(zmq.Again):
        recv_frames(pull)
