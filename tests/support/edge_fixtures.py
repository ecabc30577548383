"""Fixtures (a pytest plugin, see tests/conftest.py): a checked context and a running edge."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pykka
import pytest
import zmq

from raspy.actors import edge as edge_mod
from raspy.clock import SystemClock
from raspy.cores.broker import BrokerCore
from raspy.cores.broker_settings import BrokerSettings
from raspy.stats import Stats
from raspy.transport.outbox import Outbox
from support.mdp_spec import Dealers
from support.sent_log import SentLogContext, sent_log_context
from support.zmqctx import checked_context


@dataclass
class EdgeHandle:
    ref: pykka.ActorRef[edge_mod.EdgeActor]
    endpoint: str
    outbox: Outbox
    stats: Stats
    context: zmq.Context[zmq.Socket[bytes]]


@pytest.fixture
def zmq_context() -> Iterator[zmq.Context[zmq.Socket[bytes]]]:
    with checked_context() as ctx:
        yield ctx


@pytest.fixture
def logged_context() -> Iterator[SentLogContext]:
    """A checked context for a client under test: its sockets log each message as
    they send it, so a test can tell all that the client sent (support.sent_log)."""
    with sent_log_context() as ctx:
        yield ctx


@pytest.fixture
def router(
    zmq_context: zmq.Context[zmq.Socket[bytes]],
) -> Iterator[tuple[zmq.Socket[bytes], str]]:
    """A bare ROUTER on an ephemeral port and its endpoint: a test plays the broker
    (or a service behind it) by hand, frame by frame."""
    sock: zmq.Socket[bytes] = zmq_context.socket(zmq.ROUTER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.bind("tcp://127.0.0.1:*")
    try:
        yield sock, sock.getsockopt_string(zmq.LAST_ENDPOINT)
    finally:
        sock.close()


@pytest.fixture
def broker_settings() -> BrokerSettings:
    return BrokerSettings()


@pytest.fixture
def edge(
    zmq_context: zmq.Context[zmq.Socket[bytes]], broker_settings: BrokerSettings
) -> Iterator[EdgeHandle]:
    stats = Stats()
    ref, endpoint, outbox = edge_mod.start_edge(
        zmq_context,
        edge_mod.EdgeSettings("tcp://127.0.0.1:*", linger_ms=0),
        BrokerCore(broker_settings),
        SystemClock(),
        stats,
    )
    yield EdgeHandle(ref, endpoint, outbox, stats, zmq_context)
    pykka.ActorRegistry.stop_all(block=True, timeout=5)


@pytest.fixture
def dealers(edge: EdgeHandle) -> Iterator[Dealers]:
    """Raw DEALER peers of the running edge, closed after the test."""
    made = Dealers(edge.context)
    yield made
    made.close_all()
