"""The edge's sends on its ROUTER (RouterSender, docs/protocols.md §1.3): never
blocking, a full peer's message dropped and counted with one log line a minute, a
peer gone counted and handed on for the broker to forget."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
import zmq
from structlog.testing import capture_logs
from support.zmqctx import dealer, recv

from raspy.actors.edge.router import EdgeSettings, RouterSender, bind_router
from raspy.ratelimit import LogRateLimiter
from raspy.stats import Stats
from raspy.transport.sockets import Socket

_SENDS_AT_MOST = 100_000  # the pipe holds SNDHWM + the peer's RCVHWM (inproc)
_names = itertools.count()


@pytest.fixture
def router(zmq_context: zmq.Context[zmq.Socket[bytes]]) -> Iterator[Socket]:
    endpoint = f"inproc://edge-router-sender-{next(_names)}"
    sock = bind_router(zmq_context, EdgeSettings(endpoint, linger_ms=0))
    try:
        yield sock
    finally:
        sock.close(linger=0)


def _sender(router: Socket, stats: Stats, gone: list[bytes]) -> RouterSender:
    # a clock that stands still: every drop falls in one minute of the log's limit
    return RouterSender(router, stats, LogRateLimiter(), lambda: 0.0, gone.append)


def test_a_peer_gone_is_counted_and_handed_on(router: Socket) -> None:
    stats, gone = Stats(), list[bytes]()
    sender = _sender(router, stats, gone)
    with capture_logs() as logs:
        sender.send(b"never-connected", [b"MDPC02", b"\x03", b"svc", b"x"])
    assert gone == [b"never-connected"]
    assert stats.counters() == {"edge.send_unroutable": 1}
    assert logs == []


def test_a_peer_that_does_not_read_misses_messages_counted_and_logged_once(
    zmq_context: zmq.Context[zmq.Socket[bytes]], router: Socket
) -> None:
    endpoint = router.getsockopt_string(zmq.LAST_ENDPOINT)
    peer = dealer(zmq_context, endpoint, b"deaf")
    try:
        peer.setsockopt(zmq.RCVHWM, 1)
        peer.send(b"hello")  # the ROUTER knows it from here on
        assert recv(router) == [b"deaf", b"hello"]
        stats, gone = Stats(), list[bytes]()
        sender = _sender(router, stats, gone)
        with capture_logs() as logs:
            sends = 0
            while stats.get("edge.send_dropped") < 2 and sends < _SENDS_AT_MOST:
                sender.send(b"deaf", [b"x"])
                sends += 1
        assert stats.counters() == {"edge.send_dropped": 2}
        assert gone == []
        assert logs == [
            {
                "event": "send_dropped",
                "peer": "id:deaf",
                "reason": "hwm",
                "component": "edge",
                "log_level": "warning",
            }
        ]
        assert recv(peer) == [b"x"]  # what was queued before still arrives
    finally:
        peer.close(linger=0)
