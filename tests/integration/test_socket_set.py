"""SocketSet (raspy.transport.socket_set), the sockets an owner opens, replaces and
closes on its runner's thread (the Clone client's three, the hub probe's DEALER): a
reader stops at a socket replaced by what it handed on, what it reads is bounded a
turn, and nothing it held is left to keep the context's term() waiting."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import cast

import pytest
import zmq
from support.runner_by_hand import RunnerByHand
from support.zmqctx import checked_context

from raspy.transport import socket_set as socket_set_mod
from raspy.transport.runner import Handler, Runner
from raspy.transport.socket_set import SocketSet

pytestmark = pytest.mark.timeout(20)

Context = zmq.Context[zmq.Socket[bytes]]
_names = itertools.count()


class _Refuses(RunnerByHand):
    def register(self, target: object, handler: Handler, events: int = 0) -> None:
        raise zmq.ZMQError(zmq.ENOTSOCK)


@pytest.fixture
def context() -> Iterator[Context]:
    with checked_context() as made:  # fails the test if a socket holds term()
        yield made


def _pull_with_three(context: Context) -> tuple[zmq.Socket[bytes], zmq.Socket[bytes]]:
    """A PULL with three messages queued (inproc: queued once sent) and its PUSH."""
    endpoint = f"inproc://socket-set-{next(_names)}"
    pull = context.socket(zmq.PULL)
    pull.setsockopt(zmq.LINGER, 0)
    pull.bind(endpoint)
    push = context.socket(zmq.PUSH)
    push.setsockopt(zmq.LINGER, 0)
    push.connect(endpoint)
    for body in (b"a", b"b", b"c"):
        push.send(body)
    return pull, push


def test_a_reader_stops_at_a_socket_replaced_by_what_it_handed_on(
    context: Context,
) -> None:
    """The Clone client's core starts over in the middle of a batch: what is left
    on the old SUB is the old connection's, and must not reach the core."""
    pull, push = _pull_with_three(context)
    runner = RunnerByHand()
    sockets = SocketSet(cast(Runner, runner))
    got: list[list[bytes]] = []
    fresh = context.socket(zmq.PULL)

    def replace_at_first(frames: list[bytes]) -> None:
        got.append(frames)
        sockets.add("in", fresh, got.append)

    try:
        sockets.add("in", pull, replace_at_first)
        runner.read()
        assert got == [[b"a"]]
        assert pull.closed, "the socket replaced is closed"
        assert sockets["in"] is fresh
    finally:
        sockets.close_all()
        push.close()
    assert fresh.closed
    assert not runner.handlers, "a socket closed is still registered"


def test_a_reader_takes_a_bounded_batch_a_turn(
    context: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(socket_set_mod, "BATCH", 2)
    pull, push = _pull_with_three(context)
    runner = RunnerByHand()
    sockets = SocketSet(cast(Runner, runner))
    got: list[list[bytes]] = []
    try:
        sockets.add("in", pull, got.append)
        runner.read()
        assert got == [[b"a"], [b"b"]]
        runner.read()  # the next turn takes the rest
        assert got == [[b"a"], [b"b"], [b"c"]]
    finally:
        sockets.close_all()
        push.close()


def test_a_socket_whose_monitor_cannot_be_registered_is_closed(
    context: Context,
) -> None:
    sock = context.socket(zmq.DEALER)
    sockets = SocketSet(cast(Runner, _Refuses()))
    with pytest.raises(zmq.ZMQError):
        sockets.add(
            "dealer",
            sock,
            lambda frames: None,
            watch=(zmq.EVENT_ALL, lambda e, v: None),
        )
    assert sock.closed  # and the context's check finds its monitor closed too
    assert not list(sockets.keys())


def test_close_all_closes_each_socket_and_its_monitor(context: Context) -> None:
    runner = RunnerByHand()
    sockets = SocketSet(cast(Runner, runner))
    sub = context.socket(zmq.SUB)
    xpub = context.socket(zmq.XPUB)
    sockets.add(
        "sub", sub, lambda frames: None, watch=(zmq.EVENT_ALL, lambda e, v: None)
    )
    sockets.add("xpub", xpub, lambda frames: None)
    assert set(dict(sockets)) == {"sub", "xpub"}
    sockets.close_all()
    assert sub.closed
    assert xpub.closed
    assert not runner.handlers
