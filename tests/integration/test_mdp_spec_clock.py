"""Conformance audit of the broker's timers over real sockets, on a fake clock:
heartbeating and liveness (RFC 7 / RFC 18 Heartbeating, docs/protocols.md §2.6), and
the expiry of queued requests (RFC 7 MDP/Client, §2.5.8).

The edge runs its BrokerCore on a FakeClock; tick() moves it and waits until the edge
has run its timers, so nothing here depends on how fast the machine is.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import zmq
from support.mdp_spec import (
    DIALECTS,
    V01,
    V02,
    ClockedEdge,
    Context,
    Dealers,
    client_final,
    client_partial,
    client_request,
    clocked_edge,
    disconnect,
    final,
    heartbeat,
    mmi_service,
    partial,
    ready,
    received_before_answer,
    registered,
    split_request,
    wait_status,
)
from support.wait import wait_until
from support.zmqctx import recv

from raspy.cores.broker_settings import BrokerSettings

INTERVAL_S = 1.0
LIVENESS = 3
BUSY_TIMEOUT_S = 5.0
TTL_S = 10.0


@pytest.fixture
def broker(zmq_context: Context) -> Iterator[ClockedEdge]:
    settings = BrokerSettings(
        heartbeat_interval_s=INTERVAL_S,
        heartbeat_liveness=LIVENESS,
        busy_timeout_s=BUSY_TIMEOUT_S,
        request_ttl_s=TTL_S,
    )
    with clocked_edge(zmq_context, settings) as edge:
        yield edge


@pytest.fixture
def dealers(zmq_context: Context) -> Iterator[Dealers]:
    made = Dealers(zmq_context)
    yield made
    made.close_all()


def _registered(
    broker: ClockedEdge, dealers: Dealers, dialect: str, service: bytes
) -> zmq.Socket[bytes]:
    return registered(broker.context, broker.endpoint, dealers, dialect, service)


def _status(broker: ClockedEdge, service: bytes) -> bytes:
    return mmi_service(broker.context, broker.endpoint, service)


def _queued(broker: ClockedEdge, count: int) -> None:
    """Wait until the broker holds `count` queued requests (an MMI probe on another
    socket would not do: its connection may overtake the client's)."""
    wait_until(
        lambda: broker.stats()["broker.queued"] == count,
        what=f"{count} queued request(s) at the broker",
    )


@pytest.mark.parametrize("dialect", DIALECTS)
def test_broker_heartbeats_an_idle_worker_every_interval_in_its_dialect(
    broker: ClockedEdge, dealers: Dealers, dialect: str
) -> None:
    """RFC 7 Heartbeating: the broker MUST send heartbeats at regular intervals; not
    before one interval has passed without sending."""
    worker = _registered(broker, dealers, dialect, b"hb")
    broker.tick(INTERVAL_S * 0.9)
    assert received_before_answer(worker, dialect) == []
    broker.tick(INTERVAL_S * 0.2)
    assert recv(worker) == heartbeat(dialect)
    broker.heartbeat_from(worker, heartbeat(dialect))
    broker.tick(INTERVAL_S)
    assert recv(worker) == heartbeat(dialect)


def test_broker_heartbeats_a_busy_worker_too(
    broker: ClockedEdge, dealers: Dealers
) -> None:
    """docs/protocols.md §2.6 raspy: HEARTBEAT to a worker, idle or busy, that it sent
    nothing for one interval; a REQUEST counts as sending (RFC 7: no HEARTBEAT while
    sending other commands)."""
    worker = _registered(broker, dealers, V02, b"hb")
    client = dealers.open(broker.endpoint)
    broker.tick(INTERVAL_S * 0.6)
    client.send_multipart(client_request(V02, b"hb", b"job"))
    split_request(V02, recv(worker))
    broker.tick(INTERVAL_S * 0.6)  # 1.2 intervals since READY, 0.6 since REQUEST
    assert received_before_answer(worker) == []
    broker.tick(INTERVAL_S * 0.5)
    assert recv(worker) == heartbeat(V02)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_a_silent_idle_worker_expires_silently_and_is_told_to_disconnect_later(
    broker: ClockedEdge, dealers: Dealers, dialect: str
) -> None:
    """RFC 7: a peer is disconnected after a multiple (liveness) of the interval without
    a command; the broker then stops sending to it (§2.6 raspy: silently). Its next
    command comes from an unknown peer and gets DISCONNECT; a new READY registers."""
    worker = _registered(broker, dealers, dialect, b"quiet")
    broker.tick(INTERVAL_S * LIVENESS - 0.1)
    assert _status(broker, b"quiet") == b"200"
    broker.tick(0.2)
    assert _status(broker, b"quiet") == b"404"
    heartbeats = received_before_answer(worker, dialect)  # all it was ever sent
    assert heartbeats
    assert all(h == heartbeat(dialect) for h in heartbeats)
    broker.tick(INTERVAL_S * 5)
    # no HEARTBEAT, no DISCONNECT once expired
    assert received_before_answer(worker, dialect) == []
    worker.send_multipart(heartbeat(dialect))
    assert recv(worker) == disconnect(dialect)
    worker.send_multipart(ready(dialect, b"quiet"))
    wait_status(broker.context, broker.endpoint, b"quiet", b"200")


@pytest.mark.parametrize("dialect", DIALECTS)
def test_any_command_from_the_worker_counts_as_a_heartbeat(
    broker: ClockedEdge, dealers: Dealers, dialect: str
) -> None:
    """RFC 7: any received command except DISCONNECT acts as a heartbeat."""
    worker = _registered(broker, dealers, dialect, b"alive")
    client = dealers.open(broker.endpoint)
    for _ in range(4):
        broker.tick(INTERVAL_S * 2)
        broker.heartbeat_from(worker, heartbeat(dialect))
    broker.tick(INTERVAL_S * 2)
    client.send_multipart(client_request(V02, b"alive", b"job"))
    address = _next_request(worker, dialect)
    worker.send_multipart(final(dialect, address, b"done"))
    assert recv(client) == client_final(V02, b"alive", b"done")
    broker.tick(INTERVAL_S * 2)  # 4 intervals since READY + 0 misses since the reply
    assert _status(broker, b"alive") == b"200"


def _next_request(worker: zmq.Socket[bytes], dialect: str) -> bytes:
    """The address of the next REQUEST, skipping the broker's HEARTBEATs."""
    while True:
        frames = recv(worker)
        if frames != heartbeat(dialect):
            return split_request(dialect, frames)[0]


def test_a_busy_worker_that_never_heartbeats_lives_until_the_busy_timeout(
    broker: ClockedEdge, dealers: Dealers
) -> None:
    """docs/protocols.md §2.6 raspy: a single-threaded (zguide-style) worker is silent
    while busy and survives until busy_timeout_s; then it expires and its request goes
    to another worker."""
    slow = _registered(broker, dealers, V01, b"long")
    client = dealers.open(broker.endpoint)
    client.send_multipart(client_request(V01, b"long", b"job"))
    _next_request(slow, V01)
    broker.tick(BUSY_TIMEOUT_S - 1)
    assert _status(broker, b"long") == b"200"
    spare = dealers.open(broker.endpoint)
    spare.send_multipart(ready(V02, b"long"))
    wait_status(broker.context, broker.endpoint, b"long", b"200")
    broker.tick(2)
    address = _next_request(spare, V02)
    spare.send_multipart(final(V02, address, b"done"))
    assert recv(client) == client_final(V01, b"long", b"done")


def test_a_busy_worker_that_heartbeats_while_busy_expires_after_liveness(
    broker: ClockedEdge, dealers: Dealers
) -> None:
    """docs/protocols.md §2.6 raspy: once a worker has shown it heartbeats while busy,
    liveness x interval of silence ends it, busy or not."""
    worker = _registered(broker, dealers, V02, b"hbusy")
    client = dealers.open(broker.endpoint)
    client.send_multipart(client_request(V02, b"hbusy", b"job"))
    _next_request(worker, V02)
    for _ in range(2):
        broker.tick(INTERVAL_S)
        broker.heartbeat_from(worker, heartbeat(V02))
    assert _status(broker, b"hbusy") == b"200"
    broker.tick(INTERVAL_S * LIVENESS + 0.1)
    assert _status(broker, b"hbusy") == b"404"


def test_a_silent_worker_that_sent_a_partial_loses_its_request_to_nobody(
    broker: ClockedEdge, dealers: Dealers
) -> None:
    """docs/protocols.md §3.7 raspy: a worker given up for silence after its client got
    one of its PARTIALs takes the request with it (dropped.partial_lost): the spare
    worker is sent HEARTBEATs only, never the request, whose second stream would have
    followed the first one's PARTIAL at the client."""
    worker = _registered(broker, dealers, V02, b"cut")
    client = dealers.open(broker.endpoint)
    client.send_multipart(client_request(V02, b"cut", b"job"))
    address = _next_request(worker, V02)
    for _ in range(2):  # it heartbeats while busy: silence ends it (§2.6)
        broker.tick(INTERVAL_S)
        broker.heartbeat_from(worker, heartbeat(V02))
    worker.send_multipart(partial(V02, address, b"p1"))
    assert recv(client) == client_partial(V02, b"cut", b"p1")
    spare = _registered(broker, dealers, V02, b"cut")
    broker.tick(INTERVAL_S * 1.5)
    broker.heartbeat_from(spare, heartbeat(V02))
    broker.tick(INTERVAL_S * (LIVENESS - 1.5) + 0.1)  # the first worker's silence
    stats = broker.stats()
    assert stats.get("broker.dropped.partial_lost") == 1
    assert stats["broker.redispatched"] == 0
    assert _status(broker, b"cut") == b"200"  # the spare, idle
    sent = received_before_answer(spare)  # all it was ever sent
    assert all(frames == heartbeat(V02) for frames in sent), sent
    assert received_before_answer(client) == []


def test_a_request_for_a_service_nobody_registers_expires_after_the_ttl(
    broker: ClockedEdge, dealers: Dealers
) -> None:
    """RFC 7 MDP/Client: the broker SHOULD queue requests for unregistered services
    and SHOULD expire them after a configurable time (§2.5.8 raspy: request_ttl_s,
    silently). A request within the TTL is served when a worker arrives."""
    client = dealers.open(broker.endpoint)
    client.send_multipart(client_request(V02, b"absent", b"old"))
    _queued(broker, 1)  # "old" has reached the broker before the clock moves
    broker.tick(TTL_S * 0.6)
    client.send_multipart(client_request(V02, b"absent", b"young"))
    _queued(broker, 2)
    broker.tick(TTL_S * 0.6)  # "old" is past its TTL, "young" is not
    worker = _registered(broker, dealers, V01, b"absent")
    address, body = split_request(V01, recv(worker))
    assert body == [b"young"]
    worker.send_multipart(final(V01, address, b"served"))
    assert recv(client) == client_final(V02, b"absent", b"served")
    assert received_before_answer(worker, V01) == []  # never given the expired one
    stats = broker.stats()
    assert stats["broker.dropped.expired"] == 1


@pytest.mark.parametrize("dialect", DIALECTS)
def test_after_disconnect_the_broker_sends_the_worker_nothing_more(
    broker: ClockedEdge, dealers: Dealers, dialect: str
) -> None:
    """RFC 7: after a worker's DISCONNECT, and after its own DISCONNECT for an
    unexpected command, the broker MUST send no further commands (no HEARTBEAT); and
    it lives on past the expiry period (zguide's broker crashes then, §2.9)."""
    leaving = _registered(broker, dealers, dialect, b"gone")
    refused = _registered(broker, dealers, dialect, b"gone2")
    leaving.send_multipart(disconnect(dialect))
    refused.send_multipart(ready(dialect, b"gone2"))  # a second READY
    assert recv(refused) == disconnect(dialect)
    wait_status(broker.context, broker.endpoint, b"gone", b"404")
    wait_status(broker.context, broker.endpoint, b"gone2", b"404")
    for _ in range(LIVENESS + 1):
        broker.tick(INTERVAL_S)
    assert received_before_answer(leaving, dialect) == []
    assert received_before_answer(refused, dialect) == []
    assert _status(broker, b"gone") == b"404"
