"""SocketMonitor (raspy.transport.monitor), the one reader of socket monitors that
the Clone server, the Clone client and the hub probe share: each event handed on,
a bounded number a turn, none after the owner closed it from an event's handler
(the Clone client replaces its SUB there), and nothing left to hold term()."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

import pytest
import zmq
from support.runner_by_hand import RunnerByHand
from support.zmqctx import checked_context, dealer, recv

from raspy.transport import monitor as monitor_mod
from raspy.transport.monitor import SocketMonitor
from raspy.transport.runner import Runner

pytestmark = pytest.mark.timeout(20)

Context = zmq.Context[zmq.Socket[bytes]]


@pytest.fixture
def context() -> Iterator[Context]:
    with checked_context() as made:  # fails the test if a socket holds term()
        yield made


def _router(context: Context) -> tuple[zmq.Socket[bytes], str]:
    sock = context.socket(zmq.ROUTER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.bind("tcp://127.0.0.1:*")
    return sock, sock.getsockopt_string(zmq.LAST_ENDPOINT)


def _handshakes(context: Context, router: zmq.Socket[bytes], endpoint: str) -> None:
    """Three peers whose handshakes are done: their events wait in the monitor."""
    peers = [dealer(context, endpoint) for _ in range(3)]
    try:
        for peer in peers:
            peer.send(b"hello")
        for _ in peers:
            recv(router)  # a message came: its handshake succeeded before it
    finally:
        for peer in peers:
            peer.close(linger=0)


def test_each_event_is_handed_on_with_its_value(context: Context) -> None:
    router, endpoint = _router(context)
    runner = RunnerByHand()
    seen: list[tuple[int, int]] = []
    watch = SocketMonitor(
        router,
        zmq.EVENT_HANDSHAKE_SUCCEEDED,
        cast(Runner, runner),
        lambda event, value: seen.append((event, value)),
    )
    try:
        _handshakes(context, router, endpoint)
        runner.read()
        assert seen == [(zmq.EVENT_HANDSHAKE_SUCCEEDED, 0)] * 3
    finally:
        watch.close()
        watch.close()  # a second close is harmless
        router.close()
    assert not runner.handlers, "the monitor is still registered"


def test_a_handler_that_closes_the_monitor_gets_no_more_events(
    context: Context,
) -> None:
    """The Clone client replaces its SUB (and its monitor) in a handshake's handler:
    what the old monitor still held is not the new SUB's, and is not handed on."""
    router, endpoint = _router(context)
    runner = RunnerByHand()
    seen: list[int] = []

    def close_at_first(event: int, _value: int) -> None:
        seen.append(event)
        watch.close()

    watch = SocketMonitor(
        router, zmq.EVENT_HANDSHAKE_SUCCEEDED, cast(Runner, runner), close_at_first
    )
    try:
        _handshakes(context, router, endpoint)
        runner.read()
        assert seen == [zmq.EVENT_HANDSHAKE_SUCCEEDED]
    finally:
        watch.close()
        router.close()


def test_a_burst_is_read_a_bounded_number_a_turn(
    context: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A thousand peers leaving at once must not hold the runner's other sockets."""
    monkeypatch.setattr(monitor_mod, "MAX_EVENTS_A_TURN", 2)
    router, endpoint = _router(context)
    runner = RunnerByHand()
    seen: list[int] = []
    watch = SocketMonitor(
        router,
        zmq.EVENT_HANDSHAKE_SUCCEEDED,
        cast(Runner, runner),
        lambda event, _value: seen.append(event),
    )
    try:
        _handshakes(context, router, endpoint)
        runner.read()
        assert len(seen) == 2
        runner.read()  # the next turn takes the rest
        assert len(seen) == 3
    finally:
        watch.close()
        router.close()


def test_a_monitor_whose_registration_fails_is_closed(context: Context) -> None:
    router, _endpoint = _router(context)

    class Refuses(RunnerByHand):
        def register(self, target: object, handler: Any, events: int = 0) -> None:
            raise zmq.ZMQError(zmq.ENOTSOCK)

    try:
        with pytest.raises(zmq.ZMQError):
            SocketMonitor(
                router, zmq.EVENT_ACCEPTED, cast(Runner, Refuses()), lambda e, v: None
            )
    finally:
        router.close()  # the context's check then fails if the monitor is open
