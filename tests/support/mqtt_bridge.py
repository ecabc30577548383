"""The MQTT bridge actor on a test's edge, Clone server and store (no raspyd), with
its statistics at hand (`support.relay` puts a cuttable link before the broker)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pykka
import pytest

from raspy.actors.mqtt import MqttBridgeActor, Started
from raspy.actors.mqtt.events import GetLinkStats
from raspy.actors.worker import PeerLinks
from raspy.clock import SystemClock
from raspy.config import MqttConfig
from raspy.controls import Control
from raspy.stats import Stats
from raspy.storage.store import Store
from support.clonesrv import CloneServer
from support.edge_fixtures import EdgeHandle
from support.mosquitto import Mosquitto, running_mosquitto


class Bridge:
    """A bridge actor on the edge, the Clone server and the store."""

    def __init__(self, edge: EdgeHandle, server: CloneServer, store: Store) -> None:
        self.edge, self.server, self.store = edge, server, store
        self.ref: pykka.ActorRef[Any] | None = None
        self.stats = Stats()

    def start(
        self,
        port: int,
        base: str,
        subtrees: tuple[str, ...],
        *,
        controls: tuple[Control, ...] = (),
        discovery_prefix: str = "",
        buffer_max_messages: int | None = None,
        cleanup_after_s: float | None = None,
    ) -> None:
        config = MqttConfig(
            enabled=True,
            port=port,
            base_topic=base,
            discovery_prefix=discovery_prefix,
            subtrees=subtrees,
        )
        if buffer_max_messages is not None:
            config = replace(config, buffer_max_messages=buffer_max_messages)
        if cleanup_after_s is not None:
            config = replace(config, cleanup_after_s=cleanup_after_s)
        links = PeerLinks(
            self.edge.ref,
            self.edge.outbox,
            self.server.ref,
            self.store,
            SystemClock(),
            self.stats,
        )
        self.ref = MqttBridgeActor.start(config, "pi", links, controls)
        self.ref.ask(Started(), timeout=5)  # subscribed

    def link_stats(self) -> dict[str, object]:
        assert self.ref is not None
        stats = self.ref.ask(GetLinkStats(), timeout=5)
        assert isinstance(stats, dict)
        return stats

    def set(self, *items: tuple[str, bytes]) -> None:
        for key, body in items:
            self.server.publisher.set(key.encode(), body)

    def stop(self) -> None:
        if self.ref is not None:
            self.ref.stop(block=True, timeout=10)


@pytest.fixture(name="bridge")
def bridge_fixture(
    edge: EdgeHandle, server: CloneServer, store: Store
) -> Iterator[Bridge]:
    """A bridge on the test's edge, Clone server and store; start() it in the test."""
    made = Bridge(edge, server, store)
    yield made
    made.stop()


@pytest.fixture(name="mosquitto")
def mosquitto_fixture(tmp_path: Path) -> Iterator[Mosquitto]:
    with running_mosquitto(tmp_path / "mosquitto") as broker:
        yield broker
