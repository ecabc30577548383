"""raspy.transport.multipart: whole messages in and out, as pyzmq's own calls do,
through the fast path (pyzmq's compiled methods) and the public fallback alike."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import zmq
from hypothesis import given, settings
from hypothesis import strategies as st

from raspy.transport import multipart
from raspy.transport.multipart import RecvFrames, SendFrames

Context = zmq.Context[zmq.Socket[bytes]]
Pair = tuple[zmq.Socket[bytes], zmq.Socket[bytes]]
Calls = tuple[SendFrames, RecvFrames]

_COMPILED = multipart.compiled_socket_class()
assert _COMPILED is not None, "this pyzmq is one the fast path was tested on"
IMPLEMENTATIONS = {
    "fast": multipart.fast_calls(_COMPILED),
    "public": (multipart.public_send_frames, multipart.public_recv_frames),
}
DRAINS = {"fast": multipart.fast_drain(_COMPILED), "public": multipart.public_drain}


@pytest.fixture
def pair() -> Iterator[Pair]:
    with _pair() as sockets:
        yield sockets


@contextmanager
def _pair() -> Iterator[Pair]:
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


@pytest.fixture(params=sorted(IMPLEMENTATIONS))
def calls(request: pytest.FixtureRequest) -> Calls:
    name: str = request.param
    return IMPLEMENTATIONS[name]


@pytest.mark.parametrize("name", sorted(IMPLEMENTATIONS))
@settings(max_examples=100, deadline=None)
@given(st.lists(st.binary(max_size=300), min_size=1, max_size=12))
def test_what_send_frames_sends_recv_frames_returns_whole(
    name: str, frames: list[bytes]
) -> None:
    send_frames, recv_frames = IMPLEMENTATIONS[name]
    with _pair() as (push, pull):
        send_frames(push, frames)
        assert pull.poll(2000)
        assert recv_frames(pull) == frames


def test_messages_keep_their_boundaries_and_pyzmq_peers_agree(
    pair: Pair, calls: Calls
) -> None:
    send_frames, recv_frames = calls
    push, pull = pair
    send_frames(push, [b"a", b"", b"c"])
    push.send_multipart([b"single"])
    send_frames(push, [b"last"], block=True)
    assert pull.poll(2000)
    assert recv_frames(pull) == [b"a", b"", b"c"]
    assert pull.poll(2000)
    assert recv_frames(pull) == [b"single"]
    assert pull.poll(2000)
    assert pull.recv_multipart() == [b"last"]


def test_recv_frames_raises_again_when_nothing_waits(pair: Pair, calls: Calls) -> None:
    _, recv_frames = calls
    _, pull = pair
    with pytest.raises(zmq.Again):
        recv_frames(pull)


def test_send_frames_raises_again_when_no_peer_takes_it_and_sends_nothing(
    calls: Calls,
) -> None:
    """Without `block`, nowhere to queue is zmq.Again and no part of the message
    goes: the next message a peer reads is the one sent after it."""
    send_frames, recv_frames = calls
    ctx: Context = zmq.Context()
    push, pull = ctx.socket(zmq.PUSH), ctx.socket(zmq.PULL)
    try:
        with pytest.raises(zmq.Again):
            send_frames(push, [b"one", b"two"])  # not connected: no pipe at all
        pull.bind("inproc://multipart-again")
        push.connect("inproc://multipart-again")
        send_frames(push, [b"marker"])
        assert pull.poll(2000)
        assert recv_frames(pull) == [b"marker"]
    finally:
        push.close(linger=0)
        pull.close(linger=0)
        ctx.term()


@pytest.mark.parametrize("name", sorted(DRAINS))
def test_drain_hands_over_each_queued_message_whole_up_to_the_limit(
    pair: Pair, name: str
) -> None:
    drain = DRAINS[name]
    push, pull = pair
    sent = [[b"m%d" % i, b"", b"x" * i] for i in range(5)]
    for frames in sent:
        push.send_multipart(frames)
    assert pull.poll(2000)
    got: list[list[bytes]] = []
    assert drain(pull, got.append, 3) == 3
    assert drain(pull, got.append, 10) == 2
    assert got == sent
    assert drain(pull, got.append, 10) == 0  # nothing queued: no wait, no zmq.Again
    assert len(got) == 5


@pytest.mark.parametrize("name", sorted(DRAINS))
def test_drain_stops_when_the_queue_is_empty_and_resumes_on_the_next_message(
    pair: Pair, name: str
) -> None:
    drain = DRAINS[name]
    push, pull = pair
    got: list[list[bytes]] = []
    push.send_multipart([b"one"])
    assert pull.poll(2000)
    assert drain(pull, got.append, 100) == 1
    push.send_multipart([b"two", b"parts"])
    assert pull.poll(2000)
    assert drain(pull, got.append, 100) == 1
    assert got == [[b"one"], [b"two", b"parts"]]


def test_this_install_drains_through_the_fast_path() -> None:
    assert multipart.drain is not multipart.public_drain


@pytest.mark.parametrize(
    ("version", "usable"),
    [
        pytest.param((24, 0, 1), False, id="older-than-tested"),
        pytest.param((25, 1, 0), True, id="floor"),
        pytest.param((27, 9, 9), True, id="newest-tested"),
        pytest.param((28, 0, 0), False, id="newer-than-tested"),
    ],
)
def test_the_fast_path_is_taken_only_on_tested_pyzmq_releases(
    version: tuple[int, int, int], usable: bool
) -> None:
    """A pyzmq release we have not tested gets the public calls, not a crash."""
    assert (multipart.compiled_socket_class(version) is not None) is usable


def test_this_install_uses_the_fast_path() -> None:
    """The pinned pyzmq range is the tested one: the fast path is what runs here."""
    assert multipart.FAST_PATH
    assert multipart.send_frames is not multipart.public_send_frames
