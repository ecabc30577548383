"""Fixtures (a pytest plugin, see tests/conftest.py): a Clone server on a real store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq

from raspy.config import StoreConfig
from raspy.storage.store import Store
from support.clock import FakeClock
from support.clonesrv import CloneServer, clone_server

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
