"""The `gpio` service on a real edge, Clone server and Store, on gpiozero's mock pins
(tests/integration/test_gpio_actor.py, test_gpio_hold.py): the `gpio` fixture a test
imports (found by name) and the class behind it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pykka
import pytest

from raspy.actors.devices import MdpLink
from raspy.actors.gpio import GpioServiceActor
from raspy.client.clone import CloneClient
from raspy.clock import Clock, SystemClock
from raspy.config import DevicesConfig
from raspy.devices.gpio_pins import Pins
from raspy.devices.registries import gpio_registry
from raspy.stats import Stats
from raspy.storage.device_settings import DeviceSettings
from raspy.storage.store import Store
from support.clonesrv import CloneServer
from support.device_services import HOST
from support.device_services import mdp_request as _request
from support.edge_fixtures import EdgeHandle

SERVICE = f"{HOST}.gpio.devices"


class Gpio:
    """Starts the gpio service on the edge and Clone server; stops it at the end."""

    def __init__(self, edge: EdgeHandle, server: CloneServer, store: Store) -> None:
        self.edge = edge
        self.server = server
        self.store = store
        self.pins = Pins.mock()
        self.stats = Stats()
        self.clock: Clock = SystemClock()
        self.ref: pykka.ActorRef[Any] | None = None

    def start(
        self,
        *entries: dict[str, Any],
        restarting: bool | Callable[[], bool] = False,
        unavailable: str | None = None,
        tree: CloneClient | None = None,
    ) -> pykka.ActorRef[Any]:
        """`restarting`: what the service is told at its stop (a callable: asked
        then, as raspyd's runtime is); `unavailable`: no pin factory, for that
        reason; `tree`: the tree a start reads its keys from, as raspyd's read_tree
        (None: none)."""
        config = DevicesConfig(gpio_enabled=True, pin_factory="mock", gpio=entries)
        self.ref = GpioServiceActor.start(
            gpio_registry(HOST, config),
            self.server.publisher,
            pins=self.pins if unavailable is None else None,
            **({} if unavailable is None else {"unavailable": unavailable}),
            restarting=restarting if callable(restarting) else lambda: restarting,
            clock=self.clock,
            stats=self.stats,
            link=MdpLink(self.edge.ref, self.edge.outbox),
            settings=DeviceSettings(self.store),
            stored=None if tree is None else _reader(tree),
        )
        return self.ref

    def stop(self) -> None:
        if self.ref is not None:
            self.ref.stop(block=True, timeout=10)
            self.ref = None

    def request(self, **document: Any) -> tuple[bytes, Any]:
        status, body = _request(self.edge, SERVICE, **document)
        return status, json.loads(body)


def _reader(tree: CloneClient) -> Callable[[str], list[tuple[str, bytes]]]:
    def read(prefix: str) -> list[tuple[str, bytes]]:
        return [(k.decode(), v) for k, v in tree.items(prefix.encode())]

    return read


@pytest.fixture(name="gpio")
def gpio_fixture(edge: EdgeHandle, server: CloneServer, store: Store) -> Iterator[Gpio]:
    running = Gpio(edge, server, store)
    yield running
    running.stop()
