"""Snapshot peers that ask and never read (issue 18, docs/protocols.md §6.3): cut off
as stalled after [limits] snapshot_stall_s, so the few places they hold (MAX_ACTIVE)
free up for every other snapshot long before snapshot_max_s."""

from __future__ import annotations

from pathlib import Path

import pytest
import zmq
from support.clock import FakeClock
from support.clonesrv import clone_server, snapshot
from support.wait import wait_until

from raspy.actors.clone.snapshot import MAX_ACTIVE
from raspy.config import CloneConfig, LimitsConfig, StoreConfig
from raspy.protocol import clone
from raspy.storage.store import Put, Store
from raspy.storage.tables import LAST_SEQ_KEY, Table, encode_kv, encode_seq

Context = zmq.Context[zmq.Socket[bytes]]

KEYS = 3000
VALUE = b"v" * 1024  # 3 MB a snapshot: far more than a pipe and the kernel hold


def _fill(store: Store) -> None:
    ops = [
        Put(Table.KV, b"/bulk/%05d" % index, encode_kv(index + 1, VALUE, {}, None))
        for index in range(KEYS)
    ]
    store.commit([*ops, Put(Table.KV_META, LAST_SEQ_KEY, encode_seq(KEYS))])


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
                assert server.counter("clone.snapshots.too_long") == 0
                assert server.counter("clone.snapshots.completed") == 1
            finally:
                for dealer in deaf:
                    dealer.close()
    finally:
        store.close()
