"""fetch_snapshot and a real Clone server that cuts its first answer off (docs/protocols.md
§6.3): the server ends a snapshot whose peer stalls and says nothing more on it, so
the one-shot read gives that answer up after half its timeout of silence and asks
once more on a new DEALER. It gave up: `raspy-kv get` failed after its timeout."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import zmq
from structlog.testing import capture_logs
from support.clock import FakeClock
from support.clonesrv import clone_server
from support.relay import Relay
from support.wait import wait_until

from raspy.client.clone import Snapshot, fetch_snapshot
from raspy.config import LimitsConfig, StoreConfig
from raspy.storage.store import Put, Store
from raspy.storage.tables import LAST_SEQ_KEY, Table, encode_kv, encode_seq

Context = zmq.Context[zmq.Socket[bytes]]

KEYS = 3000
VALUE = b"v" * 4096  # 12 MB a snapshot: far more than a pipe and the kernel hold
FIRST_BYTES = 64 * 1024  # what the first answer gets through before it stalls


def _key(index: int) -> bytes:
    return b"/bulk/%05d" % index


def _fill(store: Store) -> None:
    ops = [
        Put(Table.KV, _key(index), encode_kv(index + 1, VALUE, {}, None))
        for index in range(KEYS)
    ]
    store.commit([*ops, Put(Table.KV_META, LAST_SEQ_KEY, encode_seq(KEYS))])


@pytest.mark.timeout(30)
def test_fetch_snapshot_asks_again_when_the_server_cut_its_first_answer_off(
    zmq_context: Context, tmp_path: Path, clock: FakeClock
) -> None:
    """The first answer's connection stops reading after 64 KB: the server cuts that
    snapshot off as stalled (after 1 s here) and sends nothing more. After 5 s of
    silence (half of 10) fetch_snapshot asks again on a new connection, which is
    read whole: the whole tree, said once in the log."""
    store = Store.open(tmp_path / "data", StoreConfig(map_size_initial_mb=32))
    try:
        _fill(store)
        # a stall well within the client's silence, and long enough for the reader of
        # the second answer on a busy machine
        limits = LimitsConfig(snapshot_stall_s=1.0)
        with clone_server(zmq_context, store, clock, limits=limits) as server:
            port = int(server.endpoints.snapshot.rsplit(":", 1)[1])
            with Relay(port) as relay:
                relay.stop_reading_after(FIRST_BYTES)
                relayed = f"tcp://127.0.0.1:{relay.port}"
                endpoints = replace(server.endpoints, snapshot=relayed)
                with capture_logs() as logs:
                    taken = fetch_snapshot(endpoints, timeout_s=10, context=zmq_context)
            assert taken == Snapshot(
                KEYS, {_key(index): VALUE for index in range(KEYS)}
            )
            # the cut was counted on the server's loop, apart from the answers
            wait_until(
                lambda: server.counter("clone.snapshots.stalled") == 1,
                what="the stalled first answer counted",
            )
            wait_until(
                lambda: server.counter("clone.snapshots.completed") == 1,
                what="the second answer counted completed",
            )
            asked = [e for e in logs if e["event"] == "clone_snapshot_asked_again"]
            assert [(e["peer"], e["reason"], e["silent_s"]) for e in asked] == [
                (relayed, "snapshot_stalled", 5.0)
            ]
            assert asked[0]["log_level"] == "warning"
    finally:
        store.close()
