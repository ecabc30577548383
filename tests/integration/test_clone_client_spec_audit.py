"""Conformance of raspy's Clone client to RFC 12/CHP, against a server written here.

The server is three raw sockets speaking what zguide's model-6 servers put on the
wire where the RFC leaves room (docs/protocols.md §6.3, §6.5, §9.3): HUGZ carrying the
current sequence and a UUID, KVSYNC carrying UUID and properties, KTHXBAI with an
empty body. The client must follow RFC 12 all the same.
"""

from __future__ import annotations

import struct
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import zmq
from support.wait import repeated, wait_until

from raspy.client.clone import CloneClient
from raspy.protocol import clone

Context = zmq.Context[zmq.Socket[bytes]]
ZERO = b"\x00" * 8


def seq(number: int) -> bytes:
    return struct.pack("!Q", number)


class ZguideStyleServer:
    """ROUTER (snapshot), XPUB (publisher: it shows the client's subscriptions), SUB
    subscribed to everything (collector), each bound to an ephemeral port."""

    def __init__(self, context: Context) -> None:
        self.router = context.socket(zmq.ROUTER)
        self.publisher = context.socket(zmq.XPUB)
        self.collector = context.socket(zmq.SUB)
        self.collector.setsockopt(zmq.SUBSCRIBE, b"")
        for sock in (self.router, self.publisher, self.collector):
            sock.setsockopt(zmq.LINGER, 0)
            sock.bind("tcp://127.0.0.1:*")
        self.endpoints = clone.Endpoints(
            *(
                sock.getsockopt_string(zmq.LAST_ENDPOINT)
                for sock in (self.router, self.publisher, self.collector)
            )
        )
        self._beating = False

    def close(self) -> None:
        for sock in (self.router, self.publisher, self.collector):
            sock.close()

    def subscriptions(self, count: int) -> set[bytes]:
        found: set[bytes] = set()
        while len(found) < count:
            assert self.publisher.poll(5000), f"subscriptions so far: {found}"
            notice = self.publisher.recv()
            if notice[:1] == b"\x01":
                found.add(notice[1:])
        return found

    def hugz(self, sequence: int) -> None:
        """zguide's HUGZ: the current sequence, and (Python kvmsg) a fresh UUID."""
        self.publisher.send_multipart(
            [b"HUGZ", seq(sequence), uuid.uuid4().bytes, b"", b""]
        )

    @contextmanager
    def beating(self) -> Iterator[None]:
        """HUGZ every 50 ms, from a thread of their own, until the block ends: a
        live publisher, however long the test's thread is paused. icanhaz() sends
        none of its own meanwhile (the publisher is that thread's)."""
        self._beating = True
        try:
            with repeated(lambda: self.hugz(7), every_s=0.05, what="HUGZ"):
                yield
        finally:
            self._beating = False

    def icanhaz(
        self, heartbeat: list[bytes] | None = None
    ) -> tuple[bytes, list[bytes]]:
        """Keep publishing HUGZ (or `heartbeat`) until a snapshot request comes;
        (routing id, frames)."""
        for _ in range(50):
            if self._beating:
                assert heartbeat is None, "HUGZ are sent already"
            elif heartbeat is None:
                self.hugz(7)
            else:
                self.publisher.send_multipart(heartbeat)
            if self.router.poll(100):
                routing_id, *frames = self.router.recv_multipart()
                return routing_id, frames
        raise AssertionError("no ICANHAZ? from the client")

    def kvset(self) -> list[bytes]:
        assert self.collector.poll(5000), "no KVSET from the client"
        return self.collector.recv_multipart()


@pytest.fixture
def server(zmq_context: Context) -> Iterator[ZguideStyleServer]:
    running = ZguideStyleServer(zmq_context)
    yield running
    running.close()


def test_subtree_client_follows_rfc12_against_zguide_style_frames(
    zmq_context: Context, server: ZguideStyleServer
) -> None:
    """RFC 12: subscribe (subtree and HUGZ, §6.3 step 1), then a two-frame ICANHAZ?
    with the subtree; KVSYNC until KTHXBAI, whatever frames 2-3 and the KTHXBAI body
    hold; KVPUB applied only when newer than the last; HUGZ never applied."""
    client = CloneClient(
        server.endpoints, b"/client/", context=zmq_context, server_ttl_s=30
    )
    try:
        assert server.subscriptions(2) == {b"/client/", b"HUGZ"}
        routing_id, request = server.icanhaz()
        assert request == [b"ICANHAZ?", b"/client/"]
        server.router.send_multipart(
            [routing_id, b"/client/1", seq(3), uuid.uuid4().bytes, b"ttl=17.5\n", b"1"]
        )
        server.router.send_multipart([routing_id, b"KTHXBAI", seq(7), b"", b"", b""])
        client.wait_synced()
        assert client.items() == [(b"/client/1", b"1")]
        for frames in (
            [b"/client/old", seq(6), b"", b"", b"stale"],  # not newer than KTHXBAI
            [b"HUGZ", seq(40), b"", b"", b""],
            [b"/client/2", seq(9), b"", b"", b"2"],
        ):
            server.publisher.send_multipart(frames)
        wait_until(lambda: client.get(b"/client/2") == b"2", what="the KVPUB applied")
        assert client.items() == [(b"/client/1", b"1"), (b"/client/2", b"2")]
        assert client.seq == 9
    finally:
        client.close()


def test_subtree_client_ignores_keys_outside_its_subtree_that_pass_the_hugz_filter(
    zmq_context: Context, server: ZguideStyleServer
) -> None:
    """§1.5: a SUB filter is a byte prefix, so the subscription to `HUGZ` (§6.3 step
    1) also lets through keys such as `HUGZILLA` (§6.2 allows them). §6.7: a client
    works with one subtree; an update outside it is not part of its copy."""
    client = CloneClient(
        server.endpoints, b"/client/", context=zmq_context, server_ttl_s=30
    )
    try:
        routing_id, _request = server.icanhaz()
        server.router.send_multipart([routing_id, b"KTHXBAI", seq(7), b"", b"", b""])
        client.wait_synced()
        server.publisher.send_multipart([b"HUGZILLA", seq(8), b"", b"", b"roar"])
        server.publisher.send_multipart([b"/client/a", seq(9), b"", b"", b"1"])
        wait_until(lambda: client.get(b"/client/a") == b"1", what="the KVPUB applied")
        assert client.items() == [(b"/client/a", b"1")]
        assert client.get(b"HUGZILLA") is None
    finally:
        client.close()


def test_whole_map_client_takes_no_gap_from_a_hugz_with_the_current_sequence(
    zmq_context: Context, server: ZguideStyleServer
) -> None:
    """§6.5: zguide servers send their current sequence in HUGZ; the client accepts
    any value there and never treats HUGZ as an update, so the next KVPUB (last + 1)
    is no gap (§6.7) and no new snapshot is asked for."""
    client = CloneClient(server.endpoints, context=zmq_context, server_ttl_s=30)
    try:
        assert server.subscriptions(1) == {b""}  # the whole map covers HUGZ
        routing_id, request = server.icanhaz()
        assert request == [b"ICANHAZ?", b""]
        server.router.send_multipart([routing_id, b"KTHXBAI", seq(7), b"", b"", b""])
        client.wait_synced()
        server.hugz(50)
        server.publisher.send_multipart([b"8553", seq(8), b"", b"", b"v"])
        wait_until(lambda: client.get(b"8553") == b"v", what="the KVPUB applied")
        assert client.stats()["gaps"] == 0
        assert client.stats()["snapshots"] == 1
        assert client.items() == [(b"8553", b"v")]
    finally:
        client.close()


def test_client_kvset_frames_are_the_rfc12_shape(
    zmq_context: Context, server: ZguideStyleServer
) -> None:
    """RFC 12 KVSET: [key, sequence (zero: no significance), UUID of 16 bytes, properties
    `name=value\\n`, value]; a delete is an empty value; §6.6 raspy: ttl an integer;
    §6.4: each update a fresh UUID, confirmed by its KVPUB coming back."""
    client = CloneClient(
        server.endpoints, b"/client/", context=zmq_context, server_ttl_s=30
    )
    try:
        routing_id, _request = server.icanhaz()
        server.router.send_multipart([routing_id, b"KTHXBAI", seq(7), b"", b"", b""])
        client.wait_synced()
        client.set(b"/client/x", b"v", ttl_s=30.0, props={"unit": "C"})
        key, sequence, set_id, properties, value = server.kvset()
        assert (key, sequence, properties, value) == (
            b"/client/x",
            ZERO,
            b"unit=C\nttl=30\n",
            b"v",
        )
        assert len(set_id) == 16
        server.publisher.send_multipart([key, seq(8), set_id, properties, value])
        wait_until(lambda: client.get(b"/client/x") == b"v", what="the set applied")
        client.delete(b"/client/x")
        key, sequence, delete_id, properties, value = server.kvset()
        assert (key, sequence, properties, value) == (b"/client/x", ZERO, b"", b"")
        assert len(delete_id) == 16
        assert delete_id != set_id
    finally:
        client.close()


def test_client_asks_for_its_snapshot_when_updates_flow_without_hugz(
    zmq_context: Context, server: ZguideStyleServer
) -> None:
    """RFC 12: the client MUST start with an ICANHAZ?, and a server SHOULD send HUGZ
    only in the absence of other updates. A KVPUB proves the subscription live as
    well as a HUGZ does (§6.3 raspy waits for one of them), so a busy server that
    sends no HUGZ still gets the snapshot request."""
    client = CloneClient(server.endpoints, context=zmq_context, server_ttl_s=30)
    try:
        busy = [b"/busy", seq(7), b"", b"", b"1"]
        routing_id, request = server.icanhaz(heartbeat=busy)
        assert request == [b"ICANHAZ?", b""]
        server.router.send_multipart([routing_id, b"/busy", seq(7), b"", b"", b"1"])
        server.router.send_multipart([routing_id, b"KTHXBAI", seq(7), b"", b"", b""])
        client.wait_synced()
        server.publisher.send_multipart([b"/busy", seq(8), b"", b"", b"2"])
        wait_until(lambda: client.get(b"/busy") == b"2", what="the next KVPUB")
        assert client.stats()["snapshots"] == 1
    finally:
        client.close()


def test_whole_map_client_goes_live_with_kthxbai_numbered_as_rfc12(
    zmq_context: Context, server: ZguideStyleServer
) -> None:
    """RFC 12: a KVSYNC's sequence may be zero, and KTHXBAI carries the highest
    KVSYNC sequence, so it can lie far below the next KVPUB's number. The client
    may ask once more (it cannot tell that from a lost update), then goes live."""
    client = CloneClient(server.endpoints, context=zmq_context, server_ttl_s=30)
    try:
        routing_id, _request = server.icanhaz()
        server.router.send_multipart([routing_id, b"/a", ZERO, b"", b"", b"x"])
        server.router.send_multipart([routing_id, b"KTHXBAI", ZERO, b"", b"", b""])
        client.wait_synced()
        server.publisher.send_multipart([b"/a", seq(57), b"", b"", b"y"])
        routing_id, request = server.icanhaz()
        assert request == [b"ICANHAZ?", b""]
        server.router.send_multipart([routing_id, b"/a", ZERO, b"", b"", b"y"])
        server.router.send_multipart([routing_id, b"KTHXBAI", ZERO, b"", b"", b""])
        server.publisher.send_multipart([b"/b", seq(58), b"", b"", b"z"])
        wait_until(lambda: client.get(b"/b") == b"z", what="the next KVPUB applied")
        assert client.items() == [(b"/a", b"y"), (b"/b", b"z")]
        assert client.seq == 58
        # every ICANHAZ? the client sends is counted as it is asked, on the thread
        # that applied KVPUB 58 just before: two, and live, is no third snapshot
        assert client.stats()["snapshots"] == 2, "asked for yet another snapshot"
        assert client.live
    finally:
        client.close()


@pytest.mark.timeout(20)
def test_client_asks_again_on_a_new_dealer_when_a_snapshot_stops_before_kthxbai(
    zmq_context: Context, server: ZguideStyleServer
) -> None:
    """§6.3 raspy: a server may cut a snapshot off (stalled, too long, store growing)
    and say nothing more on it, since a KTHXBAI would claim it whole. The client waits
    `server_ttl_s` for the next snapshot message, then starts over on fresh sockets
    and syncs from a second, whole snapshot; what the first one sent is not kept."""
    client = CloneClient(server.endpoints, context=zmq_context, server_ttl_s=1.0)
    # HUGZ all along, while what the client holds is read too: with none after the
    # second ICANHAZ?, a test paused past server_ttl_s saw a second start over
    try:
        with server.beating():
            first, _request = server.icanhaz()
            server.router.send_multipart([first, b"/a", seq(3), b"", b"", b"1"])
            server.router.send_multipart([first, b"/b", seq(4), b"", b"", b"partial"])
            # then nothing on the snapshot, while HUGZ go on: the publisher lives
            second, request = server.icanhaz()
            assert request == [b"ICANHAZ?", b""]
            assert second != first, "asked again on the same DEALER"
            assert not client.live
            server.router.send_multipart([second, b"/a", seq(3), b"", b"", b"1"])
            server.router.send_multipart([second, b"/c", seq(5), b"", b"", b"3"])
            server.router.send_multipart([second, b"KTHXBAI", seq(5), b"", b"", b""])
            client.wait_synced()
            assert client.items() == [(b"/a", b"1"), (b"/c", b"3")]
            assert client.seq == 5
            assert client.stats()["reconnects"] == 1
            assert client.syncs == 1
    finally:
        client.close()


@pytest.mark.timeout(20)
def test_a_kvpub_older_than_the_snapshot_entry_of_its_key_is_skipped(
    zmq_context: Context, server: ZguideStyleServer
) -> None:
    """§6.3 raspy: a snapshot may hold an update numbered above its KTHXBAI (stored,
    not yet published when the snapshot began). A KVPUB numbered above the KTHXBAI
    but not above the key's own entry is an older update of that key: applied, it
    would put back a value the snapshot's entry replaced. A newer one is applied."""
    client = CloneClient(server.endpoints, b"/k/", context=zmq_context, server_ttl_s=30)
    seen: list[tuple[bytes, int, bytes]] = []
    client.on_change(lambda change: seen.append((change.key, change.seq, change.body)))
    try:
        routing_id, _request = server.icanhaz()
        server.router.send_multipart([routing_id, b"/k/x", seq(12), b"", b"", b"new"])
        server.router.send_multipart(
            [routing_id, b"KTHXBAI", seq(10), b"", b"", b"/k/"]
        )
        client.wait_synced()
        server.publisher.send_multipart([b"/k/x", seq(11), b"", b"", b"old"])
        server.publisher.send_multipart([b"/k/x", seq(13), b"", b"", b"newer"])
        newer = (b"/k/x", 13, b"newer")
        wait_until(lambda: newer in seen, what="KVPUB 13 applied")
        assert (b"/k/x", 11, b"old") not in seen  # the PUB keeps order: 11 came first
        assert client.get(b"/k/x") == b"newer"
        assert client.seq == 13
    finally:
        client.close()
