"""The edge's ROUTER (actors/edge/router.py) made with an option ZeroMQ refuses: the
socket is closed before the error goes up, so the context can end. It set its MDP
options outside its try: `[broker] max_frame_bytes = 10**30` (before that setting had
a bound) failed ZMQ_MAXMSGSIZE, a C int64, with an OverflowError, the ROUTER stayed
open, and raspyd's start waited for ever in context.term()."""

from __future__ import annotations

import pytest
import zmq
from support.zmqctx import checked_context

from raspy.actors.edge.router import EdgeSettings, bind_router
from raspy.transport.sockets import make_socket

pytestmark = pytest.mark.timeout(30)


def test_a_frame_size_zeromq_refuses_leaves_no_router_open() -> None:
    settings = EdgeSettings("tcp://127.0.0.1:*", max_frame_bytes=2**70)
    with checked_context() as context, pytest.raises(OverflowError):
        bind_router(context, settings)


def test_a_linger_zeromq_refuses_leaves_no_socket_open() -> None:
    with checked_context() as context, pytest.raises(OverflowError):
        make_socket(context, zmq.DEALER, linger_ms=2**70)
