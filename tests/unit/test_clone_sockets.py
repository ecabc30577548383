"""bind_clone_sockets (actors/clone/sockets.py): the Clone server's three sockets on
127.0.0.1 with their options; a failed bind leaves nothing open."""

from __future__ import annotations

import pytest
import zmq
from support.net import free_port_base
from support.wait import wait_until

from raspy.actors.clone.sockets import (
    COLLECTOR_HWM,
    MAX_MESSAGE_BYTES,
    bind_clone_sockets,
)
from raspy.config import CloneConfig
from raspy.protocol import clone
from raspy.transport.sockets import ROUTER_MIN_LINGER_MS

Context = zmq.Context[zmq.Socket[bytes]]
ANY_PORT = clone.Endpoints(
    "tcp://127.0.0.1:*", "tcp://127.0.0.1:*", "tcp://127.0.0.1:*"
)


def test_the_three_are_bound_where_asked_with_the_protocol_options(
    zmq_context: Context,
) -> None:
    config = CloneConfig(snapshot_chunk=50)
    socks = bind_clone_sockets(
        zmq_context,
        config,
        ANY_PORT,
        publisher_hwm=123,
        snapshot_hwm=7,
        linger_ms=0,
        curve=None,
    )
    try:
        bound = socks.endpoints
        ports = {
            e.rsplit(":", 1)[1]
            for e in (bound.snapshot, bound.publisher, bound.collector)
        }
        assert "*" not in ports
        assert len(ports) == 3
        assert [s.type for s in (socks.router, socks.publisher, socks.collector)] == [
            zmq.ROUTER,
            zmq.XPUB,
            zmq.SUB,
        ]
        assert socks.router.getsockopt(zmq.SNDHWM) == 7  # as given, not the chunk's
        assert socks.publisher.getsockopt(zmq.SNDHWM) == 123
        assert socks.collector.getsockopt(zmq.RCVHWM) == COLLECTOR_HWM
        for sock in (socks.router, socks.publisher, socks.collector):
            assert sock.getsockopt(zmq.MAXMSGSIZE) == MAX_MESSAGE_BYTES
        # the ROUTER never closes with LINGER 0: libzmq 4.3.5 may abort then
        assert socks.router.getsockopt(zmq.LINGER) == ROUTER_MIN_LINGER_MS
        assert socks.publisher.getsockopt(zmq.LINGER) == 0
        assert socks.collector.getsockopt(zmq.LINGER) == 0
    finally:
        socks.close()
    assert all(s.closed for s in (socks.router, socks.publisher, socks.collector))


def _binds(context: Context, endpoint: str) -> bool:
    sock = context.socket(zmq.ROUTER)
    try:
        sock.bind(endpoint)
    except zmq.ZMQError:
        return False
    finally:
        sock.close(linger=0)
    return True


def test_a_bind_that_fails_closes_the_sockets_already_made(
    zmq_context: Context,
) -> None:
    base = free_port_base(2)
    taken = zmq_context.socket(zmq.PUB)
    taken.setsockopt(zmq.LINGER, 0)
    try:
        taken.bind(f"tcp://127.0.0.1:{base + 1}")
        endpoints = clone.Endpoints(
            f"tcp://127.0.0.1:{base}",
            f"tcp://127.0.0.1:{base + 1}",  # in use: the XPUB cannot bind
            "tcp://127.0.0.1:*",
        )
        with pytest.raises(zmq.ZMQError):
            bind_clone_sockets(
                zmq_context,
                CloneConfig(),
                endpoints,
                publisher_hwm=100,
                snapshot_hwm=100,
                linger_ms=0,
                curve=None,
            )
        # closed: its port is free again (libzmq closes a listener asynchronously)
        wait_until(
            lambda: _binds(zmq_context, f"tcp://127.0.0.1:{base}"),
            what="the ROUTER's port to be free again",
        )
    finally:
        taken.close()
