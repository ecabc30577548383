"""A follower of the tree (web face, MQTT bridge, history) subscribes and attaches
as it starts: when a later step fails, the ones it made before are undone with it.
The MQTT bridge's start used to fail with its prefixes still held by the real Clone
server, which told them to a gone actor until a change found it gone."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pykka
import pytest
from support.clonesrv import CloneServer
from support.edge_fixtures import EdgeHandle
from support.followers import start_mqtt, start_web
from support.mdp_spec import mmi_service
from support.store_fixtures import data_dir_fixture  # noqa: F401  # fixture `data_dir`
from support.wait import wait_until

from raspy.actors import messages as msgs
from raspy.actors.clone import server as server_mod
from raspy.actors.clone.seeds import Seed
from raspy.actors.history import HistoryActor
from raspy.actors.worker import PeerLinks
from raspy.clock import SystemClock
from raspy.config import HistoryConfig
from raspy.stats import Stats
from raspy.storage.store import Store

pytestmark = pytest.mark.timeout(30)

Ref = pykka.ActorRef[Any]
StartPart = Callable[[PeerLinks, Path], Ref]


@pytest.fixture
def second_seed_unreadable(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The second seed asked for comes with its view closed (as any thread may close
    one): its reading fails with the store's own StoreError. Returns the prefixes
    asked for, in order."""
    seed_of = server_mod._seed
    asked: list[bytes] = []

    def second_closed(clone_ref: Ref, request: Any) -> Seed:
        seed = seed_of(clone_ref, request)
        asked.append(request.prefix)
        if len(asked) == 2:
            seed.view.close()
        return seed

    monkeypatch.setattr(server_mod, "_seed", second_closed)
    return asked


def _subscribed(server: CloneServer, ref: Ref) -> list[bytes]:
    """The prefixes the server holds for `ref` (read after a full turn)."""
    server.turn()
    actor = server.ref._actor_weakref()
    assert actor is not None
    subscribers = actor._loop._parts.subscribers
    return [prefix for prefix, held in list(subscribers._entries) if held == ref]


@pytest.mark.parametrize("start", [start_web, start_mqtt], ids=["web", "mqtt"])
def test_a_start_failed_at_a_later_prefix_leaves_no_subscription(
    start: StartPart,
    edge: EdgeHandle,
    server: CloneServer,
    store: Store,
    data_dir: Path,
    second_seed_unreadable: list[bytes],
) -> None:
    links = PeerLinks(edge.ref, edge.outbox, server.ref, store, SystemClock(), Stats())
    part = start(links, data_dir)
    with pytest.raises(pykka.ActorDeadError):  # its start failed: it stopped
        part.proxy().actor_urn.get(timeout=10)
    assert len(second_seed_unreadable) == 2  # the first subscribed, then the second
    assert _subscribed(server, part) == []
    assert store._env._readers == 0  # no view left open


class _WatchRefused(pykka.ThreadingActor):
    """The edge, but for WatchServices (the last ask of history's start), which
    fails as an edge that stops meanwhile fails it."""

    def __init__(self, edge: Ref) -> None:
        super().__init__()
        self._edge = edge

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, msgs.WatchServices):
            raise pykka.ActorDeadError("the edge stopped")
        return self._edge.ask(message, timeout=5)


def test_a_history_start_failed_after_it_attached_leaves_no_worker_nor_subscription(
    edge: EdgeHandle, server: CloneServer, store: Store
) -> None:
    """Its subscription to `/device/` was held by the Clone server, and its worker
    by the broker, which handed it the next history request: lost with the actor
    (an in-process worker never expires), the client waited for its retry."""
    refusing = _WatchRefused.start(edge.ref)
    links = PeerLinks(refusing, edge.outbox, server.ref, store, SystemClock(), Stats())
    part = HistoryActor.start("testhost", HistoryConfig(), links)
    with pytest.raises(pykka.ActorDeadError):  # its start failed: it stopped
        part.proxy().actor_urn.get(timeout=10)
    assert _subscribed(server, part) == []
    wait_until(
        lambda: (
            mmi_service(edge.context, edge.endpoint, b"testhost.logger.history")
            == b"404"
        ),
        what="the broker forgot the history worker",
    )
