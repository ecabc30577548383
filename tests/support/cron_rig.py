"""The cron actor's rig (tests/integration/test_cron_*.py): the actor over a real
edge, Clone server and Store on a FakeClock whose wall clock can step alone, and
helpers to read its `/event/cron/<job>` keys."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pykka
import pytest

from raspy.actors.cron import start_cron
from raspy.client.clone import CloneClient
from raspy.client.mdp import Client
from raspy.rules.last_fires import LastFires
from raspy.stats import Stats
from raspy.storage.store import Store
from support.clock import FakeClock
from support.clonesrv import CloneServer
from support.edge_fixtures import EdgeHandle
from support.wait import wait_until

HOST = "testhost"
SERVICE = f"{HOST}.core.cron"
UTC_ZONE = ZoneInfo("UTC")
# FakeClock's default wall: 2023-11-14 22:13:20 UTC; the next */5 slot is 22:15:00.
SLOT = 1_700_000_100.0


class SteppingClock(FakeClock):
    """A FakeClock whose wall clock can also step alone, as NTP steps it."""

    def step_wall(self, seconds: float) -> None:
        self._wall += seconds


@pytest.fixture(name="clock")
def clock_fixture() -> SteppingClock:
    return SteppingClock()


@pytest.fixture(name="tree")
def tree_fixture(zmq_context: Any, server: CloneServer) -> Iterator[CloneClient]:
    client = CloneClient(server.endpoints, b"/event/cron/", context=zmq_context)
    client.wait_synced()
    yield client
    client.close()


class Cron:
    """Starts (and restarts) the cron actor; sends it requests over MDP."""

    def __init__(
        self, edge: EdgeHandle, server: CloneServer, store: Store, clock: FakeClock
    ) -> None:
        self.edge, self.server, self.store, self.clock = edge, server, store, clock
        self.stats = Stats()
        self.fires = LastFires()  # the jobs' last fires, kept as raspyd keeps them
        self.ref: pykka.ActorRef[Any] | None = None

    def start(self, store: Store | None = None) -> None:
        self.ref = start_cron(
            edge=self.edge.ref,
            outbox=self.edge.outbox,
            store=self.store if store is None else store,
            publisher=self.server.publisher,
            hostname=HOST,
            tz=UTC_ZONE,
            clock=self.clock,
            stats=self.stats,
            fires=self.fires,
            clone=self.server.ref,
        )

    def stop(self) -> None:
        if self.ref is not None:
            self.ref.stop(block=True, timeout=10)
            self.ref = None

    def request(self, **document: Any) -> tuple[bytes, dict[str, Any]]:
        return request(self.edge, **document)


def request(edge: EdgeHandle, **document: Any) -> tuple[bytes, dict[str, Any]]:
    """One version-1 request to the cron service over MDP: status and decoded reply."""
    body = json.dumps({"v": 1, **document})
    with Client(edge.endpoint, context=edge.context, timeout_s=3, retries=1) as client:
        status, reply = client.request(SERVICE, body)
    return status, json.loads(reply)


@pytest.fixture(name="cron")
def cron_fixture(
    edge: EdgeHandle, server: CloneServer, store: Store, clock: SteppingClock
) -> Iterator[Cron]:
    running = Cron(edge, server, store, clock)
    yield running
    running.stop()


def event(tree: CloneClient, name: str) -> Any:
    body = tree.get(f"/event/cron/{name}".encode())
    return None if body is None else json.loads(body)


def wait_event(tree: CloneClient, name: str, expected: object) -> None:
    wait_until(lambda: event(tree, name) == expected, what=f"{name} event {expected}")


def late_fired_then_stepped_back(
    cron: Cron, tree: CloneClient, clock: SteppingClock
) -> None:
    """The job `late` (15 22 * * *) added and fired at 22:15, then the wall clock set
    back two minutes (NTP: it was ahead), as the step-back tests begin."""
    cron.start()
    assert cron.request(action="add", name="late", schedule="15 22 * * *")[0] == b"200"
    clock.advance(SLOT - clock.wall())
    wait_event(tree, "late", fire("late", "2023-11-14T22:15:00+00:00"))
    clock.step_wall(-120.0)


def fire(name: str, scheduled: str, fired: str | None = None) -> dict[str, str]:
    return {"job": name, "scheduled": scheduled, "fired": fired or scheduled}
