"""Titanic test helpers: an actor harness on a running edge, a scripted raw worker."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pykka
import pytest
import zmq

from raspy.actors.titanic import Inspect, TitanicActor, start_titanic
from raspy.client.titanic import TitanicClient
from raspy.clock import Clock, SystemClock
from raspy.config import StoreConfig, TitanicConfig
from raspy.protocol import mdp, mdp_decode
from raspy.stats import Stats
from raspy.storage.store import Store
from raspy.transport.outbox import Outbox
from support.edge_fixtures import EdgeHandle
from support.zmqctx import dealer, recv

TEST_CONFIG = TitanicConfig(
    service_workers=2, dispatch_timeout_s=2.0, retry_initial_s=0.2, retry_max_s=0.4
)


def open_store(path: Path, **overrides: Any) -> Store:
    """A real store with a small map, so that growth is exercised."""
    config = StoreConfig(**{"map_size_initial_mb": 1, **overrides})
    return Store.open(path, config)


@dataclass
class TitanicHarness:
    """A TitanicActor on an already running edge; start() and stop() it at will."""

    edge: pykka.ActorRef[Any]
    outbox: Outbox
    endpoint: str
    context: zmq.Context[zmq.Socket[bytes]]
    store: Store
    stats: Stats
    ref: pykka.ActorRef[TitanicActor] | None = None

    def start(
        self,
        config: TitanicConfig = TEST_CONFIG,
        clock: Clock | None = None,
        not_relayed: frozenset[bytes] = frozenset(),
    ) -> None:
        clock = clock or SystemClock()
        self.ref = start_titanic(
            self.edge,
            self.outbox,
            self.store,
            config,
            clock,
            self.stats,
            not_relayed=not_relayed,
        )

    def stop(self) -> None:
        if self.ref is not None:
            self.ref.stop(block=True, timeout=5)
            self.ref = None

    def client(self, **kwargs: Any) -> TitanicClient:
        return TitanicClient(
            self.endpoint, context=self.context, timeout_s=3.0, **kwargs
        )

    def inspect(self) -> dict[str, int]:
        assert self.ref is not None
        state: dict[str, int] = self.ref.ask(Inspect(), block=True, timeout=5)
        return state


class RawWorker:
    """A worker on a DEALER written from RFC 7 / RFC 18, driven step by step."""

    def __init__(
        self,
        ctx: zmq.Context[zmq.Socket[bytes]],
        endpoint: str,
        service: bytes,
        version: mdp.Version = mdp.Version.V02,
    ) -> None:
        self.version = version
        self.sock = dealer(ctx, endpoint)
        self.sock.send_multipart(mdp.encode(mdp.Ready(version, service)))

    def request(self, timeout_ms: int = 5000) -> mdp.WorkerRequest:
        """The next REQUEST; the broker's HEARTBEATs are skipped."""
        while True:
            decoded = mdp_decode.decode_at_worker(
                recv(self.sock, timeout_ms), self.version
            )
            if isinstance(decoded, mdp.WorkerRequest):
                return decoded
            assert isinstance(decoded, mdp.Heartbeat)

    def reply(self, client: bytes, body: tuple[bytes, ...], final: bool = True) -> None:
        reply = mdp.WorkerReply(self.version, client, body, final)
        self.sock.send_multipart(mdp.encode(reply))

    def close(self) -> None:
        """DISCONNECT, then close the socket whatever the DISCONNECT met."""
        try:
            self.sock.send_multipart(mdp.encode(mdp.Disconnect(self.version)))
        finally:
            self.sock.close(linger=0)


@pytest.fixture(name="titanic")
def titanic_fixture(edge: EdgeHandle, tmp_path: Path) -> Iterator[TitanicHarness]:
    """A Titanic actor on the test's edge (fixture `edge`) and a store of its own."""
    with open_store(tmp_path / "store") as store:
        handle = TitanicHarness(
            edge.ref, edge.outbox, edge.endpoint, edge.context, store, Stats()
        )
        handle.start()
        yield handle
        handle.stop()
