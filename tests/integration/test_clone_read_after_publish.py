"""read_tree, read_records and a subscription's seed see every in-process publish
sent before them.

A device service restarted by a reload reads its subtree at start: the last writes
of the one before it (a simulated output's value just set) were still in the Clone
server's outbox, or on their way to the store, and the read missed them. Here a
publish and a read follow each other at once on one thread, many times over.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pykka
import pytest
import zmq
from support.clock import FakeClock
from support.clonesrv import CloneServer, clone_server

from raspy.actors import messages as msgs
from raspy.actors.clone.server import read_records, read_tree, subscribe_seeded
from raspy.config import StoreConfig
from raspy.storage.store import Store

pytestmark = pytest.mark.timeout(60)

Context = zmq.Context[zmq.Socket[bytes]]
ROUNDS = 200


@pytest.fixture
def coalescing_server(
    zmq_context: Context, tmp_path: Path, clock: FakeClock
) -> Iterator[tuple[CloneServer, Store]]:
    """Readings under /device/ coalesced, written once a minute (issue 17)."""
    config = StoreConfig(map_size_initial_mb=1, coalesce_interval_s=60.0)
    store = Store.open(tmp_path / "wear", config)
    try:
        with clone_server(zmq_context, store, clock) as running:
            yield running, store
    finally:
        store.close()


def _missed(server: CloneServer, store: Store, key: str) -> list[int]:
    """The rounds whose read right after a set lacked it (read_tree, read_records)."""
    missed: list[int] = []
    prefix = key.rsplit("/", 1)[0] + "/"
    for number in range(ROUNDS):
        body = str(number).encode()
        server.publisher.set(key.encode(), body)
        if (key, body) not in read_tree(server.ref, store, prefix):
            missed.append(number)
        server.publisher.set(key.encode(), body + b"!")
        records = read_records(server.ref, store, prefix)
        if (key, body + b"!") not in [(k, b) for k, _, b in records]:
            missed.append(number)
    return missed


def test_a_read_right_after_a_durable_set_holds_it(
    server: CloneServer, store: Store
) -> None:
    assert _missed(server, store, "/out/lamp") == []


def test_a_read_right_after_a_coalesced_reading_holds_it(
    coalescing_server: tuple[CloneServer, Store],
) -> None:
    server, store = coalescing_server
    assert _missed(server, store, "/device/t1/value") == []


class _Listener(pykka.ThreadingActor):
    """A subscriber that only needs to exist: the seed is what is looked at."""


def test_a_seed_taken_right_after_a_publish_holds_it(
    server: CloneServer, coalescing_server: tuple[CloneServer, Store]
) -> None:
    """A subscriber's seed holds every in-process publish sent before it asked, as
    read_tree does: the history takes a `/timestamp` in the seed for one of the run
    before (compared with raspyd's start) and one told after it for a new reading,
    and a seed missing the last publish made an old reading a new one."""
    missed: list[tuple[str, int]] = []
    listener = _Listener.start()
    try:
        for running, key in (
            (server, "/out/lamp"),
            (coalescing_server[0], "/device/t/value"),
        ):
            prefix = key.rsplit("/", 1)[0] + "/"
            for number in range(ROUNDS):
                body = str(number).encode()
                running.publisher.set(key.encode(), body)
                seed = subscribe_seeded(running.ref, prefix, listener)
                running.ref.ask(msgs.CloneUnsubscribe(listener))
                if (key, body) not in seed:
                    missed.append((key, number))
    finally:
        listener.stop()
    assert missed == []
