"""A snapshot whose read batch yields nothing to send (docs/protocols.md §6.3, issue
17): every key it read has a deletion published but not yet stored, so the overlay
hides it. The snapshot reads on; it once ended there, counted completed, without
KTHXBAI and without the keys after."""

from __future__ import annotations

from pathlib import Path

import pytest
import zmq
from support.clock import FakeClock
from support.wait import wait_until

from raspy.actors.clone.snapshot import SnapshotStreamer
from raspy.config import StoreConfig
from raspy.cores.clone import Update
from raspy.protocol import clone
from raspy.ratelimit import LogRateLimiter
from raspy.stats import Stats
from raspy.storage.store import Put, Store
from raspy.storage.tables import LAST_SEQ_KEY, Table, encode_kv, encode_seq

Context = zmq.Context[zmq.Socket[bytes]]

KEYS = 20
DELETED = 7  # more than three read batches of two


def _key(index: int) -> bytes:
    return b"/k/%02d" % index


class _DeletesPending:
    """The first DELETED keys deleted, published but not yet stored (a `del
    --subtree` the store is still writing: CommitPipeline's overlay)."""

    published_seq = KEYS + DELETED
    storing = False  # nothing on its way to the store

    def overlay(self, subtree: bytes) -> list[Update]:
        return [
            Update(KEYS + 1 + index, _key(index), b"", (), b"", None)
            for index in range(DELETED)
        ]


@pytest.mark.timeout(30)
def test_a_read_batch_all_hidden_by_pending_deletes_does_not_end_the_snapshot(
    zmq_context: Context, tmp_path: Path, clock: FakeClock
) -> None:
    """A read-ahead of two entries (chunk 2, hwm 2: large values make it so) and
    the first seven keys deleted in the overlay: the rest of the keys and KTHXBAI
    all arrive, in order."""
    store = Store.open(tmp_path / "data", StoreConfig(map_size_initial_mb=16))
    router = zmq_context.socket(zmq.ROUTER)
    dealer = zmq_context.socket(zmq.DEALER)
    try:
        store.commit(
            [
                *(
                    Put(Table.KV, _key(index), encode_kv(index + 1, b"v", {}, None))
                    for index in range(KEYS)
                ),
                Put(Table.KV_META, LAST_SEQ_KEY, encode_seq(KEYS)),
            ]
        )
        router.setsockopt(zmq.LINGER, 0)
        router.setsockopt(zmq.ROUTER_MANDATORY, 1)
        router.setsockopt(zmq.SNDHWM, 2)
        router.bind("tcp://127.0.0.1:*")
        dealer.setsockopt(zmq.LINGER, 0)
        dealer.connect(router.getsockopt_string(zmq.LAST_ENDPOINT))
        dealer.send_multipart([clone.ICANHAZ, b"/k/"])
        assert router.poll(5000)
        routing_id, _, subtree = router.recv_multipart()
        stats = Stats()
        streamer = SnapshotStreamer(
            store, 2, stats, clock, LogRateLimiter(), _DeletesPending(), hwm=2
        )
        assert streamer.request(routing_id, subtree)
        received: list[list[bytes]] = []

        def turn() -> bool:
            streamer.unblock()
            streamer.advance(router)
            while dealer.poll(0):
                received.append(dealer.recv_multipart())
            ended = not streamer._active  # it saw its KTHXBAI out
            return ended and bool(received) and received[-1][0] == clone.KTHXBAI

        wait_until(turn, what="the snapshot ended with its KTHXBAI", timeout_s=5)
        assert [frames[0] for frames in received] == [
            *(_key(index) for index in range(DELETED, KEYS)),
            clone.KTHXBAI,
        ]
        assert received[-1][1] == clone.encode_seq(KEYS + DELETED)
        assert stats.get("clone.snapshots.completed") == 1
        assert stats.get("clone.snapshots.entries") == KEYS - DELETED
        streamer.close()
    finally:
        dealer.close()
        router.close()
        store.close()
