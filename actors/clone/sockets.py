"""The Clone server's three bound sockets (docs/protocols.md §6.1), made with the
options the protocol and the limits need, on the thread that will own them.
"""

from __future__ import annotations

from typing import Final

import structlog
import zmq

from raspy.config import CloneConfig
from raspy.cores.clone_pacing import publisher_hwm
from raspy.protocol import clone
from raspy.records import frozen
from raspy.transport.sockets import (
    Context,
    CurveKeys,
    Socket,
    make_socket,
    router_linger_ms,
)

log = structlog.get_logger(component="clone")

COLLECTOR_HWM: Final = 20_000
# issue 18: also bounds subscriptions; [clone] max_value_bytes is checked against it
MAX_MESSAGE_BYTES: Final = clone.MAX_FRAME_BYTES


@frozen
class CloneSockets:
    """Snapshot ROUTER (N+1), publisher XPUB (N+2), collector SUB (N+3)."""

    router: Socket
    publisher: Socket
    collector: Socket

    @property
    def endpoints(self) -> clone.Endpoints:
        """Where they are bound (a port given as * resolved)."""
        return clone.Endpoints(
            *(
                sock.getsockopt_string(zmq.LAST_ENDPOINT)
                for sock in (self.router, self.publisher, self.collector)
            )
        )

    def close(self) -> None:
        for sock in (self.router, self.publisher, self.collector):
            sock.close()


def checked_publisher_hwm(config: CloneConfig, budget_bytes: int) -> int:
    """The XPUB's SNDHWM for a subscriber's byte budget (issue 18); logged when even
    the smallest queue of the largest updates is over it."""
    largest = clone.max_kvmsg_bytes(config.max_key_bytes, config.max_value_bytes)
    hwm = publisher_hwm(budget_bytes, largest)
    if hwm * largest > budget_bytes:  # MIN_HWM: the values are too large for it
        log.warning(
            "clone_queue_budget_exceeded",
            queue_bytes=hwm * largest,
            limit_bytes=budget_bytes,
            hint="raise [limits] clone_subscriber_queue_bytes or lower "
            "[clone] max_value_bytes",
        )
    return hwm


def bind_clone_sockets(
    context: Context,
    config: CloneConfig,
    endpoints: clone.Endpoints,
    *,
    publisher_hwm: int,
    snapshot_hwm: int,
    linger_ms: int,
    curve: CurveKeys | None,
) -> CloneSockets:
    """Make and bind the three; if one fails, those made are closed and it raises.

    `publisher_hwm`: the XPUB's SNDHWM, set before bind and never changed
    (raspy.cores.clone_pacing says why); `snapshot_hwm`: the ROUTER's, a peer's
    byte budget in messages (raspy.cores.clone_snapshot.snapshot_hwm). `curve`: server keys for the TCP endpoints
    (§8.2).
    """
    made: list[Socket] = []

    def bound(kind: int, endpoint: str, **options: int | bytes) -> Socket:
        keys = None if endpoint.startswith("inproc:") else curve
        linger = router_linger_ms(linger_ms) if kind == zmq.ROUTER else linger_ms
        sock = make_socket(context, kind, linger_ms=linger, curve=keys)
        made.append(sock)
        for name, value in options.items():
            sock.setsockopt(getattr(zmq, name), value)
        sock.bind(endpoint)
        return sock

    try:
        return CloneSockets(
            # §1.3: with ROUTER_MANDATORY a full peer gives EAGAIN, not a silent drop
            router=bound(
                zmq.ROUTER,
                endpoints.snapshot,
                ROUTER_MANDATORY=1,
                SNDHWM=snapshot_hwm,
                MAXMSGSIZE=MAX_MESSAGE_BYTES,
            ),
            # XPUB_VERBOSER: subscriptions and leaves show (ClonePacing hears them)
            publisher=bound(
                zmq.XPUB,
                endpoints.publisher,
                SNDHWM=publisher_hwm,
                XPUB_VERBOSER=1,
                XPUB_NODROP=1,
                MAXMSGSIZE=MAX_MESSAGE_BYTES,
            ),
            collector=bound(
                zmq.SUB,
                endpoints.collector,
                RCVHWM=COLLECTOR_HWM,
                MAXMSGSIZE=MAX_MESSAGE_BYTES,
                SUBSCRIBE=b"",  # §6.1: subscribed to everything
            ),
        )
    except BaseException:
        for sock in made:
            sock.close()
        raise
