"""A Clone snapshot is the tree at the number its KTHXBAI carries (docs/protocols.md
§6.3), whatever is on its way to the store when it is asked.

An update is stored before it is published: a snapshot that read the store while a
commit had landed but was not yet published held that later tree under an earlier
KTHXBAI. A key a later update deleted was missing from it, so a client that had
applied the deletion (through its snapshot) put the key back with the older KVPUBs
that followed, until the deletion's own KVPUB came (raspy's client skips an older
KVPUB only for a key it holds). The commit pipeline and the snapshot streamer are
driven by hand here, as the Clone I/O thread drives them, over a real store and a
real ROUTER and DEALER; the last test runs the real server.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import zmq
from support.clock import FakeClock
from support.clone_pipeline import KEY, reading, stored
from support.clonesrv import CloneServer, next_update, subscriber
from support.wait import wait_until
from support.writer_gate import WriterGate

from raspy.actors import messages as msgs
from raspy.actors.clone.commit import CommitPipeline
from raspy.actors.clone.parts import CloneParts
from raspy.actors.clone.snapshot import SnapshotStreamer
from raspy.config import CloneConfig, LimitsConfig, StoreConfig
from raspy.cores import clone as core_mod
from raspy.cores.clone_client import CloneClientCore
from raspy.cores.clone_client_state import ClientSettings
from raspy.protocol import clone
from raspy.ratelimit import LogRateLimiter
from raspy.stats import Stats
from raspy.storage.store import Store
from raspy.storage.tables import KvRecord
from raspy.transport.wakeup import Wakeup

Context = zmq.Context[zmq.Socket[bytes]]
Frames = list[bytes]

pytestmark = pytest.mark.timeout(30)

SUBTREE = b"/k/"
LAMP = b"/k/lamp"
PUMP = b"/k/pump"
T0 = 100.0
UUID_A = b"a" * 16
UUID_B = b"b" * 16


@dataclass
class _Server:
    """The Clone server's commit pipeline and snapshot streamer over one store, and
    a client's DEALER on the streamer's ROUTER; driven by the test's thread."""

    store: Store
    pipeline: CommitPipeline
    streamer: SnapshotStreamer
    router: zmq.Socket[bytes]
    dealer: zmq.Socket[bytes]

    def release(self) -> list[Frames]:
        """The KVPUBs of every update the store has taken, once nothing of the
        pipeline is on its way to it."""
        kvpubs: list[Frames] = []

        def settled() -> bool:
            kvpubs.extend(update.kvpub() for update in self.pipeline.released())
            return not self.pipeline.storing

        wait_until(settled, what="the writes stored and released")
        return kvpubs

    def ask(self) -> None:
        """ICANHAZ? for SUBTREE, queued on the streamer as the router reads it."""
        self.dealer.send_multipart(clone.encode_icanhaz(SUBTREE))
        assert self.router.poll(5000)
        routing_id, *request = self.router.recv_multipart()
        assert request == clone.encode_icanhaz(SUBTREE)
        assert self.streamer.request(routing_id, SUBTREE)

    def turn(self, snapshot: list[Frames], kvpubs: list[Frames]) -> bool:
        """One loop turn: what the store has taken released, then the snapshots
        advanced; True once the snapshot ended with its KTHXBAI."""
        kvpubs.extend(update.kvpub() for update in self.pipeline.released())
        self.streamer.unblock()
        self.streamer.advance(self.router)
        while self.dealer.poll(0):
            snapshot.append(self.dealer.recv_multipart())
        return bool(snapshot) and snapshot[-1][0] == clone.KTHXBAI


@contextmanager
def _server(context: Context, data_dir: Path, clock: FakeClock) -> Iterator[_Server]:
    store = Store.open(data_dir, StoreConfig(map_size_initial_mb=1, seq_block=100))
    wake = Wakeup()
    router = context.socket(zmq.ROUTER)
    dealer = context.socket(zmq.DEALER)
    stats = Stats()
    pipeline = CommitPipeline(store, core_mod.CloneCore(), stats, wake)
    limiter = LogRateLimiter()
    streamer = SnapshotStreamer(store, 10, stats, clock, limiter, pipeline, hwm=20)
    try:
        pipeline.load(0.0)
        for sock in (router, dealer):
            sock.setsockopt(zmq.LINGER, 0)
        router.setsockopt(zmq.ROUTER_MANDATORY, 1)
        router.bind("tcp://127.0.0.1:*")
        dealer.connect(router.getsockopt_string(zmq.LAST_ENDPOINT))
        yield _Server(store, pipeline, streamer, router, dealer)
    finally:
        streamer.close()  # the views of snapshots under way
        dealer.close()
        router.close()
        wake.close()
        store.close()


def _raspy_client(
    snapshot: list[Frames], kvpubs: list[Frames]
) -> list[tuple[int, dict[bytes, bytes]]]:
    """The number raspy's client is at and what it holds, after the snapshot, then
    after each KVPUB."""
    core = CloneClientCore(SUBTREE, ClientSettings())
    core.start(T0)
    core.on_update(clone.hugz(), T0)  # the subscription is live: it asks
    for frames in snapshot:
        core.on_snapshot(frames, T0)

    def held() -> tuple[int, dict[bytes, bytes]]:
        return core.last_seq, {key: entry.body for key, entry in core.cache.items()}

    states = [held()]
    for frames in kvpubs:
        core.on_update(frames, T0)
        states.append(held())
    return states


def test_a_snapshot_asked_while_a_set_and_a_delete_are_stored_unpublished_is_the_tree_at_its_kthxbai(
    zmq_context: Context, tmp_path: Path, clock: FakeClock
) -> None:
    """The lamp is on (1); then it is dimmed (2) and deleted (3), and the store has
    taken both, not yet published, when the client's ICANHAZ? comes. The snapshot
    waits for them to go out and is the tree at 3: no lamp, and the client skips
    their KVPUBs. It was the tree at 3 under KTHXBAI 1 (the store read at once):
    the client then showed the deleted lamp again, dimmed, until the KVPUB of 3."""
    with _server(zmq_context, tmp_path / "data", clock) as server:
        pipeline = server.pipeline
        pipeline.accept(reading(1, b"on", LAMP))
        pipeline.submit()
        server.release()
        pipeline.accept(reading(2, b"dim", LAMP))
        pipeline.accept(reading(3, b"", LAMP))
        pipeline.submit()
        # the commit has landed; the pipeline has not collected its outcome
        wait_until(
            lambda: stored(server.store, LAMP) is None, what="the deletion stored"
        )
        server.ask()
        # the turn that read the request: the commit's outcome had not come yet
        server.streamer.advance(server.router)
        snapshot: list[Frames] = []
        kvpubs: list[Frames] = []
        wait_until(lambda: server.turn(snapshot, kvpubs), what="the snapshot's KTHXBAI")
        kvpubs += server.release()
        assert kvpubs == [
            reading(2, b"dim", LAMP).kvpub(),
            reading(3, b"", LAMP).kvpub(),
        ]
        assert _raspy_client(snapshot, kvpubs) == [(3, {}), (3, {}), (3, {})]
        assert snapshot == [clone.kthxbai(3, SUBTREE)]


def test_a_flush_writes_no_reading_before_it_is_published(
    zmq_context: Context, tmp_path: Path, clock: FakeClock
) -> None:
    """A reading covered by a stored mark but behind a client's write still on its
    way to the store is not published yet: a flush leaves it pending (written, a
    snapshot would serve it under an earlier KTHXBAI), and writes it once it is;
    meanwhile the flush writes the reading of its key that was published."""
    with _server(zmq_context, tmp_path / "data", clock) as server:
        pipeline = server.pipeline
        pipeline.accept(reading(1, b"20.5"), coalesced=True)  # its block: 1..100
        pipeline.submit()
        server.release()
        with WriterGate(server.store) as gate:
            pipeline.accept(reading(2, b"on", PUMP))  # durable: waits at the gate
            pipeline.submit()
            pipeline.accept(reading(3, b"21.0"), coalesced=True)  # covered
            pipeline.submit()
            pipeline.flush()
            gate.open()
        server.store.written()
        # the reading told, not the one still waiting
        assert stored(server.store, KEY) == KvRecord(1, b"20.5", b"", None)
        assert [frames[1] for frames in server.release()] == [
            clone.encode_seq(2),
            clone.encode_seq(3),
        ]
        pipeline.flush()
        wait_until(
            lambda: stored(server.store, KEY) == KvRecord(3, b"21.0", b"", None),
            what="the published reading written",
        )


def test_writes_are_held_back_while_a_snapshot_waits_for_those_on_their_way(
    zmq_context: Context, tmp_path: Path, clock: FakeClock
) -> None:
    """A write on its way to the store and a snapshot asked: what is accepted next
    is not submitted (a steady stream of writes would keep the snapshot waiting for
    ever) and the loop sleeps until the store's answer wakes it. Once the snapshot
    has started, the loop turns at once and submits what it held back."""
    store = Store.open(tmp_path / "data", StoreConfig(map_size_initial_mb=1))
    wakeup = Wakeup()
    router = zmq_context.socket(zmq.ROUTER)
    try:
        router.setsockopt(zmq.LINGER, 0)
        router.setsockopt(zmq.ROUTER_MANDATORY, 1)  # the peer is not there: it ends
        router.bind("tcp://127.0.0.1:*")
        parts = CloneParts.build(
            store,
            CloneConfig(),
            LimitsConfig(),
            clock=clock,
            stats=Stats(),
            wakeup=wakeup,
        )
        commits, snapshots = parts.commits, parts.snapshots
        commits.load(0.0)
        published: list[int] = []

        def released() -> bool:
            published.extend(update.seq for update in commits.released())
            return not commits.storing

        commits.accept(reading(1, b"on", PUMP))
        parts.submit_writes()
        assert snapshots.request(b"peer", SUBTREE)
        commits.accept(reading(2, b"off", LAMP))
        parts.submit_writes()
        assert (commits.storing, commits.held_back) == (True, True)
        snapshots.advance(router)  # it waits for the write on its way
        assert snapshots.stats()["clone.snapshots.waiting"] == 1
        parts.pacing.on_turn(100.0)  # the next HUGZ is a second away
        assert parts.next_deadline(10.0, 100.0, xpub_waiting=False) == 11.0
        wait_until(released, what="the first write stored")
        assert published == [1]
        snapshots.advance(router)
        assert snapshots.stats()["clone.snapshots.waiting"] == 0
        assert parts.next_deadline(10.0, 100.0, xpub_waiting=False) == 10.0
        parts.submit_writes()
        assert commits.held_back is False
        wait_until(released, what="the write held back stored")
        assert published == [1, 2]
    finally:
        router.close()
        wakeup.close()
        store.close()


def test_a_snapshot_asked_while_a_write_is_on_its_way_waits_for_it_and_holds_it(
    zmq_context: Context, server: CloneServer, store: Store
) -> None:
    """The real server, its store's writer held: a client's set is on its way to the
    store when an ICANHAZ? comes. The snapshot starts once that set is stored and
    published and holds it, under its number; a set that came meanwhile, held
    back until the snapshot started, is published after it."""
    sub = subscriber(zmq_context, server.endpoints.publisher, SUBTREE)
    writer = zmq_context.socket(zmq.XPUB)
    dealer = zmq_context.socket(zmq.DEALER)
    try:
        for sock in (writer, dealer):
            sock.setsockopt(zmq.LINGER, 0)
        writer.connect(server.endpoints.collector)
        assert writer.recv() == b"\x01"  # §1.6: the collector listens now
        dealer.connect(server.endpoints.snapshot)
        with WriterGate(store) as gate:
            submits = store.stats()["submits"]
            writer.send_multipart(clone.kvset(PUMP, b"on", UUID_A))
            wait_until(
                lambda: store.stats()["submits"] > submits, what="the set submitted"
            )
            dealer.send_multipart(clone.encode_icanhaz(SUBTREE))

            def asked() -> bool:
                answer = server.ref.ask(msgs.GetStats(), timeout=5)
                assert isinstance(answer, dict)
                waiting = answer["clone.snapshots.waiting"] == 1
                return waiting or server.counter("clone.snapshots.started") == 1

            wait_until(asked, what="the ICANHAZ? read")
            writer.send_multipart(clone.kvset(LAMP, b"off", UUID_B))
            gate.open()
        snapshot: list[Frames] = []
        while not snapshot or snapshot[-1][0] != clone.KTHXBAI:
            assert dealer.poll(5000), f"the snapshot stopped after {snapshot}"
            snapshot.append(dealer.recv_multipart())
        assert snapshot == [clone.kvsync(PUMP, 1, b"on"), clone.kthxbai(1, SUBTREE)]
        assert next_update(sub) == [PUMP, clone.encode_seq(1), UUID_A, b"", b"on"]
        assert next_update(sub) == [LAMP, clone.encode_seq(2), UUID_B, b"", b"off"]
    finally:
        dealer.close()
        writer.close()
        sub.close()
