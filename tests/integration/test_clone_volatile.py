"""`/stats/` lives in the Clone server's memory only, over a real store.

Runtime telemetry that raspyd publishes again at each start: published, served in
snapshots and numbered like any key, never written to the store (each part's
`uptime_s` changes every minute, and rewrote two B-tree leaves of the SD card a
minute); gone after a restart until published again; an older store's records of
it are deleted at the start, with the high-water mark kept.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq
from support.clock import FakeClock
from support.clonesrv import (
    CloneServer,
    clone_server,
    next_update,
    snapshot,
    subscriber,
)
from support.wait import wait_until

from raspy.config import StoreConfig
from raspy.protocol import clone
from raspy.storage.store import Put, Store
from raspy.storage.tables import (
    LAST_SEQ_KEY,
    Table,
    decode_seq,
    encode_kv,
    encode_seq,
)

Context = zmq.Context[zmq.Socket[bytes]]
INTERVAL_S = 60.0
BLOCK = 10
UPTIME = b"/stats/h/clone/uptime_s"
READING = b"/device/h.fake.t/value"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    config = StoreConfig(
        map_size_initial_mb=1, coalesce_interval_s=INTERVAL_S, seq_block=BLOCK
    )
    opened = Store.open(tmp_path / "data", config)
    yield opened
    opened.close()


def _publish(server: CloneServer, *entries: tuple[bytes, bytes]) -> None:
    before = server.counter("clone.published")
    assert server.publisher.set_many(list(entries)) == []
    wait_until(
        lambda: server.counter("clone.published") == before + len(entries),
        what=f"{len(entries)} updates published",
    )


def _stored_keys(store: Store) -> list[bytes]:
    return [key for key, _ in store.scan(Table.KV)]


def _mark(store: Store) -> int:
    raw = store.get(Table.KV_META, LAST_SEQ_KEY)
    return 0 if raw is None else decode_seq(raw)


@pytest.mark.timeout(30)
def test_a_stats_key_is_published_and_served_but_never_stored(
    zmq_context: Context, store: Store, clock: FakeClock
) -> None:
    """Published at once and in a snapshot; a flush writes the reading beside it,
    not it; a client's KVSET with a ttl (a durable update elsewhere) is not
    stored either, nor the server's deletion when its ttl ends; a clean stop
    writes none of them. Their numbers are covered by the stored mark."""
    with clone_server(zmq_context, store, clock) as server:
        sub = subscriber(zmq_context, server.endpoints.publisher, b"/stats/")
        try:
            _publish(server, (UPTIME, b"5"), (READING, b"20.5"))
            assert next_update(sub)[:2] == [UPTIME, clone.encode_seq(1)]
            assert snapshot(zmq_context, server.endpoints.snapshot, b"/stats/") == [
                clone.kvsync(UPTIME, 1, b"5"),
                clone.kthxbai(2, b"/stats/"),
            ]
            clock.advance(INTERVAL_S)
            wait_until(
                lambda: server.counter("clone.coalesced.written") == 1,
                what="a flush of the reading alone",
            )
            assert _stored_keys(store) == [READING]
            server.publisher.set(b"/stats/h/web/x", b"1", ttl_s=5.0)
            frames = next_update(sub)
            assert (frames[0], frames[4]) == (b"/stats/h/web/x", b"1")
            clock.advance(5.0)
            gone = next_update(sub)  # the server's deletion at the ttl's end
            assert (gone[0], gone[4]) == (b"/stats/h/web/x", b"")
            # counted once sent: _publish's count starts after it
            wait_until(
                lambda: server.counter("clone.published") == 4, what="4 published"
            )
            _publish(server, (UPTIME, b"65"))
            published = server.counter("clone.last_seq")
        finally:
            sub.close()
    assert _stored_keys(store) == [READING]
    assert _mark(store) >= published == 5


@pytest.mark.timeout(30)
def test_after_a_restart_a_stats_key_is_absent_until_published_again(
    zmq_context: Context, store: Store, clock: FakeClock
) -> None:
    """A new server over the same store knows none of the last one's `/stats/`,
    and numbers the next publication above every one the last server gave out."""
    with clone_server(zmq_context, store, clock) as server:
        _publish(server, (UPTIME, b"5"), (READING, b"20.5"))
        _publish(server, (UPTIME, b"65"))
    with clone_server(zmq_context, store, clock) as server:
        first = snapshot(zmq_context, server.endpoints.snapshot, b"/stats/")
        assert [frames[0] for frames in first] == [clone.KTHXBAI]
        reading = snapshot(zmq_context, server.endpoints.snapshot, b"/device/")
        assert reading[0][:1] + reading[0][4:] == [READING, b"20.5"]
        _publish(server, (UPTIME, b"1"))
        again = snapshot(zmq_context, server.endpoints.snapshot, b"/stats/")
        assert (again[0][0], again[0][4]) == (UPTIME, b"1")
        assert clone.decode_seq(again[0][1]) > 3


@pytest.mark.timeout(30)
def test_an_older_stores_stats_records_are_deleted_at_the_start(
    zmq_context: Context, store: Store, clock: FakeClock
) -> None:
    """An older raspyd (or a restore of its dump) left `/stats/` records: the start
    deletes them in one transaction, the reading beside them kept, and the stored
    mark keeps the highest number they had (here above the old mark)."""
    store.commit(
        [
            Put(Table.KV, UPTIME, encode_kv(7, b"99", b"", None)),
            Put(Table.KV, b"/stats/h/clock/state", encode_kv(6, b"0", b"", 30.0)),
            Put(Table.KV, READING, encode_kv(4, b"20.5", b"", None)),
            Put(Table.KV_META, LAST_SEQ_KEY, encode_seq(5)),
        ]
    )
    with clone_server(zmq_context, store, clock) as server:
        assert server.counter("clone.load.volatile_deleted") == 2
        assert _stored_keys(store) == [READING]
        assert _mark(store) == 7
        first = snapshot(zmq_context, server.endpoints.snapshot, b"/stats/")
        assert first == [clone.kthxbai(7, b"/stats/")]
        _publish(server, (UPTIME, b"1"))
        assert server.counter("clone.last_seq") == 8
        assert server.counter("clone.ephemeral_keys") == 0  # the clock's ttl: gone
    with clone_server(zmq_context, store, clock) as server:  # once: none left
        assert server.counter("clone.load.volatile_deleted") == 0
