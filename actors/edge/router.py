"""The edge's ROUTER: made with the options MDP and the limits need, on the thread
that will own it (CURVE keys before bind), and sent on without ever blocking."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import zmq

from raspy.actors.edge.broker_log import log, peer_text
from raspy.protocol.frames import DEFAULT_MAX_FRAME_BYTES
from raspy.ratelimit import LogRateLimiter
from raspy.records import frozen
from raspy.stats import Stats
from raspy.transport.multipart import send_frames
from raspy.transport.sockets import (
    Context,
    CurveKeys,
    Socket,
    make_socket,
    router_linger_ms,
)

ROUTER_HWM: Final = 10_000  # messages queued each way per peer


@frozen
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


class RouterSender:
    """Sends on the bound ROUTER (ROUTER_MANDATORY, docs/protocols.md §1.3): a message
    to a peer whose pipe is full is dropped, counted and logged once a minute per peer;
    a peer gone is counted and handed to `gone`, for the broker to forget."""

    def __init__(
        self,
        router: Socket,
        stats: Stats,
        limiter: LogRateLimiter,
        monotonic: Callable[[], float],
        gone: Callable[[bytes], None],
    ) -> None:
        self._router = router
        self._stats = stats
        self._limiter = limiter  # the edge's: one line per (peer, reason)
        self._monotonic = monotonic
        self._gone = gone

    def send(self, peer: bytes, frames: list[bytes]) -> None:
        """`frames` to `peer`, never waiting."""
        try:
            send_frames(self._router, [peer, *frames])
        except zmq.Again:  # its pipe is full: a peer that does not read
            self._stats.incr("edge.send_dropped")
            if self._limiter.should_log((peer, "send_dropped"), self._monotonic()):
                log.warning("send_dropped", peer=peer_text(peer), reason="hwm")
        except zmq.ZMQError as exc:
            if exc.errno != zmq.EHOSTUNREACH:
                raise
            # gone: a client's retry, or a worker whose board rebooted (the broker
            # forgets it once the outputs that met it are carried out)
            self._stats.incr("edge.send_unroutable")
            self._gone(peer)
