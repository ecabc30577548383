"""Snapshot peers that ask and never read (issue 18, docs/protocols.md §6.3): cut off
as stalled after [limits] snapshot_stall_s, so the few places they hold (MAX_ACTIVE)
free up for every other snapshot long before snapshot_max_s; and what each costs the
server bounded by its byte budget ([limits] clone_subscriber_queue_bytes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import zmq
from support.clock import FakeClock
from support.clonesrv import clone_server, snapshot
from support.wait import wait_until

from raspy.actors.clone.snapshot import MAX_ACTIVE, SnapshotStreamer
from raspy.config import CloneConfig, LimitsConfig, StoreConfig
from raspy.cores.clone import Update
from raspy.cores.clone_snapshot import snapshot_hwm
from raspy.protocol import clone
from raspy.ratelimit import LogRateLimiter
from raspy.stats import Stats
from raspy.storage.store import Put, Store
from raspy.storage.tables import LAST_SEQ_KEY, Table, encode_kv, encode_seq

Context = zmq.Context[zmq.Socket[bytes]]

KEYS = 3000
VALUE = b"v" * 1024  # 3 MB a snapshot: far more than a pipe and the kernel hold


def _fill(store: Store, keys: int = KEYS, value: bytes = VALUE) -> None:
    ops = [
        Put(Table.KV, b"/bulk/%05d" % index, encode_kv(index + 1, value, {}, None))
        for index in range(keys)
    ]
    store.commit([*ops, Put(Table.KV_META, LAST_SEQ_KEY, encode_seq(keys))])


def _deaf_dealer(context: Context, endpoint: str) -> zmq.Socket[bytes]:
    """A raw DEALER that asks for the whole tree and never reads: the smallest
    queue and kernel buffer, so the server's pipe to it fills at once."""
    dealer = context.socket(zmq.DEALER)
    dealer.setsockopt(zmq.LINGER, 0)
    dealer.setsockopt(zmq.RCVHWM, 1)
    dealer.setsockopt(zmq.RCVBUF, 1024)
    dealer.connect(endpoint)
    dealer.send_multipart([clone.ICANHAZ, b""])
    return dealer


@pytest.mark.timeout(60)
def test_peers_that_never_read_are_cut_off_as_stalled_and_the_next_is_served(
    zmq_context: Context, tmp_path: Path, clock: FakeClock
) -> None:
    """MAX_ACTIVE peers take every place and read nothing: each is cut off once it
    took nothing for snapshot_stall_s (counted as `stalled`), not kept until
    snapshot_max_s (an hour here), and a reader that asks meanwhile gets its whole
    snapshot. (The retry flag, cleared on every turn, once hid the stall.)"""
    store = Store.open(tmp_path / "data", StoreConfig(map_size_initial_mb=16))
    try:
        _fill(store)
        limits = LimitsConfig(snapshot_stall_s=0.5, snapshot_max_s=3600)
        config = CloneConfig(hugz_interval_s=0.1, snapshot_chunk=50)
        with clone_server(
            zmq_context, store, clock, config=config, limits=limits
        ) as server:
            deaf = [
                _deaf_dealer(zmq_context, server.endpoints.snapshot)
                for _ in range(MAX_ACTIVE)
            ]
            try:
                wait_until(
                    lambda: server.counter("clone.snapshots.started") == MAX_ACTIVE,
                    what="every place taken by a peer that does not read",
                )
                received = snapshot(zmq_context, server.endpoints.snapshot)
                assert len(received) == KEYS + 1
                assert received[-1][0] == clone.KTHXBAI
                wait_until(
                    lambda: server.counter("clone.snapshots.stalled") == MAX_ACTIVE,
                    what="every deaf peer cut off as stalled",
                )
                # counted at the server's next turn when KTHXBAI ended a chunk
                wait_until(
                    lambda: server.counter("clone.snapshots.completed") == 1,
                    what="the reader's snapshot counted completed",
                )
                assert server.counter("clone.snapshots.too_long") == 0
            finally:
                for dealer in deaf:
                    dealer.close()
            # every leave heard before the stop: a peer's connection that ends while
            # the ROUTER closes, with a message half sent to it, aborts libzmq 4.3.5
            # (errno_assert in session_base_t::clean_pipes: EAGAIN). The ROUTER's
            # least LINGER avoids it (test_router_close_leaves); this keeps the
            # test clear of the instant its LINGER ends, which it cannot
            wait_until(
                lambda: server.counter("clone.snapshots.peers_left") == MAX_ACTIVE + 1,
                what="every peer's leave heard (the reader's too)",
            )
    finally:
        store.close()


MB = 1024 * 1024
BIG = b"b" * (60 * 1024)


@pytest.mark.timeout(30)
def test_the_snapshot_queue_is_a_peers_byte_budget_on_the_real_socket(
    zmq_context: Context, store: Store, clock: FakeClock
) -> None:
    """Issue 18: the ROUTER's SNDHWM was two chunks (1000 messages of up to ~68 KB a
    peer); it is the budget's worth of the largest messages the config allows."""
    config = CloneConfig(hugz_interval_s=0.1, max_value_bytes=60 * 1024)
    limits = LimitsConfig(clone_subscriber_queue_bytes=1 * MB)
    largest = 255 + 8 + 16 + 4096 + 60 * 1024  # key, seq, uuid, properties, value
    assert snapshot_hwm(1 * MB, largest, 500) == 15
    with clone_server(zmq_context, store, clock, config=config, limits=limits) as srv:
        assert srv.stats.get("clone.snapshots.hwm") == 15  # getsockopt(SNDHWM)


class _NothingPending:
    """A server with nothing published beyond what is stored (CommitPipeline's part)."""

    published_seq = 40
    storing = False  # nothing on its way to the store

    def overlay(self, subtree: bytes) -> list[Update]:
        return []


@pytest.mark.timeout(30)
def test_a_peer_that_never_reads_costs_its_budget_and_its_cut_off_frees_the_heap(
    zmq_context: Context, tmp_path: Path, clock: FakeClock
) -> None:
    """A snapshot reads no more entries ahead than its peer's pipe holds (it read
    a whole chunk, 500 of the largest values, before), measured as each read
    ends, over a subtree of four pipes' worth; and a snapshot that ends, here cut
    off, asks for the heap to be handed back."""
    hwm = snapshot_hwm(1 * MB, clone.max_kvmsg_bytes(255, len(BIG)), 500)
    store = Store.open(tmp_path / "data", StoreConfig(map_size_initial_mb=64))
    router = zmq_context.socket(zmq.ROUTER)
    deaf = None
    try:
        _fill(store, 4 * hwm, BIG)
        router.setsockopt(zmq.LINGER, 0)
        router.setsockopt(zmq.ROUTER_MANDATORY, 1)
        router.setsockopt(zmq.SNDHWM, hwm)
        router.bind("tcp://127.0.0.1:*")
        deaf = _deaf_dealer(zmq_context, router.getsockopt_string(zmq.LAST_ENDPOINT))
        assert router.poll(5000)
        routing_id, _, _ = router.recv_multipart()
        stats = Stats()
        freed: list[float] = []  # on_ended's times
        streamer = SnapshotStreamer(
            store,
            500,
            stats,
            clock,
            LogRateLimiter(),
            _NothingPending(),
            hwm=hwm,
            stall_s=0.3,
            on_ended=freed.append,
        )
        ahead: list[int] = []  # entries queued as each read ended
        refill = streamer._refill

        def measured(snap: Any) -> bool:
            more = refill(snap)
            ahead.append(len(snap.content.outgoing))
            return more

        streamer._refill = measured  # type: ignore[method-assign]
        assert streamer.request(routing_id, b"")

        def turn() -> bool:  # as the Clone loop's turns do, on its short timer
            streamer.unblock()
            streamer.advance(router)
            return bool(freed)

        wait_until(turn, what="the deaf peer cut off", timeout_s=10)
        assert stats.get("clone.snapshots.stalled") == 1
        assert max(ahead, default=0) == hwm  # a whole pipe's worth, no more
        assert len(freed) == 1
        streamer.close()
    finally:
        if deaf is not None:
            deaf.close()
        router.close()
        store.close()


@pytest.mark.timeout(30)
def test_a_snapshot_peer_gone_is_seen_so_the_heap_its_pipe_held_is_handed_back(
    zmq_context: Context, store: Store, clock: FakeClock
) -> None:
    """A peer that never read keeps its pipe's queue after its snapshot was cut off,
    until it goes away: the server hears of that (a monitor on the ROUTER, counted as
    clone.snapshots.peers_left) and asks for a heap trim then too."""
    with clone_server(zmq_context, store, clock) as server:
        deaf = _deaf_dealer(zmq_context, server.endpoints.snapshot)
        try:
            wait_until(
                lambda: server.counter("clone.snapshots.started") == 1,
                what="the peer's snapshot started",
            )
        finally:
            deaf.close()
        wait_until(
            lambda: server.counter("clone.snapshots.peers_left") == 1,
            what="the peer's leave heard",
        )
