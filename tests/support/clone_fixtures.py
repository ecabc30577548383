"""Fixtures (a pytest plugin, see tests/conftest.py): a Clone server on a real store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq

from raspy.config import StoreConfig
from raspy.storage.store import Store
from support.clock import FakeClock
from support.clonesrv import CloneServer, clone_server, subscriber

Context = zmq.Context[zmq.Socket[bytes]]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(tmp_path / "data", StoreConfig(map_size_initial_mb=1))
    yield opened
    opened.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def server(
    zmq_context: Context, store: Store, clock: FakeClock
) -> Iterator[CloneServer]:
    with clone_server(zmq_context, store, clock) as running:
        yield running


@pytest.fixture
def writer(zmq_context: Context, server: CloneServer) -> Iterator[zmq.Socket[bytes]]:
    """A client's publisher connection to the collector (P+2). An XPUB instead of a
    PUB only to see the collector's subscription (docs/protocols.md §1.6); what it
    sends is exactly what a PUB would send."""
    sock = zmq_context.socket(zmq.XPUB)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(server.endpoints.collector)
    assert sock.poll(5000), "the collector never subscribed"
    assert sock.recv() == b"\x01"
    yield sock
    sock.close()


@pytest.fixture
def sub(zmq_context: Context, server: CloneServer) -> Iterator[zmq.Socket[bytes]]:
    """A whole-map subscriber, returned once a HUGZ proved its subscription live."""
    sock = subscriber(zmq_context, server.endpoints.publisher)
    yield sock
    sock.close()
