"""BrokerCore.on_router_frames: a network peer may not pass for an in-process one.

libzmq accepts any routing id a connecting peer chooses (docs/protocols.md §1.1, only
a leading zero byte is reserved), and raspyd's in-process peers are told apart by the
0xff prefix; RFC 7's heartbeat and DISCONNECT rules must hold for every network peer.
"""

from __future__ import annotations

import pytest
from support.broker_frames import (
    C1,
    L1,
    SVC,
    T0,
    V02,
    W1,
    core_fixture,  # noqa: F401  # fixture `core`
    disconnect,
    ready,
    request,
    sends,
)

from raspy.cores.broker import BrokerCore
from raspy.cores.broker_output import Rejected
from raspy.cores.broker_state import LOCAL_PREFIX


def test_a_network_peer_with_an_in_process_id_cannot_disconnect_a_local_worker(
    core: BrokerCore,
) -> None:
    """RFC 7 Opening and Closing: only the worker itself ends its registration."""
    core.on_frames(L1, ready(V02), T0)  # raspyd's own worker, through the outbox
    # a DEALER that set ZMQ_ROUTING_ID to the local worker's id
    outputs = core.on_router_frames(L1, disconnect(V02), T0)
    assert [(type(out), getattr(out, "reason", None)) for out in outputs] == [
        (Rejected, "local_id")
    ]
    assert core.has_workers(SVC)
    assert core.stats()["rejected.local_id"] == 1


@pytest.mark.parametrize(
    "frames", [ready(V02, b"other"), request(V02, b"x")], ids=["ready", "request"]
)
def test_a_network_peer_with_an_in_process_id_is_rejected_unanswered(
    core: BrokerCore, frames: list[bytes]
) -> None:
    """RFC 7 Heartbeating: a network worker registered under a local id would never be
    heartbeated or expired (and its requests would be lost in the outbox); a client
    under one would have its reply handed to an in-process actor."""
    outputs = core.on_router_frames(LOCAL_PREFIX + b"x", frames, T0)
    assert sends(outputs) == []
    assert [type(out) for out in outputs] == [Rejected]
    assert not core.has_workers(b"other")
    assert core.stats()["queued"] == 0


def test_network_peers_with_libzmq_ids_are_served_as_by_on_frames(
    core: BrokerCore,
) -> None:
    core.on_router_frames(W1, ready(V02), T0)
    outputs = core.on_router_frames(C1, request(V02, b"q"), T0)
    assert [s.peer for s in sends(outputs)] == [W1]
