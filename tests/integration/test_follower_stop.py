"""What the web face, the MQTT bridge and history say as they stop: each leaves the
Clone server (CloneUnsubscribe, asked), detaches every in-process peer it attached
and ends its service watch (told). Their edge and Clone server are recording actors."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pykka
import pytest
from support.followers import start_mqtt, start_web
from support.store_fixtures import (
    data_dir_fixture,  # noqa: F401  # fixture `data_dir`
    store_fixture,  # noqa: F401  # fixture `store`
)

from raspy.actors import messages as msgs
from raspy.actors.clone.seeds import Seed
from raspy.actors.history import HistoryActor
from raspy.actors.worker import PeerLinks
from raspy.clock import SystemClock
from raspy.config import HistoryConfig
from raspy.stats import Stats
from raspy.storage.store import Store
from raspy.transport.outbox import Outbox

Ref = pykka.ActorRef[Any]
StartPart = Callable[[PeerLinks, Path], Ref]


class _Recording(pykka.ThreadingActor):
    """Keeps every message, told or asked; answers None, or as a Clone server over
    `store` would when it has one."""

    def __init__(self, store: Store | None = None) -> None:
        super().__init__()
        self.seen: list[object] = []
        self._store = store

    def on_receive(self, message: Any) -> Any:
        self.seen.append(message)
        if isinstance(message, msgs.GetUnstored):  # as a Clone server: none
            unstored: Future[list[object]] = message.answer
            unstored.set_result([])
            return unstored
        if isinstance(message, msgs.SubscribeSeeded) and self._store is not None:
            answer: Future[Seed] = message.answer  # the asker's own to wait for
            answer.set_result(Seed(self._store.read_view(), [], 0))  # nothing unstored
            return answer
        return None


def _seen(ref: Ref) -> list[object]:
    seen: list[object] = ref.proxy().seen.get(timeout=5)
    return list(seen)


def _history(links: PeerLinks, _data_dir: Path) -> Ref:
    return HistoryActor.start("testhost", HistoryConfig(), links)


@pytest.fixture
def outbox() -> Iterator[Outbox]:
    opened = Outbox()
    yield opened
    opened.close()


@pytest.mark.parametrize(
    "start", [start_web, start_mqtt, _history], ids=["web", "mqtt", "history"]
)
def test_a_follower_leaves_the_tree_and_the_edge_as_it_stops(
    start: StartPart, store: Store, data_dir: Path, outbox: Outbox
) -> None:
    edge, clone = _Recording.start(), _Recording.start(store)
    links = PeerLinks(edge, outbox, clone, store, SystemClock(), Stats())
    part = start(links, data_dir)
    part.proxy().actor_urn.get(timeout=10)  # answered once on_start is done
    attached = [m.peer_id for m in _seen(edge) if isinstance(m, msgs.AttachLocal)]
    edge_before, clone_before = len(_seen(edge)), len(_seen(clone))
    assert attached  # every follower is an in-process client at least
    part.stop(block=True, timeout=10)
    assert _seen(clone)[clone_before:] == [msgs.CloneUnsubscribe(part)]
    told = _seen(edge)[edge_before:]
    expected = [*(msgs.DetachLocal(p) for p in attached), msgs.UnwatchServices(part)]
    assert sorted(told, key=repr) == sorted(expected, key=repr)
