"""The edge's ROUTER, made with the options MDP and the limits need, on the thread
that will own it (CURVE keys before bind)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import zmq

from raspy.protocol.frames import DEFAULT_MAX_FRAME_BYTES
from raspy.transport.sockets import (
    Context,
    CurveKeys,
    Socket,
    make_socket,
    router_linger_ms,
)

ROUTER_HWM: Final = 10_000  # messages queued each way per peer


@dataclass(frozen=True, slots=True)
class EdgeSettings:
    """Where the edge listens and how it closes."""

    mdp_endpoint: str
    linger_ms: int = 500
    curve: CurveKeys | None = None  # server keys: the ROUTER is a CURVE server (§8.2)
    # ZMQ_MAXMSGSIZE (per frame): libzmq drops a connection that sends a bigger frame
    # before reading it whole (issue 18); broker.max_frame_bytes
    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES


def bind_router(context: Context, settings: EdgeSettings) -> Socket:
    """The bound ROUTER; a taken port raises zmq.ZMQError (EADDRINUSE)."""
    router = make_socket(
        context,
        zmq.ROUTER,
        linger_ms=router_linger_ms(
            settings.linger_ms
        ),  # the least: sockets.py says why
        curve=settings.curve,
    )
    # any failure closes it: a socket left open held raspyd's start for ever in
    # context.term() (an option's value past its C type: OverflowError)
    try:
        router.setsockopt(zmq.ROUTER_HANDOVER, 1)  # docs/protocols.md §1.2
        # §1.3: a full or gone peer raises (EAGAIN, EHOSTUNREACH) instead of a
        # silent drop, so that the edge can count what it drops
        router.setsockopt(zmq.ROUTER_MANDATORY, 1)
        router.setsockopt(zmq.SNDHWM, ROUTER_HWM)
        router.setsockopt(zmq.RCVHWM, ROUTER_HWM)
        router.setsockopt(zmq.MAXMSGSIZE, settings.max_frame_bytes)
        router.bind(settings.mdp_endpoint)
    except BaseException:
        router.close(linger=0)
        raise
    return router
