"""More of the broker's conformance, over real sockets with raw peers whose every frame
is written out from RFC 7, RFC 18 and the majortomo dialect (tests/support/mdp_spec.py):
routing ids reused by a new connection, service names matched byte for byte, and
silence towards a client once its FINAL has gone. The rest is in
test_mdp_spec_audit.py (same peers) and test_mdp_spec_clock.py (timers).
"""

from __future__ import annotations

import pytest
from support.edge_fixtures import EdgeHandle
from support.mdp_spec import (
    DIALECTS,
    V01,
    V02,
    Dealers,
    client_final,
    client_request,
    disconnect,
    final,
    partial,
    received_before_answer,
    registered,
    split_request,
    wait_status,
)
from support.zmqctx import recv

from raspy.cores.broker_settings import BrokerSettings


@pytest.fixture
def broker_settings() -> BrokerSettings:
    """No timed HEARTBEAT: each check below is that the broker sent nothing else."""
    return BrokerSettings(heartbeat_interval_s=3600.0)


def test_a_new_connection_with_a_routing_id_in_use_takes_it_over(
    edge: EdgeHandle, dealers: Dealers
) -> None:
    """docs/protocols.md §1.2: a ROUTER ignores a second connection that presents an id
    already connected unless ROUTER_HANDOVER is set; raspy's broker sets it, so a
    peer that reconnects with its fixed id before the old connection is gone is
    served on the new one."""
    fixed = b"fixed-peer-id"
    old = dealers.open(edge.endpoint, routing_id=fixed)
    old.send_multipart(client_request(V02, b"mmi.service", b"anything"))
    assert recv(old) == client_final(V02, b"mmi.service", b"404")
    new = dealers.open(edge.endpoint, routing_id=fixed)  # the old one still connected
    new.send_multipart(client_request(V02, b"mmi.service", b"anything"))
    assert recv(new) == client_final(V02, b"mmi.service", b"404")


@pytest.mark.parametrize("asked", [b"lamp", b"Lamp ", b"Lam"])
def test_a_service_name_matches_a_ready_byte_for_byte(
    edge: EdgeHandle, dealers: Dealers, asked: bytes
) -> None:
    """RFC 7 / RFC 18: the service name matches the one the worker gave in READY;
    docs/protocols.md §1.8: compared byte for byte, case-sensitive, no prefix match.
    A request for another spelling is not sent to the worker: it waits in its own
    queue, and mmi.service answers 404 for that spelling."""
    worker = registered(edge.context, edge.endpoint, dealers, V02, b"Lamp")
    client = dealers.open(edge.endpoint)
    client.send_multipart(client_request(V02, asked, b"on"))
    assert received_before_answer(client) == []  # the broker has taken the request
    assert received_before_answer(worker) == []  # and sent the worker nothing
    wait_status(edge.context, edge.endpoint, asked, b"404")


@pytest.mark.parametrize("dialect", DIALECTS)
def test_nothing_reaches_a_client_after_its_final(
    edge: EdgeHandle, dealers: Dealers, dialect: str
) -> None:
    """RFC 18 MDP/Client: after a FINAL the broker SHALL NOT send the client anything
    more; RFC 7 / RFC 18 MDP/Worker: a reply from a worker that has no request is a
    valid but unexpected command: DISCONNECT, then nothing more to that worker
    (docs/protocols.md §2.8)."""
    worker = registered(edge.context, edge.endpoint, dealers, dialect, b"once")
    client = dealers.open(edge.endpoint)
    client.send_multipart(client_request(V02, b"once", b"job"))
    address, _ = split_request(dialect, recv(worker))
    worker.send_multipart(final(dialect, address, b"done"))
    assert recv(client) == client_final(V02, b"once", b"done")
    more = final if dialect == V01 else partial  # MDP/0.1 has no PARTIAL
    worker.send_multipart(more(dialect, address, b"more"))
    assert recv(worker) == disconnect(dialect)
    wait_status(edge.context, edge.endpoint, b"once", b"404")
    assert received_before_answer(client) == []
