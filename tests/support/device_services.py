"""Device services on a real edge and Clone server, for the device actor tests
(tests/integration/test_device_actors.py, test_onewire_actors.py, test_device_runtime.py):
fixtures a test imports (found by name), and readers of the `/device/` tree."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pykka
import pytest
import zmq

from raspy.actors.devices import DeviceServiceActor, MdpLink
from raspy.client.clone import CloneClient
from raspy.client.mdp import Client
from raspy.clock import Clock, SystemClock
from raspy.devices.registries import Discover
from raspy.devices.registry import Registry
from raspy.devices.template import JsonValue
from raspy.stats import Stats
from raspy.storage.store import Store
from support.clonesrv import CloneServer, clone_server
from support.edge_fixtures import EdgeHandle
from support.wait import wait_until

Context = zmq.Context[zmq.Socket[bytes]]
HOST = "testhost"
START_WALL = 1_700_000_040.0  # a multiple of every period used here


@pytest.fixture(name="server")
def server_fixture(zmq_context: Context, store: Store) -> Iterator[CloneServer]:
    """A Clone server on the real clock, over the `store` fixture (support.clone_fixtures)."""
    with clone_server(zmq_context, store, SystemClock()) as running:
        yield running


@pytest.fixture(name="tree")
def tree_fixture(zmq_context: Context, server: CloneServer) -> Iterator[CloneClient]:
    """A Clone client of the `/device/` subtree, synced."""
    client = CloneClient(server.endpoints, b"/device/", context=zmq_context)
    client.wait_synced()
    yield client
    client.close()


class Services:
    """Starts device services on the edge and the Clone server; stops them first."""

    def __init__(self, edge: EdgeHandle, server: CloneServer) -> None:
        self.edge = edge
        self.server = server
        self.stats = Stats()
        self.refs: list[pykka.ActorRef[Any]] = []

    def start(
        self,
        registry: Registry,
        clock: Clock,
        discover: Discover | None = None,
        **options: Any,
    ) -> pykka.ActorRef[Any]:
        ref = DeviceServiceActor.start(
            registry,
            self.server.publisher,
            clock=clock,
            stats=self.stats,
            link=MdpLink(self.edge.ref, self.edge.outbox),
            discover=discover,
            **options,
        )
        self.refs.append(ref)
        return ref

    def stop(self) -> None:
        """Stop every service started, the last first; once is enough."""
        while self.refs:
            self.refs.pop().stop(block=True, timeout=10)


@pytest.fixture(name="services")
def services_fixture(edge: EdgeHandle, server: CloneServer) -> Iterator[Services]:
    running = Services(edge, server)
    yield running
    running.stop()


def tree_value(tree: CloneClient, fullname: str, entry: str = "value") -> Any:
    """The JSON value of `/device/<fullname>/<entry>`, or None if there is none."""
    body = tree.get(f"/device/{fullname}/{entry}".encode())
    return None if body is None else json.loads(body)


def wait_entry(
    tree: CloneClient, fullname: str, entry: str, expected: object, what: str = ""
) -> None:
    wait_until(
        lambda: tree_value(tree, fullname, entry) == expected,
        what=what or f"{fullname}/{entry} == {expected!r}",
    )


def mdp_request(edge: EdgeHandle, service: str, **document: JsonValue) -> list[bytes]:
    """One version-1 vocabulary request to `service` over MDP; the reply frames."""
    body = json.dumps({"v": 1, **document})
    with Client(edge.endpoint, context=edge.context, timeout_s=3, retries=1) as client:
        return client.request(service, body)
