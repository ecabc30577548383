"""The edge's service watchers (LocalPeers): an actor that stops says so and is told
no more; a watcher that died without saying so is dropped at the next event."""

from __future__ import annotations

import queue
from collections.abc import Iterator
from typing import Any

import pykka
import pytest
from support.recording_actor import QueueRecorder

from raspy.actors import messages as msgs
from raspy.actors.edge.local import LocalPeers
from raspy.cores.broker import BrokerCore
from raspy.stats import Stats


@pytest.fixture
def recorders() -> Iterator[list[tuple[pykka.ActorRef[Any], queue.Queue[object]]]]:
    made: list[tuple[pykka.ActorRef[Any], queue.Queue[object]]] = []
    for _ in range(2):
        seen: queue.Queue[object] = queue.Queue()
        made.append((QueueRecorder.start(seen), seen))
    yield made
    for ref, _ in made:
        if ref.is_alive():
            ref.stop()


def test_an_unwatching_actor_is_told_no_more_and_the_others_still_are(
    recorders: list[tuple[pykka.ActorRef[Any], queue.Queue[object]]],
) -> None:
    (first, first_seen), (second, second_seen) = recorders
    peers = LocalPeers(BrokerCore(), Stats(), lambda outputs: None, lambda peer: None)
    for ref in (first, second):
        assert peers.command(msgs.WatchServices(ref), 0.0)
    assert peers.watcher_count == 2
    assert peers.command(msgs.UnwatchServices(first), 0.0)
    assert peers.watcher_count == 1
    peers.availability(b"echo", True)
    assert second_seen.get(timeout=5) == msgs.ServiceAvailabilityChanged(b"echo", True)
    first.stop()  # its inbox is processed in order: anything told was recorded by now
    assert first_seen.empty()


def test_unwatching_twice_or_unknown_changes_nothing(
    recorders: list[tuple[pykka.ActorRef[Any], queue.Queue[object]]],
) -> None:
    (first, _), (second, _) = recorders
    peers = LocalPeers(BrokerCore(), Stats(), lambda outputs: None, lambda peer: None)
    peers.command(msgs.WatchServices(first), 0.0)
    peers.command(msgs.UnwatchServices(second), 0.0)
    assert peers.watcher_count == 1
    peers.command(msgs.UnwatchServices(first), 0.0)
    peers.command(msgs.UnwatchServices(first), 0.0)
    assert peers.watcher_count == 0


def test_a_watcher_that_died_silently_is_dropped_at_the_next_event(
    recorders: list[tuple[pykka.ActorRef[Any], queue.Queue[object]]],
) -> None:
    (first, _), (second, second_seen) = recorders
    peers = LocalPeers(BrokerCore(), Stats(), lambda outputs: None, lambda peer: None)
    peers.command(msgs.WatchServices(first), 0.0)
    peers.command(msgs.WatchServices(second), 0.0)
    first.stop()
    peers.availability(b"echo", False)
    assert peers.watcher_count == 1
    assert second_seen.get(timeout=5) == msgs.ServiceAvailabilityChanged(b"echo", False)
