"""A follower of the tree (web face, MQTT bridge) subscribes to several prefixes as
it starts: when a later one fails, the ones it made before are undone with it. The
MQTT bridge's start used to fail with them still held by the real Clone server,
which told them to a gone actor until a change found it gone."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pykka
import pytest
from support.clonesrv import CloneServer
from support.edge_fixtures import EdgeHandle
from support.followers import start_mqtt, start_web
from support.store_fixtures import data_dir_fixture  # noqa: F401  # fixture `data_dir`

from raspy.actors.clone import server as server_mod
from raspy.actors.clone.seeds import Seed
from raspy.actors.worker import PeerLinks
from raspy.clock import SystemClock
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
