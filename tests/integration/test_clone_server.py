"""The Clone server over real sockets and a real store (docs/protocols.md §6)."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

import pykka
import pytest
import zmq
from structlog.testing import capture_logs
from support.clock import FakeClock
from support.clonesrv import (
    CloneServer,
    clone_server,
    next_update,
    snapshot,
    subscriber,
)
from support.net import free_port_base
from support.wait import wait_until

from raspy import config
from raspy.actors import messages as msgs
from raspy.actors.clone.server import read_tree, start_clone_server
from raspy.client.clone import Snapshot, fetch_snapshot
from raspy.config import CloneConfig, NetworkConfig, StoreConfig
from raspy.errors import ConfigError
from raspy.protocol import clone
from raspy.stats import Stats
from raspy.storage.store import Put, Store
from raspy.storage.tables import LAST_SEQ_KEY, Table, decode_kv, encode_kv, encode_seq
from raspy.transport.multipart import recv_frames

Context = zmq.Context[zmq.Socket[bytes]]
UUID_A = b"A" * 16


def _seq(n: int) -> bytes:
    return clone.encode_seq(n)


def _publish(server: CloneServer, *updates: tuple[bytes, bytes]) -> None:
    """In-process sets (empty body: delete), waiting until all are published."""
    before = server.counter("clone.published")
    for key, body in updates:
        server.publisher.set(key, body)
    wait_until(
        lambda: server.counter("clone.published") == before + len(updates),
        what=f"{len(updates)} updates published",
    )


def _rejected(server: CloneServer) -> float:
    return sum(
        value
        for name, value in server.stats.snapshot().items()
        if name.startswith("clone.rejected.")
    )


class Recorder(pykka.ThreadingActor):
    """Records every message told to it (a recording actor, not a mock)."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()
        self.received: list[Any] = []

    def on_receive(self, message: Any) -> None:
        with self.lock:
            self.received.append(message)


def test_snapshot_sends_each_key_in_order_then_kthxbai_with_the_current_sequence(
    zmq_context: Context, server: CloneServer
) -> None:
    """§6.3: KVSYNC [key, seq, '', '', value] per key, KTHXBAI [seq, '', '', subtree];
    raspy: the key's own sequence, and the server's sequence (deletes count)."""
    _publish(server, (b"/b", b"2"), (b"/a", b"1"), (b"/c", b"3"), (b"/c", b""))
    assert snapshot(zmq_context, server.endpoints.snapshot) == [
        [b"/a", _seq(2), b"", b"", b"1"],
        [b"/b", _seq(1), b"", b"", b"2"],
        [b"KTHXBAI", _seq(4), b"", b"", b""],
    ]


def test_snapshot_of_a_subtree_holds_only_keys_with_that_prefix(
    zmq_context: Context, server: CloneServer
) -> None:
    """§6.3 and §6.7: the server filters by byte prefix and echoes the subtree."""
    _publish(server, (b"/device/a", b"1"), (b"/devices/x", b"2"), (b"/event/e", b"3"))
    assert snapshot(zmq_context, server.endpoints.snapshot, b"/device/") == [
        [b"/device/a", _seq(1), b"", b"", b"1"],
        [b"KTHXBAI", _seq(3), b"", b"", b"/device/"],
    ]
    assert snapshot(zmq_context, server.endpoints.snapshot, b"/none/") == [
        [b"KTHXBAI", _seq(3), b"", b"", b"/none/"]
    ]


def test_kvset_on_the_collector_is_stored_then_published_with_the_next_sequence(
    zmq_context: Context, server: CloneServer, store: Store
) -> None:
    """§6.4: KVPUB echoes UUID, properties and value with the next sequence; it is in
    the store (kv and kv.meta) by the time it is published."""
    sub = subscriber(zmq_context, server.endpoints.publisher)
    writer = zmq_context.socket(zmq.XPUB)
    try:
        writer.connect(server.endpoints.collector)
        assert writer.recv() == b"\x01"  # §1.6: the collector listens now
        writer.send_multipart([b"/k", bytes(8), UUID_A, b"unit=C\n", b"21.5"])
        assert next_update(sub) == [b"/k", _seq(1), UUID_A, b"unit=C\n", b"21.5"]
        record = store.get(Table.KV, b"/k")
        assert record is not None
        assert decode_kv(record) == decode_kv(encode_kv(1, b"21.5", b"unit=C\n", None))
        assert store.get(Table.KV_META, LAST_SEQ_KEY) == encode_seq(1)
    finally:
        writer.close()
        sub.close()


def test_updates_are_published_in_strictly_increasing_sequence_order(
    zmq_context: Context, server: CloneServer
) -> None:
    """§6.4: sequence numbers on the publisher strictly increase, one per update."""
    sub = subscriber(zmq_context, server.endpoints.publisher)
    try:
        for index in range(300):
            server.publisher.set(b"/n/%03d" % (index % 7), b"%d" % index)
        seqs = [clone.decode_seq(next_update(sub)[1]) for _ in range(300)]
        assert seqs == list(range(1, 301))
    finally:
        sub.close()


def test_resent_kvset_with_the_same_uuid_is_published_once(
    zmq_context: Context, server: CloneServer
) -> None:
    """§6.4 raspy: the server drops a KVSET whose UUID it published recently."""
    sub = subscriber(zmq_context, server.endpoints.publisher)
    writer = zmq_context.socket(zmq.XPUB)
    try:
        writer.connect(server.endpoints.collector)
        assert writer.recv() == b"\x01"
        kvset = [b"/k", bytes(8), UUID_A, b"", b"v"]
        writer.send_multipart(kvset)
        writer.send_multipart(kvset)
        writer.send_multipart([b"/k2", bytes(8), b"B" * 16, b"", b"w"])
        assert next_update(sub) == [b"/k", _seq(1), UUID_A, b"", b"v"]
        assert next_update(sub) == [b"/k2", _seq(2), b"B" * 16, b"", b"w"]
        assert server.counter("clone.duplicates") == 1
    finally:
        writer.close()
        sub.close()


def test_ephemeral_key_expires_as_a_published_delete_on_the_servers_clock(
    zmq_context: Context, server: CloneServer, store: Store, clock: FakeClock
) -> None:
    """§6.6: with no KVSET within ttl the server deletes the key and publishes
    [key, seq, '', '', ''] with a new sequence number."""
    sub = subscriber(zmq_context, server.endpoints.publisher)
    try:
        server.publisher.set(b"/e", b"on", ttl_s=30)
        assert next_update(sub)[:2] == [b"/e", _seq(1)]
        clock.advance(29.9)
        server.turn()
        assert not sub.poll(0) or sub.recv_multipart()[0] == clone.HUGZ
        clock.advance(0.1)
        assert next_update(sub) == [b"/e", _seq(2), b"", b"", b""]
        assert store.get(Table.KV, b"/e") is None
        assert snapshot(zmq_context, server.endpoints.snapshot) == [
            [b"KTHXBAI", _seq(2), b"", b"", b""]
        ]
    finally:
        sub.close()


def test_restarted_server_continues_the_sequence_and_gives_ttl_keys_a_fresh_ttl(
    zmq_context: Context, store: Store, clock: FakeClock
) -> None:
    """docs/architecture.md: a sequence number is never reused across restarts; §6.6 raspy:
    persisted ephemeral keys get a fresh full ttl when the server is ready."""
    with clone_server(zmq_context, store, clock) as first:
        first.publisher.set(b"/e", b"on", ttl_s=30)
        wait_until(lambda: first.counter("clone.published") == 1, what="ttl key set")
        _publish(first, (b"/p", b"1"), (b"/p", b"2"))
    clock.advance(1000)  # the server was down far longer than the ttl
    with clone_server(zmq_context, store, clock) as second:
        assert snapshot(zmq_context, second.endpoints.snapshot) == [
            [b"/e", _seq(1), b"", b"", b"on"],
            [b"/p", _seq(3), b"", b"", b"2"],
            [b"KTHXBAI", _seq(3), b"", b"", b""],
        ]
        sub = subscriber(zmq_context, second.endpoints.publisher)
        try:
            clock.advance(29)
            second.turn()
            second.publisher.set(b"/q", b"x")
            assert next_update(sub)[:2] == [b"/q", _seq(4)]
            clock.advance(1)
            assert next_update(sub) == [b"/e", _seq(5), b"", b"", b""]
        finally:
            sub.close()


def test_bad_input_on_collector_and_snapshot_is_counted_logged_once_and_dropped(
    zmq_context: Context, server: CloneServer
) -> None:
    """§6.4 and docs/architecture.md: bad input is logged (once per peer and reason a
    minute), counted and dropped; the server keeps serving."""
    bad_kvsets = [
        [b"/a", bytes(8), b"", b""],
        [b"/a", bytes(4), b"", b"", b"v"],
        [b"/a", bytes(8), b"", b"novalue\n", b"v"],
        [b"/" + b"k" * 255, bytes(8), b"", b"", b"v"],
        [b"KTHXBAI", bytes(8), b"", b"", b"v"],
        [b"/a", bytes(8), b"", b"ttl=-1\n", b"v"],
        [b"/a", bytes(8), b"", b"", b"v" * (256 * 1024 + 1)],
        [b"/a", bytes(8), b"", b"", b"v", b"extra"],
    ]
    writer = zmq_context.socket(zmq.XPUB)
    dealer = zmq_context.socket(zmq.DEALER)
    try:
        writer.connect(server.endpoints.collector)
        assert writer.recv() == b"\x01"
        dealer.connect(server.endpoints.snapshot)
        with capture_logs() as logs:
            for frames in bad_kvsets:
                writer.send_multipart(frames)
            # the collector's rejections first: two sockets' messages have no order
            wait_until(
                lambda: _rejected(server) == len(bad_kvsets),
                what="every bad KVSET to be counted",
            )
            dealer.send_multipart([b"ICANHAZ?"])
            dealer.send_multipart([b"ICANHAZ", b""])
            _publish(server, (b"/ok", b"1"))
            dealer.send_multipart([b"ICANHAZ?", b"/ok"])
            assert dealer.recv_multipart() == [b"/ok", _seq(1), b"", b"", b"1"]
            assert dealer.recv_multipart()[0] == b"KTHXBAI"
        counters = {
            name: value
            for name, value in server.stats.snapshot().items()
            if name.startswith("clone.rejected.")
        }
        assert counters == {
            "clone.rejected.bad_command": 1,
            "clone.rejected.bad_key": 1,
            "clone.rejected.bad_properties": 1,
            "clone.rejected.bad_sequence": 1,
            "clone.rejected.bad_ttl": 1,
            "clone.rejected.body_too_large": 1,
            "clone.rejected.key_too_long": 1,
            "clone.rejected.wrong_frame_count": 3,
        }
        rejected = [e for e in logs if e["event"] == "clone_input_rejected"]
        assert [(e["peer"], e["reason"]) for e in rejected[:8]] == [
            ("collector", "wrong_frame_count"),
            ("collector", "bad_sequence"),
            ("collector", "bad_properties"),
            ("collector", "key_too_long"),
            ("collector", "bad_key"),
            ("collector", "bad_ttl"),
            ("collector", "body_too_large"),
            # the second wrong_frame_count from the collector is not logged again
            (rejected[7]["peer"], "wrong_frame_count"),
        ]
        assert rejected[7]["peer"] != "collector"
        assert len(rejected) == 9
    finally:
        writer.close()
        dealer.close()


def test_in_process_subscriber_gets_key_changed_for_keys_under_its_prefix(
    server: CloneServer,
) -> None:
    """Issue 6: actors subscribe to a subtree's changes without TCP; each carries
    the uuid its publisher gave the write (a writer knows its own coming back)."""
    recorder = Recorder.start()
    server.ref.ask(msgs.CloneSubscribe(b"/device/", recorder), timeout=5)
    server.publisher.set(b"/event/x", b"1")
    first = server.publisher.update(b"/device/a", b"21", props={"unit": "C"})
    second = server.publisher.update(b"/device/a", b"")
    assert len({first, second}) == 2
    proxy = recorder.proxy()

    def received() -> list[Any]:
        return list(proxy.received.get(timeout=5))

    wait_until(lambda: len(received()) == 2, what="two KeyChanged")
    assert received() == [
        msgs.KeyChanged(b"/device/a", 2, b"21", (("unit", "C"),), first),
        msgs.KeyChanged(b"/device/a", 3, b"", (), second),
    ]


def test_publisher_refuses_a_key_outside_the_tree(server: CloneServer) -> None:
    """§6.2: keys are /-rooted; the caller's mistake is a ValueError at once."""
    with pytest.raises(ValueError, match="not /-rooted"):
        server.publisher.set(b"device", b"1")


def test_set_many_publishes_a_batch_in_order_and_returns_the_refused_keys(
    zmq_context: Context, server: CloneServer
) -> None:
    """A device service's poll batch: one inproc message, numbered in order."""
    sub = zmq_context.socket(zmq.SUB)
    try:
        sub.setsockopt(zmq.SUBSCRIBE, b"/")
        sub.connect(server.endpoints.publisher)

        def _probe_arrives() -> int:
            _publish(server, (b"/probe", b"x"))
            return sub.poll(50)

        wait_until(_probe_arrives, what="the subscription to reach the publisher")
        # every probe read, however late one comes: a quiet 50 ms was taken for the
        # end of them, and a probe slower than that under load came before the batch
        _publish(server, (b"/probe", b"last"))
        while sub.recv_multipart()[4] != b"last":
            pass
        before = server.counter("clone.published")
        entries = [(b"/d/%04d" % i, b"%d" % i) for i in range(2500)]
        refused = server.publisher.set_many([(b"bad", b"1"), *entries])
        assert refused == [(b"bad", "clone: bad_key: key 'bad' is not /-rooted")]
        got = [sub.recv_multipart() for _ in entries]
        assert [(f[0], f[4]) for f in got] == entries
        seqs = [clone.decode_seq(f[1]) for f in got]
        assert seqs == list(range(seqs[0], seqs[0] + len(entries)))
        assert server.counter("clone.published") == before + len(entries)
    finally:
        sub.close(linger=0)


def test_a_malformed_local_batch_is_counted_and_dropped(server: CloneServer) -> None:
    """Only our own code writes the inproc channel; still, bad bytes never stop it."""
    server.publisher.send([b"B", b"\xc1"])
    server.publisher.send([b"B", b"a", b"b"])
    server.publisher.send([b"?", b"x"])
    _publish(server, (b"/after", b"1"))
    wait_until(
        lambda: (
            server.counter("clone.rejected.bad_batch") == 1
            and server.counter("clone.rejected.bad_channel") == 2
        ),
        what="the bad local messages to be counted",
    )


def test_a_stored_key_that_is_a_clone_command_is_left_out_of_every_snapshot(
    zmq_context: Context, store: Store, clock: FakeClock
) -> None:
    """§6.2, §6.3: no key may be KTHXBAI or HUGZ, but a store an older restore wrote
    may hold one, and every whole-map snapshot ended at it (keys after it missing, a
    client seeing a gap at every update). The server leaves such keys out of what it
    serves, with one warning each at start naming it, and keeps them in the store."""
    stored = [
        (b"/a", 1),
        (b"/b", 2),
        (b"8553", 3),
        (b"HUGZ", 4),
        (b"KTHXBAI", 5),
        (b"Zed", 6),  # sorts after KTHXBAI
    ]
    store.commit(
        [
            *(
                Put(Table.KV, key, encode_kv(seq, b"v%d" % seq, {}, None))
                for key, seq in stored
            ),
            Put(Table.KV_META, LAST_SEQ_KEY, encode_seq(6)),
        ]
    )
    with capture_logs() as logs, clone_server(zmq_context, store, clock) as server:
        assert snapshot(zmq_context, server.endpoints.snapshot) == [
            [b"/a", _seq(1), b"", b"", b"v1"],
            [b"/b", _seq(2), b"", b"", b"v2"],
            [b"8553", _seq(3), b"", b"", b"v3"],
            [b"Zed", _seq(6), b"", b"", b"v6"],
            [b"KTHXBAI", _seq(6), b"", b"", b""],
        ]
        whole = fetch_snapshot(server.endpoints, context=zmq_context)
        assert whole == Snapshot(
            6, {b"/a": b"v1", b"/b": b"v2", b"8553": b"v3", b"Zed": b"v6"}
        )
        assert snapshot(zmq_context, server.endpoints.snapshot, b"K") == [
            [b"KTHXBAI", _seq(6), b"", b"", b"K"]
        ]
        assert server.counter("clone.load.command_key") == 2
        # the tree raspyd's own parts read at start (the core, the MQTT bridge) too
        tree = read_tree(server.ref, store, "")
        assert [key for key, _ in tree] == ["/a", "/b", "8553", "Zed"]
    warned = [
        entry for entry in logs if entry["event"] == "clone_command_key_not_served"
    ]
    assert [(entry["log_level"], entry["key"]) for entry in warned] == [
        ("warning", "'HUGZ'"),
        ("warning", "'KTHXBAI'"),
    ]
    assert "raspy-kv check" in warned[0]["hint"]
    assert decode_kv(store.get(Table.KV, b"KTHXBAI") or b"").body == b"v5"  # kept


@pytest.mark.timeout(120)
def test_100k_key_snapshot_arrives_complete_beside_another_while_updates_flow(
    zmq_context: Context, store: Store, clock: FakeClock
) -> None:
    """Issue 6 and §1.3: a 100k-key snapshot, streamed in chunks paced by the peer,
    arrives whole next to a second client's snapshot while updates are published;
    each reflects exactly the updates up to its KTHXBAI sequence."""
    total = 100_000
    keys = [b"/bulk/%06d" % index for index in range(total)]
    ops = [
        Put(Table.KV, key, encode_kv(index + 1, b"old", {}, None))
        for index, key in enumerate(keys)
    ]
    store.commit([*ops, Put(Table.KV_META, LAST_SEQ_KEY, encode_seq(total))])
    subtrees = [b"/bulk/", b"/bulk/01"]  # all, and 10k keys read more slowly
    with clone_server(zmq_context, store, clock) as server:
        sub = subscriber(zmq_context, server.endpoints.publisher)
        dealers = [zmq_context.socket(zmq.DEALER) for _ in subtrees]
        try:
            for dealer, subtree in zip(dealers, subtrees, strict=True):
                dealer.connect(server.endpoints.snapshot)
                dealer.send_multipart([clone.ICANHAZ, subtree])
            received: list[dict[bytes, bytes]] = [{}, {}]
            ends: list[int | None] = [None, None]
            updates = 0
            while None in ends:
                for index, dealer in enumerate(dealers):
                    # read unevenly, so that each client's pipe fills up in turn
                    for _ in range(500 if index == 0 else 20):
                        if ends[index] is not None:
                            break
                        assert dealer.poll(5000), f"client {index} stalled"
                        frames = recv_frames(dealer)
                        if frames[0] == clone.KTHXBAI:
                            ends[index] = clone.decode_seq(frames[1])
                        else:
                            assert frames[0] not in received[index]
                            received[index][frames[0]] = frames[4]
                if updates < 40:  # keys spread over the tree, /bulk/01 included
                    server.publisher.set(keys[updates * 2500 + 7], b"new")
                    updates += 1
            published = [next_update(sub) for _ in range(updates)]
            for index, subtree in enumerate(subtrees):
                end = ends[index]
                assert end is not None
                expected = {key: b"old" for key in keys if key.startswith(subtree)}
                for frames in published:
                    if clone.decode_seq(frames[1]) <= end and frames[0] in expected:
                        expected[frames[0]] = frames[4]
                assert received[index] == expected
            assert server.counter("clone.snapshots.completed") == 2
        finally:
            for dealer in dealers:
                dealer.close()
            sub.close()


def test_start_clone_server_binds_snapshot_publisher_and_collector_above_the_port_base(
    zmq_context: Context, store: Store, clock: FakeClock
) -> None:
    """docs/architecture.md: Clone snapshot at N+1, publisher at N+2, collector at N+3."""
    base = free_port_base()
    ref = start_clone_server(
        zmq_context,
        store,
        CloneConfig(hugz_interval_s=0.1),
        NetworkConfig(bind="127.0.0.1", port_base=base, linger_ms=0),
        clock=clock,
        stats=Stats(),
    )
    try:
        expected = clone.Endpoints.from_port_base("127.0.0.1", base)
        assert ref.ask(msgs.GetCloneEndpoints(), timeout=5) == expected
        assert snapshot(zmq_context, f"tcp://127.0.0.1:{base + 1}") == [
            [b"KTHXBAI", _seq(0), b"", b"", b""]
        ]
    finally:
        ref.stop(block=True, timeout=15)


def test_a_new_subscriber_gets_a_hugz_at_once_not_at_the_next_interval(
    zmq_context: Context, store: Store
) -> None:
    """§6.3 raspy: clients wait for a HUGZ before ICANHAZ? and before writing; the
    server sends one as soon as a subscription arrives (here the interval is an hour,
    so only that early HUGZ can come within the wait)."""
    hourly = CloneConfig(hugz_interval_s=3600.0)
    with clone_server(zmq_context, store, FakeClock(), config=hourly) as running:
        running.turn()  # the start-up HUGZ has gone, to nobody
        sub = zmq_context.socket(zmq.SUB)
        try:
            sub.setsockopt(zmq.LINGER, 0)
            sub.setsockopt(zmq.SUBSCRIBE, clone.HUGZ)
            sub.connect(running.endpoints.publisher)
            assert sub.poll(5000), "no HUGZ for a new subscriber"
            assert sub.recv_multipart() == clone.hugz()
        finally:
            sub.close()


def test_the_largest_value_the_config_allows_is_stored_with_the_largest_properties(
    zmq_context: Context, tmp_path: Path
) -> None:
    """[clone] max_value_bytes at its bound, with a properties frame of 32-byte
    names and values (msgpack's str8, 2 bytes more per property than on the wire):
    the record fits store.max_value_bytes, so the commit holds and it is published."""
    with pytest.raises(ConfigError) as caught:  # the bound, as a user learns it
        config.load("[clone]\nmax_value_bytes = 1000000000\n")
    found = re.search(r"clone.max_value_bytes: expected 1\.\.(\d+)", str(caught.value))
    assert found is not None
    most = int(found[1])
    props = b"".join(b"%032d=%s\n" % (n, b"v" * 32) for n in range(62))
    assert len(props) <= clone.MAX_PROPS_BYTES
    store = Store.open(tmp_path / "data", StoreConfig(map_size_initial_mb=4))
    try:
        with clone_server(
            zmq_context, store, FakeClock(), config=CloneConfig(max_value_bytes=most)
        ) as running:
            sub = subscriber(zmq_context, running.endpoints.publisher)
            writer = zmq_context.socket(zmq.XPUB)
            try:
                writer.connect(running.endpoints.collector)
                assert writer.recv() == b"\x01"
                writer.send_multipart([b"/big", bytes(8), UUID_A, props, b"x" * most])
                wait_until(
                    lambda: (
                        running.counter("clone.published")
                        + running.counter("clone.commit_failed")
                        > 0
                    ),
                    what="the update stored or its commit failed",
                )
                assert running.counter("clone.commit_failed") == 0
                assert next_update(sub)[0] == b"/big"
            finally:
                writer.close()
                sub.close()
    finally:
        store.close()
