"""`/stats/` kept in memory only, through kill -9 in the real raspyd.

The statistics are published every 0.2 s and a client writes `/stats/` keys of its
own (durable KVSETs anywhere else); raspyd is killed at a random moment, a few
times over one data dir. After each kill the store holds no `/stats/` record and a
high-water mark above every number published, volatile ones included; after each
restart every number is above all seen before, and the client's keys are gone.
"""

from __future__ import annotations

import random
import time
import uuid
from pathlib import Path

import pytest
import zmq
from support.clone_sub import subscribed
from support.clonesrv import snapshot
from support.daemon import Daemon
from support.zmqctx import checked_context

from raspy.protocol import clone
from raspy.storage.store import Store
from raspy.storage.tables import LAST_SEQ_KEY, Table, decode_seq

CYCLES = 4
BLOCK = 5  # small: the kills land on both sides of a block's end
CONFIG = f"""[store]
coalesce_interval_s = 0.5
seq_block = {BLOCK}

[stats]
publish_interval_s = 0.2
"""


def _run_then_kill(
    daemon: Daemon, cycle: int, run_s: float, floor: int
) -> dict[int, bytes]:
    """Client writes under /stats/ for `run_s`, then SIGKILL; every KVPUB seen
    (seq: key), each checked above `floor` and the ones before it."""
    seen: dict[int, bytes] = {}
    highest = floor

    def drain(sub: zmq.Socket[bytes], timeout_ms: int) -> None:
        nonlocal highest
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline and sub.poll(timeout_ms):
            frames = sub.recv_multipart()
            if frames[0] != clone.HUGZ:
                seq = clone.decode_seq(frames[1])
                assert seq > highest, f"seq {seq} after {highest}"
                highest, seen[seq] = seq, frames[0]

    endpoints = clone.Endpoints.from_port_base("127.0.0.1", daemon.port_base)
    with checked_context() as context:
        sub = subscribed(context, daemon.port_base)
        writer = context.socket(zmq.XPUB)
        try:
            writer.setsockopt(zmq.LINGER, 0)
            writer.connect(endpoints.collector)
            assert writer.poll(5000), "the collector never subscribed"
            writer.recv()
            deadline = time.monotonic() + run_s
            index = 0
            while time.monotonic() < deadline:
                key = b"/stats/e2e/%02d/%06d" % (cycle, index)
                writer.send_multipart(clone.kvset(key, b"1", uuid.uuid4().bytes))
                index += 1
                drain(sub, 2)
            daemon.kill()
            drain(sub, 300)  # what was already on its way
        finally:
            sub.close()
            writer.close()
    return seen


def _read_store(data_dir: Path) -> tuple[int, list[bytes]]:
    store = Store.open(data_dir, readonly=True)
    try:
        raw = store.get(Table.KV_META, LAST_SEQ_KEY)
        return (0 if raw is None else decode_seq(raw)), [
            k for k, _ in store.scan(Table.KV)
        ]
    finally:
        store.close()


@pytest.mark.timeout(180)
def test_kill_9_gives_no_volatile_number_twice_and_stores_no_stats(
    tmp_path: Path,
) -> None:
    rng = random.Random(23)
    data_dir = tmp_path / "data"
    port_base: int | None = None
    highest = 0
    stats_seen = 0
    for cycle in range(CYCLES):
        daemon = Daemon(data_dir, port_base=port_base, config_text=CONFIG)
        daemon.start()
        port_base = daemon.port_base
        try:
            endpoints = clone.Endpoints.from_port_base("127.0.0.1", port_base)
            with checked_context() as context:
                mine = snapshot(context, endpoints.snapshot, b"/stats/e2e/")
            assert [m[0] for m in mine] == [clone.KTHXBAI]  # gone with the daemon
            seen = _run_then_kill(daemon, cycle, rng.uniform(0.5, 2.5), highest)
        finally:
            daemon.kill()
        mark, stored = _read_store(data_dir)
        assert seen, "nothing published"
        highest = max(seen)
        assert mark >= highest, f"seq {highest} published above the stored mark {mark}"
        assert not [key for key in stored if key.startswith(b"/stats/")]
        stats_seen += sum(
            1
            for key in seen.values()
            if key.startswith(b"/stats/") and b"/e2e/" not in key
        )
    assert stats_seen > 0, "the statistics were never published"
