"""A CHP client written from RFC 12 alone, on raw sockets, against raspy's server.

Not our client library: this checks that we do not only test ourselves with ourselves.
RFC 12/CHP: subscribe first, then ICANHAZ? on a DEALER, KVSYNC* then KTHXBAI, then
apply KVPUBs newer than the snapshot; KVSET on a PUB to the collector; HUGZ keeps alive.
"""

from __future__ import annotations

import struct
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq
from support.clock import FakeClock
from support.clonesrv import ChpSockets, CloneServer, clone_server
from support.wait import wait_until

from raspy.config import StoreConfig
from raspy.storage.store import Store

Context = zmq.Context[zmq.Socket[bytes]]


class RfcClient:
    """RFC 12 client: SUB (subtree + HUGZ), DEALER (snapshot), PUB (updates)."""

    def __init__(self, context: Context, server: CloneServer, subtree: bytes) -> None:
        self.subtree = subtree
        self.kvmap: dict[bytes, bytes] = {}
        self.sequence = 0
        self.hugz: list[list[bytes]] = []
        sockets = ChpSockets.connect(context, server, subtree)
        self.subscriber = sockets.subscriber
        self.snapshot = sockets.snapshot
        self.publisher = sockets.publisher

    def close(self) -> None:
        for sock in (self.subscriber, self.snapshot, self.publisher):
            sock.close()

    def wait_for_hugz(self) -> None:
        """The server is alive and our subscription reached it."""
        while True:
            assert self.subscriber.poll(3000), "no HUGZ from the server"
            frames = self.subscriber.recv_multipart()
            if frames[0] == b"HUGZ":
                self.hugz.append(frames)
                return

    def get_snapshot(self) -> list[list[bytes]]:
        """ICANHAZ? then KVSYNC until KTHXBAI; returns the raw messages."""
        self.snapshot.send_multipart([b"ICANHAZ?", self.subtree])
        messages: list[list[bytes]] = []
        while True:
            assert self.snapshot.poll(3000), "snapshot did not finish"
            frames = self.snapshot.recv_multipart()
            messages.append(frames)
            key, sequence, _uuid, _properties, body = frames
            if key == b"KTHXBAI":
                self.sequence = struct.unpack("!Q", sequence)[0]
                return messages
            self.store(key, body)

    def store(self, key: bytes, body: bytes) -> None:
        if body:
            self.kvmap[key] = body
        else:
            self.kvmap.pop(key, None)

    def next_update(self) -> list[bytes]:
        """Read the SUB until a KVPUB newer than what we hold; apply and return it."""
        while True:
            assert self.subscriber.poll(3000), "no update"
            frames = self.subscriber.recv_multipart()
            if frames[0] == b"HUGZ":
                self.hugz.append(frames)
                continue
            key, sequence, _uuid, _properties, body = frames
            number = struct.unpack("!Q", sequence)[0]
            if number > self.sequence:
                self.sequence = number
                self.store(key, body)
                return frames

    def kvset(self, key: bytes, body: bytes, properties: bytes = b"") -> list[bytes]:
        """Send a KVSET and resend it (same UUID) until it is published back: the
        first may be lost while the PUB's connection to the collector is made (a
        HUGZ coming meanwhile is no echo: it waited for one that never came)."""
        update_id = uuid.uuid4().bytes
        kvset = [key, b"\x00" * 8, update_id, properties, body]
        for _ in range(50):
            self.publisher.send_multipart(kvset)
            deadline = time.monotonic() + 0.2
            while (left_s := deadline - time.monotonic()) > 0 and self.subscriber.poll(
                int(left_s * 1000) + 1
            ):
                frames = self.subscriber.recv_multipart()
                if frames[0] == b"HUGZ":
                    self.hugz.append(frames)
                    continue
                number = struct.unpack("!Q", frames[1])[0]
                if number > self.sequence:
                    self.sequence = number
                    self.store(frames[0], frames[4])
                if frames[2] == update_id:
                    return frames
        raise AssertionError("the KVSET never came back")


@pytest.fixture
def server(zmq_context: Context, tmp_path: Path) -> Iterator[CloneServer]:
    store = Store.open(tmp_path / "data", StoreConfig(map_size_initial_mb=1))
    try:
        with clone_server(zmq_context, store, FakeClock()) as running:
            running.publisher.set(b"/a", b"1")
            running.publisher.set(b"/b/c", b"2")
            wait_until(lambda: running.counter("clone.published") == 2, what="setup")
            yield running
    finally:
        store.close()


def test_rfc_client_reads_the_whole_map_and_its_own_updates(
    zmq_context: Context, server: CloneServer
) -> None:
    """RFC 12: snapshot layout, HUGZ layout, KVSET echoed as KVPUB, delete by empty
    value; raspy's choices (§9.3) do not break an RFC client."""
    client = RfcClient(zmq_context, server, b"")
    try:
        client.wait_for_hugz()
        assert client.get_snapshot() == [
            [b"/a", b"\x00" * 7 + b"\x01", b"", b"", b"1"],
            [b"/b/c", b"\x00" * 7 + b"\x02", b"", b"", b"2"],
            [b"KTHXBAI", b"\x00" * 7 + b"\x02", b"", b"", b""],
        ]
        assert client.hugz[0] == [b"HUGZ", b"\x00" * 8, b"", b"", b""]
        echoed = client.kvset(b"/x", b"on", b"ttl=5\n")
        assert echoed[0:2] == [b"/x", b"\x00" * 7 + b"\x03"]
        assert echoed[3:] == [b"ttl=5\n", b"on"]
        client.kvset(b"/a", b"")
        assert client.kvmap == {b"/b/c": b"2", b"/x": b"on"}
        assert client.sequence == 4
    finally:
        client.close()


def test_rfc_subtree_client_sees_only_its_subtree(
    zmq_context: Context, server: CloneServer
) -> None:
    """RFC 12 subtrees: ICANHAZ? with a path, KTHXBAI echoes it, the SUB filters."""
    client = RfcClient(zmq_context, server, b"/b/")
    try:
        client.wait_for_hugz()
        assert client.get_snapshot() == [
            [b"/b/c", b"\x00" * 7 + b"\x02", b"", b"", b"2"],
            [b"KTHXBAI", b"\x00" * 7 + b"\x02", b"", b"", b"/b/"],
        ]
        server.publisher.set(b"/a", b"elsewhere")
        server.publisher.set(b"/b/d", b"3")
        assert client.next_update()[0::4] == [b"/b/d", b"3"]
        assert client.kvmap == {b"/b/c": b"2", b"/b/d": b"3"}
    finally:
        client.close()


def test_server_keeps_serving_after_an_old_style_one_frame_icanhaz(
    zmq_context: Context, server: CloneServer
) -> None:
    """zguide model 2's one-frame ICANHAZ? is not RFC 12: dropped, counted; the next
    well-formed request is answered."""
    client = RfcClient(zmq_context, server, b"")
    try:
        client.snapshot.send_multipart([b"ICANHAZ?"])
        assert client.get_snapshot()[-1][0] == b"KTHXBAI"
        assert server.counter("clone.rejected.wrong_frame_count") == 1
    finally:
        client.close()


def test_zguide_style_writer_keys_outside_any_path_are_accepted_and_published(
    zmq_context: Context, server: CloneServer
) -> None:
    """§6.2: RFC 12 asks nothing of a key's shape. zguide's clonecli6 reads the
    `/client/` subtree and writes keys like `8553` with a ttl; every write must be
    numbered, published, stored and served in snapshots like any other."""
    writer = RfcClient(zmq_context, server, b"/client/")
    observer = RfcClient(zmq_context, server, b"")
    try:
        observer.wait_for_hugz()
        observer.get_snapshot()
        update_id = uuid.uuid4().bytes
        kvset = [b"8553", b"\x00" * 8, update_id, b"ttl=30\n", b"421337"]
        published: list[bytes] = []
        for _ in range(50):  # resend (same UUID) until the collector has attached
            writer.publisher.send_multipart(kvset)
            while not published and observer.subscriber.poll(200):
                frames = observer.subscriber.recv_multipart()
                published = [] if frames[0] == b"HUGZ" else frames
            if published:
                break
        assert published == [
            b"8553",
            b"\x00" * 7 + b"\x03",
            update_id,
            b"ttl=30\n",
            b"421337",
        ]
        fresh = RfcClient(zmq_context, server, b"85")  # a subtree is a key prefix
        try:
            assert fresh.get_snapshot() == [
                [b"8553", b"\x00" * 7 + b"\x03", b"", b"", b"421337"],
                [b"KTHXBAI", b"\x00" * 7 + b"\x03", b"", b"", b"85"],
            ]
        finally:
            fresh.close()
        assert server.counter("clone.rejected.bad_key") == 0
    finally:
        writer.close()
        observer.close()
