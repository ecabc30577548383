"""Conformance of raspy's Clone server to RFC 12/CHP, checked as an outside tester would.

Every test talks to the real server over raw ZeroMQ sockets on 127.0.0.1 and writes the
exact frames the RFC (and docs/protocols.md §6) describes; nothing here uses raspy's
own Clone client or codec to build what goes on the wire.
"""

from __future__ import annotations

import random
import struct
import uuid
from pathlib import Path

import pytest
import zmq
from support.clock import FakeClock
from support.clonesrv import (
    ZERO,
    ChpSockets,
    CloneServer,
    clone_server,
    next_update,
    seq,
    snapshot,
)
from support.kv_cli import run
from support.wait import wait_until

from raspy.config import StoreConfig
from raspy.storage.store import Store
from raspy.storage.tables import Table, decode_kv

Context = zmq.Context[zmq.Socket[bytes]]


def test_icanhaz_on_an_empty_map_is_answered_with_kthxbai_alone(
    zmq_context: Context, server: CloneServer
) -> None:
    """RFC 12 State Synchronization: the server MUST answer an ICANHAZ? with zero or
    more KVSYNC then KTHXBAI; §6.9: zguide's clonesrv5 sends nothing for an empty map."""
    assert snapshot(zmq_context, server.endpoints.snapshot) == [
        [b"KTHXBAI", ZERO, b"", b"", b""]
    ]
    assert snapshot(zmq_context, server.endpoints.snapshot, b"/client/") == [
        [b"KTHXBAI", ZERO, b"", b"", b"/client/"]
    ]


def test_icanhaz_with_a_subtree_longer_than_any_key_is_answered_too(
    zmq_context: Context, server: CloneServer
) -> None:
    """RFC 12: the server MUST answer every ICANHAZ?; a subtree is any key prefix and
    RFC 12 sets no length (§6.3). One longer than any key matches none: KTHXBAI alone,
    the subtree echoed; the server keeps serving."""
    server.publisher.set(b"/a", b"1")
    wait_until(lambda: server.counter("clone.published") == 1, what="one set")
    for subtree in (b"/" + b"x" * 300 + b"/", b"/a" * 2000):
        assert snapshot(zmq_context, server.endpoints.snapshot, subtree) == [
            [b"KTHXBAI", seq(1), b"", b"", subtree]
        ]
    assert snapshot(zmq_context, server.endpoints.snapshot, b"/a") == [
        [b"/a", seq(1), b"", b"", b"1"],
        [b"KTHXBAI", seq(1), b"", b"", b"/a"],
    ]


def test_kvset_sequence_frame_has_no_significance_the_server_numbers_it(
    server: CloneServer, writer: zmq.Socket[bytes], sub: zmq.Socket[bytes]
) -> None:
    """RFC 12 Client-to-Server Updates: the KVSET sequence has no significance; RFC 12
    Server-to-Client Updates: KVPUB sequences are strictly incremental (§6.4)."""
    writer.send_multipart([b"/a", b"\xff" * 8, uuid.uuid4().bytes, b"", b"1"])
    writer.send_multipart([b"/b", seq(42), uuid.uuid4().bytes, b"", b"2"])
    assert next_update(sub)[0:2] == [b"/a", seq(1)]
    assert next_update(sub)[0:2] == [b"/b", seq(2)]


def test_kvset_without_uuid_is_published_with_an_empty_uuid_frame(
    server: CloneServer, writer: zmq.Socket[bytes], sub: zmq.Socket[bytes]
) -> None:
    """RFC 12 KVPUB: the UUID is optional and frame 2 MAY be empty; without a UUID
    nothing can tell a resend, so two equal KVSETs are two updates (§6.4)."""
    kvset = [b"/door", ZERO, b"", b"", b"open"]
    writer.send_multipart(kvset)
    writer.send_multipart(kvset)
    assert next_update(sub) == [b"/door", seq(1), b"", b"", b"open"]
    assert next_update(sub) == [b"/door", seq(2), b"", b"", b"open"]


def test_kvpub_echoes_uuid_and_properties_and_kvsync_carries_neither(
    zmq_context: Context,
    server: CloneServer,
    writer: zmq.Socket[bytes],
    sub: zmq.Socket[bytes],
) -> None:
    """RFC 12 KVPUB: frame 2 the UUID, frame 3 the properties as `name=value\\n`
    (§6.2: a value may hold `=`); RFC 12 KVSYNC: frames 2 and 3 empty (§6.3)."""
    update_id = uuid.uuid4().bytes
    properties = b"unit=C\nformula=a=b+1\n"
    writer.send_multipart([b"/t", ZERO, update_id, properties, b"21.5"])
    assert next_update(sub) == [b"/t", seq(1), update_id, properties, b"21.5"]
    assert snapshot(zmq_context, server.endpoints.snapshot) == [
        [b"/t", seq(1), b"", b"", b"21.5"],
        [b"KTHXBAI", seq(1), b"", b"", b""],
    ]


@pytest.mark.parametrize(
    "properties",
    [
        b"a=1",  # no newline after the last property
        b"\n\nunit=C\n\n",  # empty lines
        b"x=1\nx=2\n",  # one name twice
        b"owner=J\xf6rg\n",  # not UTF-8: RFC 12 asks only for no `=` in a name
    ],
)
def test_kvpub_echoes_the_properties_frame_exactly_as_received(
    server: CloneServer,
    store: Store,
    writer: zmq.Socket[bytes],
    sub: zmq.Socket[bytes],
    properties: bytes,
) -> None:
    """RFC 12: the server publishes the client's properties as it received them
    (§6.4), whatever their spelling; the store keeps the same bytes."""
    update_id = uuid.uuid4().bytes
    writer.send_multipart([b"/p", ZERO, update_id, properties, b"1"])
    assert next_update(sub) == [b"/p", seq(1), update_id, properties, b"1"]
    record = store.get(Table.KV, b"/p")
    assert record is not None
    assert decode_kv(record).props == properties


def test_empty_value_deletes_the_key_and_deleting_an_absent_key_is_still_published(
    zmq_context: Context,
    server: CloneServer,
    writer: zmq.Socket[bytes],
    sub: zmq.Socket[bytes],
) -> None:
    """RFC 12 KVSET: if the value is empty the server MUST delete the key; §6.4: a
    delete of a key that does not exist is numbered and published like any other."""
    first, second, third = (uuid.uuid4().bytes for _ in range(3))
    writer.send_multipart([b"/gone", ZERO, first, b"", b"x"])
    writer.send_multipart([b"/gone", ZERO, second, b"", b""])
    writer.send_multipart([b"/never", ZERO, third, b"", b""])
    assert next_update(sub) == [b"/gone", seq(1), first, b"", b"x"]
    assert next_update(sub) == [b"/gone", seq(2), second, b"", b""]
    assert next_update(sub) == [b"/never", seq(3), third, b"", b""]
    assert snapshot(zmq_context, server.endpoints.snapshot) == [
        [b"KTHXBAI", seq(3), b"", b"", b""]
    ]


def test_ttl_expiry_deletes_the_key_and_publishes_an_empty_value(
    zmq_context: Context,
    server: CloneServer,
    clock: FakeClock,
    writer: zmq.Socket[bytes],
    sub: zmq.Socket[bytes],
) -> None:
    """RFC 12 ttl: when it runs out the server deletes the pair and broadcasts a
    KVPUB with an empty value; §6.6: a fraction of seconds is allowed, the deletion
    carries no UUID and no properties, and the ttl is on the server's own clock."""
    update_id = uuid.uuid4().bytes
    writer.send_multipart([b"/lease", ZERO, update_id, b"ttl=1.5\n", b"mine"])
    assert next_update(sub) == [b"/lease", seq(1), update_id, b"ttl=1.5\n", b"mine"]
    clock.advance(1.4)
    server.turn()
    assert server.counter("clone.published") == 1
    clock.advance(0.1)
    assert next_update(sub) == [b"/lease", seq(2), b"", b"", b""]
    assert snapshot(zmq_context, server.endpoints.snapshot) == [
        [b"KTHXBAI", seq(2), b"", b"", b""]
    ]


def test_a_kvset_refreshes_the_ttl_and_ttl_zero_makes_the_key_permanent(
    zmq_context: Context,
    server: CloneServer,
    clock: FakeClock,
    writer: zmq.Socket[bytes],
    sub: zmq.Socket[bytes],
) -> None:
    """§6.6: a later KVSET of the key replaces its deadline; one with ttl=0 (or none)
    makes it permanent again; a KVSET of another key changes nothing."""
    for key, properties in ((b"/r", b"ttl=10\n"), (b"/p", b"ttl=10\n")):
        writer.send_multipart([key, ZERO, uuid.uuid4().bytes, properties, b"v"])
        next_update(sub)
    clock.advance(8)
    writer.send_multipart([b"/r", ZERO, uuid.uuid4().bytes, b"ttl=10\n", b"v2"])
    writer.send_multipart([b"/p", ZERO, uuid.uuid4().bytes, b"ttl=0\n", b"v2"])
    assert [next_update(sub)[0] for _ in range(2)] == [b"/r", b"/p"]
    clock.advance(2)  # 10 s after the first sets: only a key left alone would go
    server.turn()
    assert server.counter("clone.published") == 4
    clock.advance(8)  # 10 s after the refresh
    assert next_update(sub) == [b"/r", seq(5), b"", b"", b""]
    clock.advance(1000)
    server.turn()
    assert snapshot(zmq_context, server.endpoints.snapshot) == [
        [b"/p", seq(4), b"", b"", b"v2"],
        [b"KTHXBAI", seq(5), b"", b"", b""],
    ]


@pytest.mark.parametrize(
    "ttl",
    [b"99999999999", b"30.000000000000000000000000001", b"0030"],
    ids=["over-31-years", "long-fraction", "leading-zeros"],
)
def test_any_non_negative_decimal_ttl_is_accepted(
    server: CloneServer,
    writer: zmq.Socket[bytes],
    sub: zmq.Socket[bytes],
    ttl: bytes,
) -> None:
    """RFC 12: the server SHOULD accept a ttl in seconds; §6.4 drops a KVSET only when
    its ttl is not a non-negative number, and §6.6 takes any decimal integer or
    fraction: none of these is refused (a ttl past raspy's longest is clamped)."""
    update_id = uuid.uuid4().bytes
    properties = b"ttl=" + ttl + b"\n"
    writer.send_multipart([b"/long", ZERO, update_id, properties, b"v"])
    assert next_update(sub) == [b"/long", seq(1), update_id, properties, b"v"]


def test_hugz_keep_coming_every_interval_while_updates_flow(
    server: CloneServer, sub: zmq.Socket[bytes]
) -> None:
    """RFC 12 HUGZ: [HUGZ, 00000000, '', '', '']; §6.5 raspy: once an interval
    regardless of other traffic (a subtree client sees no other keys' updates)."""
    hugz: list[list[bytes]] = []
    updates = 0

    def publish_and_count() -> bool:
        nonlocal updates
        server.publisher.set(b"/busy", b"%d" % updates)
        while sub.poll(0):
            frames = sub.recv_multipart()
            if frames[0] == b"HUGZ":
                hugz.append(frames)
            else:
                updates += 1
        return len(hugz) >= 3 and updates >= 3

    wait_until(publish_and_count, what="three HUGZ among the updates")
    assert all(frames == [b"HUGZ", ZERO, b"", b"", b""] for frames in hugz)


def test_keys_without_a_leading_slash_and_hugz_lookalikes_are_plain_keys(
    zmq_context: Context,
    server: CloneServer,
    writer: zmq.Socket[bytes],
    sub: zmq.Socket[bytes],
) -> None:
    """§6.2: RFC 12 asks nothing of a key's shape (zguide's clonecli6 writes `8553`);
    only the literals KTHXBAI and HUGZ themselves are refused. §1.5: `HUGZILLA`
    passes a HUGZ subscription, yet it is a key like any other."""
    for key in (b"8553", b"HUGZILLA", b"KTHXBAI!", b"HUGZ"):
        writer.send_multipart([key, ZERO, uuid.uuid4().bytes, b"", b"v"])
    assert [next_update(sub)[0:2] for _ in range(3)] == [
        [b"8553", seq(1)],
        [b"HUGZILLA", seq(2)],
        [b"KTHXBAI!", seq(3)],
    ]
    wait_until(
        lambda: server.counter("clone.rejected.bad_key") == 1,
        what="the key HUGZ to be refused",
    )
    assert [m[0] for m in snapshot(zmq_context, server.endpoints.snapshot)] == [
        b"8553",
        b"HUGZILLA",
        b"KTHXBAI!",
        b"KTHXBAI",
    ]


def _clonecli6_writes(
    context: Context, server: CloneServer, kvsets: list[list[bytes]]
) -> None:
    """KVSETs as zguide's clonecli6 sends them (a PUB on the collector); an XPUB only
    to see the collector's subscription first (§1.6), so none is lost."""
    sock = context.socket(zmq.XPUB)
    sock.setsockopt(zmq.LINGER, 0)
    try:
        sock.connect(server.endpoints.collector)
        assert sock.poll(5000), "the collector never subscribed"
        assert sock.recv() == b"\x01"
        for kvset in kvsets:
            sock.send_multipart(kvset)
    finally:
        sock.close()
    wait_until(
        lambda: server.counter("clone.published") == len(kvsets),
        what=f"{len(kvsets)} KVSETs published",
    )


def _served(context: Context, data_dir: Path, clock: FakeClock) -> list[list[bytes]]:
    """A whole-map ICANHAZ? answered by a Clone server started on `data_dir`."""
    with (
        Store.open(data_dir, StoreConfig(map_size_initial_mb=1)) as store,
        clone_server(context, store, clock) as server,
    ):
        return snapshot(context, server.endpoints.snapshot)


def test_keys_without_a_leading_slash_outlive_a_restart_and_a_dump_and_restore(
    zmq_context: Context,
    tmp_path: Path,
    clock: FakeClock,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """§6.2: RFC 12 asks nothing of a key's shape and zguide's clonecli6 writes keys
    like `8553`; §6.3: a snapshot carries each key's last sequence, and KTHXBAI the
    server's current one. Such keys are kept like raspy's own: in the store across a
    server restart, and through `raspy-kv dump` then `restore` into a new data dir,
    which `raspy-kv check` passes."""
    data_dir = tmp_path / "data"
    kvsets = [
        [key, struct.pack("!q", 0), uuid.uuid4().bytes, properties, value]
        for key, properties, value in [
            (b"8553", b"ttl=30\n", b"421337"),  # clonecli6: a random key and ttl
            (b"a/b", b"", b"1"),
            (b"a/b", b"", b"2"),
            (b"zz", b"", b"short-lived"),
            (b"zz", b"", b""),  # an empty value deletes
        ]
    ]
    with (
        Store.open(data_dir, StoreConfig(map_size_initial_mb=1)) as store,
        clone_server(zmq_context, store, clock) as server,
    ):
        _clonecli6_writes(zmq_context, server, kvsets)
    expected = [
        [b"8553", seq(1), b"", b"", b"421337"],
        [b"a/b", seq(3), b"", b"", b"2"],
        [b"KTHXBAI", seq(5), b"", b"", b""],
    ]
    assert _served(zmq_context, data_dir, clock) == expected  # after a restart
    dump, restored = tmp_path / "kv.dump", tmp_path / "restored"
    for argv in (
        ["dump", "--data-dir", str(data_dir), "-o", str(dump)],
        ["restore", "--data-dir", str(restored), str(dump)],
        ["check", "--data-dir", str(restored)],
    ):
        status, out, err = run(argv, capsys)
        assert status == 0, out + err
    assert _served(zmq_context, restored, clock) == expected


def test_each_snapshot_goes_only_to_the_peer_that_asked(
    zmq_context: Context, server: CloneServer
) -> None:
    """RFC 12: the server MUST prefix each KVSYNC and KTHXBAI with the identity of
    the client that sent the ICANHAZ?; two clients asking at once each get theirs."""
    server.publisher.set(b"/a/1", b"x")
    server.publisher.set(b"/b/1", b"y")
    wait_until(lambda: server.counter("clone.published") == 2, what="two sets")
    dealers = [zmq_context.socket(zmq.DEALER) for _ in range(2)]
    try:
        for dealer, subtree in zip(dealers, (b"/a/", b"/b/"), strict=True):
            dealer.setsockopt(zmq.LINGER, 0)
            dealer.connect(server.endpoints.snapshot)
            dealer.send_multipart([b"ICANHAZ?", subtree])
        expected = {
            0: [
                [b"/a/1", seq(1), b"", b"", b"x"],
                [b"KTHXBAI", seq(2), b"", b"", b"/a/"],
            ],
            1: [
                [b"/b/1", seq(2), b"", b"", b"y"],
                [b"KTHXBAI", seq(2), b"", b"", b"/b/"],
            ],
        }
        for again in (True, False):  # the second time: nothing else was queued
            for index, dealer in enumerate(dealers):
                for frames in expected[index]:
                    assert dealer.poll(5000), "snapshot did not finish"
                    assert dealer.recv_multipart() == frames
                if again:
                    dealer.send_multipart([b"ICANHAZ?", expected[index][1][4]])
    finally:
        for dealer in dealers:
            dealer.close()


def test_two_icanhaz_from_one_peer_get_two_whole_snapshots_one_after_the_other(
    zmq_context: Context, server: CloneServer
) -> None:
    """RFC 12: each ICANHAZ? is answered by its KVSYNCs then its KTHXBAI. A peer that
    asks again before the first answer is over (zguide's clone.py asks twice when the
    server is slow) gets the two answers in order, not interleaved, however many
    chunks (`clone.snapshot_chunk`) each one takes."""
    keys = [b"/k/%04d" % index for index in range(1200)]
    server.publisher.set_many([(key, b"v") for key in keys])
    server.publisher.set(b"/other", b"w")
    wait_until(lambda: server.counter("clone.published") == 1201, what="the sets")
    dealer = zmq_context.socket(zmq.DEALER)
    try:
        dealer.setsockopt(zmq.LINGER, 0)
        dealer.connect(server.endpoints.snapshot)
        dealer.send_multipart([b"ICANHAZ?", b"/k/"])
        dealer.send_multipart([b"ICANHAZ?", b""])
        answers: list[list[bytes]] = [[], []]
        for answer in answers:
            while not answer or answer[-1] != b"KTHXBAI":
                assert dealer.poll(5000), "a snapshot did not finish"
                frames = dealer.recv_multipart()
                answer.append(frames[0])
                if frames[0] == b"KTHXBAI":
                    answer.append(frames[4])
                    break
        assert answers[0] == [*keys, b"KTHXBAI", b"/k/"]
        assert answers[1] == [*keys, b"/other", b"KTHXBAI", b""]
    finally:
        dealer.close()


class ZguideStyleAgent:
    """What zguide's model-6 client agent (clone.py, as clonecli6 drives it) does on
    the wire: SUB to its subtree and HUGZ, ICANHAZ? at once, snapshot into its map
    until KTHXBAI, then every message whose sequence is above the last (which drops
    HUGZ with raspy's zero sequence); writes on a PUB, sequence 0 packed signed, a
    fresh UUID each, an integer ttl, and stored locally at once."""

    def __init__(self, context: Context, server: CloneServer, subtree: bytes) -> None:
        self.subtree = subtree
        self.kvmap: dict[bytes, bytes] = {}
        self.sequence = 0
        self.hugz = 0
        sockets = ChpSockets.connect(context, server, subtree)
        self.subscriber = sockets.subscriber
        self.snapshot = sockets.snapshot
        self.publisher = sockets.publisher
        self.snapshot.send_multipart([b"ICANHAZ?", subtree])
        while True:
            assert self.snapshot.poll(5000), "the snapshot did not finish"
            key, sequence, _uuid, _properties, body = self.snapshot.recv_multipart()
            if key == b"KTHXBAI":
                self.sequence = struct.unpack("!q", sequence)[0]
                break
            self.store(key, body)

    def close(self) -> None:
        for sock in (self.subscriber, self.snapshot, self.publisher):
            sock.close()

    def store(self, key: bytes, body: bytes) -> None:
        if body:
            self.kvmap[key] = body
        else:
            self.kvmap.pop(key, None)

    def pump(self) -> int:
        """Apply what waits on the SUB; returns the last sequence."""
        while self.subscriber.poll(0):
            key, sequence, _uuid, _properties, body = self.subscriber.recv_multipart()
            number = struct.unpack("!q", sequence)[0]
            self.hugz += key == b"HUGZ"
            if number > self.sequence:
                self.sequence = number
                self.store(key, body)
        return self.sequence

    def set(self, key: bytes, value: bytes, ttl: int = 0) -> None:
        self.store(key, value)
        properties = b"ttl=%d\n" % ttl if ttl else b""
        kvset = [key, struct.pack("!q", 0), uuid.uuid4().bytes, properties, value]
        self.publisher.send_multipart(kvset)


def test_zguide_style_agents_write_read_and_see_ttl_expiry_through_the_server(
    zmq_context: Context, server: CloneServer, clock: FakeClock
) -> None:
    """RFC 12 end to end with zguide's client behaviour (§6.9, §9.3): a clonecli6-like
    writer (subtree /client/, keys such as `8553`, ttl 0-30 s) and a whole-map
    observer; the observer's map always equals a fresh snapshot, expiries included,
    and a HUGZ is never taken for an update."""
    observer = ZguideStyleAgent(zmq_context, server, b"")
    writer = ZguideStyleAgent(zmq_context, server, b"/client/")
    try:
        wait_until(lambda: observer.pump() >= 0 and observer.hugz, what="a HUGZ")

        def probe_published() -> bool:  # §1.6: the writer's PUB may not be heard yet
            writer.set(b"probe", b"1")
            return server.counter("clone.published") > 0

        wait_until(probe_published, what="the writer's first KVSET")
        rng = random.Random(12)
        for _ in range(20):
            key = b"%d" % rng.randint(1, 10_000)
            writer.set(key, b"%d" % rng.randint(1, 1_000_000), rng.randint(0, 30))

        def observer_caught_up() -> bool:
            published = int(server.counter("clone.published"))
            return (
                observer.pump() == published
                and server.counter("clone.last_seq") == published
            )

        def fresh_snapshot() -> dict[bytes, bytes]:
            messages = snapshot(zmq_context, server.endpoints.snapshot)
            return {frames[0]: frames[4] for frames in messages[:-1]}

        wait_until(
            lambda: observer.pump() >= 20 + 1 and observer_caught_up(),
            what="the observer to see every write",
        )
        assert observer.kvmap == fresh_snapshot()
        permanent = len(observer.kvmap)
        clock.advance(31)
        wait_until(
            lambda: observer_caught_up() and len(observer.kvmap) < permanent,
            what="the ephemeral keys to expire",
        )
        assert observer.kvmap == fresh_snapshot()
        assert b"HUGZ" not in observer.kvmap
    finally:
        writer.close()
        observer.close()
