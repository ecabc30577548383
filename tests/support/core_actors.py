"""A CoreActor on a real edge, Clone server and Store, for the core actor tests
(tests/integration/test_core_actors*.py): fixtures found by name, MDP and tree helpers."""

from __future__ import annotations

import contextlib
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pykka
import pytest
import zmq

from raspy.actors import messages as msgs
from raspy.actors.clone.publisher import ClonePublisher
from raspy.actors.core import CoreActor, CoreLinks
from raspy.actors.core.wiring import core_zone
from raspy.client.clone import CloneClient
from raspy.client.mdp import Client
from raspy.config import CoreConfig
from raspy.devices.template import JsonValue
from raspy.rules.clock_steps import ClockSteps
from raspy.rules.last_fires import LastFires
from raspy.secrets_file import SecretsFile
from raspy.stats import Stats
from raspy.storage.store import Store
from raspy.transport.outbox import Outbox
from support.clock import FakeClock
from support.clonesrv import CloneServer
from support.edge_fixtures import EdgeHandle
from support.wait import wait_until

Context = zmq.Context[zmq.Socket[bytes]]
HOST = "testhost"
SERVICE = f"{HOST}.core.scenario"
SEED = 1115  # the core's random source in tests


@dataclass
class Core:
    """Starts and stops CoreActors on one edge, Clone server and store."""

    edge: EdgeHandle
    server: CloneServer
    store: Store
    clock: FakeClock
    config: CoreConfig = field(default_factory=lambda: CoreConfig(timezone="UTC"))
    ref: pykka.ActorRef[Any] | None = None
    steps: ClockSteps | None = None  # shared with a cron actor: one log a clock step
    # the time triggers' last fires, kept from one core to the next as raspyd keeps them
    fires: LastFires = field(default_factory=LastFires)
    stats: Stats = field(default_factory=Stats)  # the core's and its scenarios'
    # random() and random waits: seeded, so a run draws the same numbers each time
    rng: random.Random = field(default_factory=lambda: random.Random(SEED))
    http_service: bool = True  # raspyd's [http_client] enabled
    secrets: SecretsFile | None = None  # raspyd's secrets file (None: none)

    def start(self, *, daemon_start: bool = True) -> pykka.ActorRef[Any]:
        publish_outbox = self.server.ref.ask(msgs.GetPublishOutbox(), timeout=5)
        assert isinstance(publish_outbox, Outbox)
        links = CoreLinks(
            self.edge.ref,
            self.edge.outbox,
            ClonePublisher(publish_outbox),
            self.server.ref,
            self.store,
            self.clock,
            self.stats,
            self.rng,
        )
        self.ref = CoreActor.start(
            HOST,
            self.config,
            core_zone(self.config),
            links,
            daemon_start=daemon_start,
            steps=self.steps,
            fires=self.fires,
            http_service=self.http_service,
            secrets=self.secrets,
        )
        self._started_scenarios(self.ref)
        return self.ref

    @staticmethod
    def _started_scenarios(ref: pykka.ActorRef[Any]) -> None:
        """Wait until every stored scenario's actor has taken its start: a `for:`
        hold resumed from the tree counts from the clock then, and a test that moves
        the clock on right after the start must not get there first. A core whose
        start failed is the test's to see."""
        with contextlib.suppress(pykka.ActorDeadError):
            entries = ref.proxy().entries.get(timeout=10)
            for entry in entries.values():
                if entry.ref is not None:
                    with contextlib.suppress(pykka.ActorDeadError):
                        entry.ref.ask(msgs.Tick(), timeout=5)

    def stop(self) -> None:
        if self.ref is not None:
            self.ref.stop(block=True, timeout=10)
            self.ref = None

    def request(self, action: str, **fields: JsonValue) -> tuple[bytes, Any]:
        """One core.scenario request over MDP: (status, decoded JSON)."""
        body = json.dumps({"v": 1, "action": action, **fields})
        with Client(
            self.edge.endpoint, context=self.edge.context, timeout_s=5, retries=1
        ) as client:
            status, reply = client.request(SERVICE, body)
        return status, json.loads(reply)


@pytest.fixture(name="core")
def core_fixture(edge: EdgeHandle, server: CloneServer, store: Store) -> Iterator[Core]:
    running = Core(edge, server, store, FakeClock())
    yield running
    running.stop()


@pytest.fixture(name="tree")
def tree_fixture(zmq_context: Context, server: CloneServer) -> Iterator[CloneClient]:
    """A Clone client of the whole tree, synced."""
    client = CloneClient(server.endpoints, b"/", context=zmq_context)
    client.wait_synced()
    yield client
    client.close()


def value(tree: CloneClient, key: str) -> JsonValue:
    body = tree.get(key.encode())
    return None if not body else json.loads(body)


def wait_value(tree: CloneClient, key: str, expected: JsonValue) -> None:
    wait_until(lambda: value(tree, key) == expected, what=f"{key} == {expected!r}")
