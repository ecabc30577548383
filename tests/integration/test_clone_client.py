"""raspy.client.clone against a scripted CHP server and against the real one (§6)."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import zmq
from structlog.testing import capture_logs
from support.clock import FakeClock
from support.clonesrv import CloneServer, clone_server
from support.net import free_port_base
from support.relay import Relay
from support.wait import repeated, wait_until

from raspy.cli import kv
from raspy.client.clone import Change, CloneClient, Snapshot, fetch_snapshot
from raspy.config import CloneConfig, StoreConfig
from raspy.errors import ClientTimeout
from raspy.protocol import clone
from raspy.storage.store import Store

Context = zmq.Context[zmq.Socket[bytes]]


class ScriptedServer:
    """The server side of RFC 12 on raw sockets, driven step by step by the test."""

    def __init__(self, context: Context) -> None:
        self.router = context.socket(zmq.ROUTER)
        self.pub = context.socket(zmq.PUB)
        self.collector = context.socket(zmq.SUB)
        self.collector.setsockopt(zmq.SUBSCRIBE, b"")
        for sock in (self.router, self.pub, self.collector):
            sock.setsockopt(zmq.LINGER, 0)
            sock.bind("tcp://127.0.0.1:*")
        self.endpoints = clone.Endpoints(
            *(
                s.getsockopt_string(zmq.LAST_ENDPOINT)
                for s in (self.router, self.pub, self.collector)
            )
        )
        self._beating = False

    def close(self) -> None:
        for sock in (self.router, self.pub, self.collector):
            sock.close()

    def hugz(self, seq: int = 0) -> None:
        self.pub.send_multipart([clone.HUGZ, clone.encode_seq(seq), b"", b"", b""])

    @contextmanager
    def beating(self) -> Iterator[None]:
        """HUGZ every 50 ms, from a thread of their own, until the block ends: a
        live server, whose client does not start over however long the test's
        thread is paused. handshake() sends none of its own meanwhile (the
        publisher is that thread's), and nothing else may be published."""
        self._beating = True
        try:
            with repeated(self.hugz, every_s=0.05, what="HUGZ"):
                yield
        finally:
            self._beating = False

    def handshake(self) -> tuple[bytes, bytes]:
        """HUGZ every 50 ms until an ICANHAZ? comes: (routing id, subtree)."""
        for _ in range(100):
            if not self._beating:
                self.hugz()
            self.collector.poll(0)  # §1.6: a bound SUB attaches peers only when used
            if self.router.poll(50):
                routing_id, command, subtree = self.router.recv_multipart()
                assert command == clone.ICANHAZ
                return routing_id, subtree
        raise AssertionError("the client never asked for a snapshot")

    def answer(
        self, routing_id: bytes, entries: dict[bytes, tuple[int, bytes]], seq: int
    ) -> None:
        for key, (key_seq, body) in sorted(entries.items()):
            self.router.send_multipart([routing_id, *clone.kvsync(key, key_seq, body)])
        self.router.send_multipart([routing_id, *clone.kthxbai(seq, b"")])

    def publish(self, key: bytes, seq: int, body: bytes, uuid: bytes = b"") -> None:
        self.pub.send_multipart([key, clone.encode_seq(seq), uuid, b"", body])

    def kvset(self, timeout_ms: int = 3000) -> list[bytes]:
        assert self.collector.poll(timeout_ms), "no KVSET arrived"
        return self.collector.recv_multipart()


@pytest.fixture
def scripted(zmq_context: Context) -> Iterator[ScriptedServer]:
    server = ScriptedServer(zmq_context)
    yield server
    server.close()


def _client(
    context: Context, server: clone.Endpoints | str, **kwargs: object
) -> CloneClient:
    return CloneClient(server, context=context, **kwargs)  # type: ignore[arg-type]  # test keywords


def _reconnected_after(client: CloneClient) -> None:
    """Wait for the server's silence to start the client over from here: one may
    have come already, before the first HUGZ got through to a loaded machine."""
    before = client.stats()["reconnects"]
    wait_until(lambda: client.stats()["reconnects"] > before, what="a reconnect")


def _synced(
    scripted: ScriptedServer,
    client: CloneClient,
    state: dict[bytes, tuple[int, bytes]],
    seq: int,
) -> None:
    routing_id, _ = scripted.handshake()
    scripted.answer(routing_id, state, seq)
    client.wait_synced(5)


def test_updates_that_arrive_during_the_snapshot_apply_only_after_kthxbai(
    zmq_context: Context, scripted: ScriptedServer
) -> None:
    """§6.3 steps 3-4: KVPUBs wait while the snapshot is read; then only those with a
    sequence above KTHXBAI's apply."""
    client = _client(zmq_context, scripted.endpoints)
    try:
        routing_id, subtree = scripted.handshake()
        assert subtree == b""
        scripted.publish(b"/x", 4, b"already-in-snapshot")
        scripted.publish(b"/y", 6, b"new")
        scripted.answer(routing_id, {b"/x": (3, b"old"), b"/z": (5, b"z")}, seq=5)
        client.wait_synced(5)
        wait_until(lambda: client.seq == 6, what="the pending update applied")
        assert client.items() == [(b"/x", b"old"), (b"/y", b"new"), (b"/z", b"z")]
    finally:
        client.close()


def test_whole_map_client_takes_a_new_snapshot_on_a_sequence_gap(
    zmq_context: Context, scripted: ScriptedServer
) -> None:
    """§6.7: only a whole-map client can detect a lost update (seq != last + 1)."""
    client = _client(zmq_context, scripted.endpoints)
    seen: list[Change] = []
    client.on_change(seen.append)
    try:
        _synced(scripted, client, {b"/a": (1, b"1")}, seq=1)
        scripted.publish(b"/b", 2, b"2")
        scripted.publish(b"/c", 4, b"4")  # 3 was lost
        assert scripted.router.poll(3000), "no second ICANHAZ? after the gap"
        routing_id, _, _ = scripted.router.recv_multipart()
        scripted.answer(
            routing_id, {b"/a": (1, b"1"), b"/c": (4, b"4"), b"/d": (3, b"3")}, 4
        )
        wait_until(lambda: client.live and client.seq == 4, what="the second snapshot")
        assert client.items() == [(b"/a", b"1"), (b"/c", b"4"), (b"/d", b"3")]
        assert client.stats()["gaps"] == 1
        # told after the cache is updated, once the agent lets go of its lock
        wait_until(lambda: len(seen) >= 5, what="every change told")
        assert seen == [
            Change(b"/a", 1, b"1", (), from_snapshot=True),
            Change(b"/b", 2, b"2", ()),
            Change(b"/b", 4, b"", (), from_snapshot=True),
            Change(b"/c", 4, b"4", (), from_snapshot=True),
            Change(b"/d", 3, b"3", (), from_snapshot=True),
        ]
    finally:
        client.close()


def test_subtree_client_accepts_sequence_jumps_and_never_applies_hugz(
    zmq_context: Context, scripted: ScriptedServer
) -> None:
    """§6.7: sequence numbers are global, so a subtree client sees gaps normally;
    §6.5: HUGZ is never an update, whatever its sequence."""
    client = _client(zmq_context, scripted.endpoints, subtree=b"/a/")
    try:
        routing_id, subtree = scripted.handshake()
        assert subtree == b"/a/"
        scripted.answer(routing_id, {}, seq=3)
        client.wait_synced(5)
        scripted.publish(b"/a/x", 10, b"x")
        scripted.hugz(seq=99)
        scripted.publish(b"/a/y", 20, b"y")
        wait_until(lambda: client.seq == 20, what="both updates")
        assert client.items() == [(b"/a/x", b"x"), (b"/a/y", b"y")]
        # a gap would have been acted on while its update was applied, before seq 20
        stats = client.stats()
        assert (stats["snapshots"], stats["gaps"]) == (1, 0)
        assert client.get(clone.HUGZ) is None
    finally:
        client.close()


def test_silent_server_makes_the_client_start_again_with_fresh_sockets(
    zmq_context: Context, scripted: ScriptedServer
) -> None:
    """§6.5: no KVPUB and no HUGZ for server_ttl_s -> reconnect, from step 1 of §6.3."""
    client = _client(zmq_context, scripted.endpoints, server_ttl_s=0.3)
    try:
        _synced(scripted, client, {b"/gone": (1, b"1"), b"/kept": (2, b"2")}, seq=2)
        _reconnected_after(client)
        changes = client.changes(timeout_s=5)
        routing_id, _ = scripted.handshake()
        scripted.answer(routing_id, {b"/kept": (2, b"2"), b"/new": (3, b"3")}, seq=3)
        assert [next(changes), next(changes)] == [
            Change(b"/gone", 3, b"", (), from_snapshot=True),
            Change(b"/new", 3, b"3", (), from_snapshot=True),
        ]
        assert client.items() == [(b"/kept", b"2"), (b"/new", b"3")]
    finally:
        client.close()


def test_wait_synced_after_a_reconnect_waits_for_the_new_snapshot(
    zmq_context: Context, scripted: ScriptedServer
) -> None:
    """A caller waiting for the cache after the server was lost (restarted) is told
    synced once the new server's snapshot is in, not at once from the first one."""
    client = _client(zmq_context, scripted.endpoints, server_ttl_s=0.3)
    try:
        _synced(scripted, client, {b"/old": (1, b"1")}, seq=1)
        _reconnected_after(client)
        with pytest.raises(ClientTimeout):
            client.wait_synced(0.2)
        # live from here on: a test paused past server_ttl_s (0.3 s) after the last
        # HUGZ saw the client start over again, no longer live
        with scripted.beating():
            routing_id, _ = scripted.handshake()
            scripted.answer(routing_id, {b"/new": (5, b"5")}, seq=5)
            client.wait_synced(5)
            assert client.live
            assert client.items() == [(b"/new", b"5")]
            assert client.syncs == 2
    finally:
        client.close()


def test_a_server_away_for_long_is_logged_once_a_minute_not_at_each_reconnect(
    zmq_context: Context,
) -> None:
    """A board whose hub is off for a day made a fresh start every server_ttl_s (5 s)
    and logged each: 17,280 lines a day on its SD card. The reconnects go on."""
    endpoints = clone.Endpoints.from_port_base("127.0.0.1", free_port_base())
    with capture_logs() as logs:
        client = _client(zmq_context, endpoints, server_ttl_s=0.1)
        try:
            wait_until(lambda: client.stats()["reconnects"] >= 5, what="reconnects")
        finally:
            client.close()
    lines = [e for e in logs if e["event"] == "clone_server_reconnected"]
    assert len(lines) == 1, lines


def test_unconfirmed_set_is_resent_with_the_same_uuid_until_published(
    zmq_context: Context, scripted: ScriptedServer
) -> None:
    """§6.4 raspy: keep each KVSET until it comes back on the publisher; resend it
    unchanged (same UUID) meanwhile; stop once it is seen."""
    client = _client(zmq_context, scripted.endpoints, resend_s=0.2)
    try:
        _synced(scripted, client, {}, seq=0)
        client.set(b"/k", b"v", ttl_s=30)
        first = scripted.kvset()
        assert first[0] == b"/k"
        assert first[1:] == [bytes(8), first[2], b"ttl=30\n", b"v"]
        assert len(first[2]) == 16
        assert scripted.kvset() == first
        # the first resend also asks a snapshot (was the echo lost?): one without /k
        routing_id, _ = scripted.handshake()
        scripted.answer(routing_id, {}, 0)
        scripted.publish(b"/k", 1, b"v", uuid=first[2])
        wait_until(lambda: client.get(b"/k") == b"v", what="the update applied")
        # A marker set after the confirmation, left unconfirmed until it is resent:
        # an unconfirmed /k, sent before it, would be due again no later, so it
        # would show up between the marker's first send and its resend.
        client.set(b"/marker", b"m")
        before_marker = _kvsets_until(scripted, b"/marker")
        assert all(frames == first for frames in before_marker)  # crossed the echo
        between = _kvsets_until(scripted, b"/marker")
        assert between == [], "the confirmed /k was sent again"
        assert client.stats()["resends"] >= 2
    finally:
        client.close()


def _kvsets_until(scripted: ScriptedServer, key: bytes) -> list[list[bytes]]:
    """The KVSETs that arrive before the next one of `key` (which is consumed)."""
    seen: list[list[bytes]] = []
    while (frames := scripted.kvset())[0] != key:
        seen.append(frames)
    return seen


def test_set_that_never_comes_back_fails_after_its_attempts(
    zmq_context: Context, scripted: ScriptedServer
) -> None:
    """§6.4: a writer cannot know its KVSET arrived; raspy gives up after N sends."""
    client = _client(zmq_context, scripted.endpoints, resend_s=0.1, max_set_attempts=2)
    failures: list[BaseException] = []

    def confirmed_set() -> None:
        try:
            client.set(b"/k", b"v", confirm_timeout_s=5)
        except ClientTimeout as exc:
            failures.append(exc)

    try:
        _synced(scripted, client, {}, seq=0)
        writer = threading.Thread(target=confirmed_set)
        writer.start()
        first = scripted.kvset()
        assert scripted.kvset() == first
        writer.join(timeout=10)
        assert [str(exc) for exc in failures] == ['update of "/k" never confirmed']
        assert client.stats()["set_failed"] == 1
    finally:
        client.close()


def test_unconfirmed_updates_are_bounded_while_the_server_is_away(
    zmq_context: Context,
) -> None:
    """Nothing listens: past max_unconfirmed the oldest update fails, memory stays
    bounded, and a waiter on a dropped update gets ClientTimeout at once."""
    endpoints = clone.Endpoints.from_port_base("127.0.0.1", free_port_base())
    client = CloneClient(endpoints, context=zmq_context, max_unconfirmed=1)

    def push_out_the_waiting_one() -> None:
        # /first, queued after /k/0, pushed /k/0 out; /k/1 now pushes /first out
        wait_until(lambda: client.stats()["set_dropped"] == 1, what="/k/0 dropped")
        client.set(b"/k/1", b"v")

    pusher = threading.Thread(target=push_out_the_waiting_one)
    try:
        client.set(b"/k/0", b"v")
        pusher.start()
        with pytest.raises(ClientTimeout, match=r"/first\" dropped: more than 1 upd"):
            client.set(b"/first", b"v", confirm_timeout_s=20)
        pusher.join(timeout=10)
        assert client.stats()["set_dropped"] == 2
        assert client.stats()["set_failed"] == 0
    finally:
        client.close()


def test_client_writes_reads_and_sees_ttl_expiry_through_the_real_server(
    zmq_context: Context, server: CloneServer, clock: FakeClock
) -> None:
    """§6.4 and §6.6: set, confirm, read back; the server's expiry arrives as a delete."""
    client = _client(zmq_context, server.endpoints)
    seen: list[Change] = []
    lock = threading.Lock()

    def record(change: Change) -> None:
        with lock:
            seen.append(change)

    client.on_change(record)
    try:
        client.wait_synced(5)
        client.set(b"/e", b"on", ttl_s=30, confirm_timeout_s=5)
        client.set(b"/p", b"1", props={"unit": "C"}, confirm_timeout_s=5)
        assert client.items() == [(b"/e", b"on"), (b"/p", b"1")]
        client.delete(b"/p", confirm_timeout_s=5)
        clock.advance(30)
        wait_until(lambda: client.get(b"/e") is None, what="the ttl delete")

        def told() -> int:
            with lock:
                return len(seen)

        # told after the cache is updated, once the agent lets go of its lock
        wait_until(lambda: told() >= 4, what="the ttl delete told")
        with lock:
            assert seen == [
                Change(b"/e", 1, b"on", (("ttl", "30"),)),
                Change(b"/p", 2, b"1", (("unit", "C"),)),
                Change(b"/p", 3, b"", ()),
                Change(b"/e", 4, b"", ()),
            ]
    finally:
        client.close()


def test_confirmed_set_outside_the_subtree_is_refused_not_sent(
    zmq_context: Context, scripted: ScriptedServer
) -> None:
    """§6.7: a subtree client never hears the server's echo of a key outside it, so
    a set that asks for confirmation there is refused; it reported success before,
    though the server (this one drops every KVSET) published nothing."""
    client = _client(zmq_context, scripted.endpoints, subtree=b"/mine/")
    try:
        _synced(scripted, client, {}, seq=0)
        with pytest.raises(ValueError, match="cannot be confirmed") as refused:
            client.set(b"/other/x", b"v", confirm_timeout_s=2)
        assert '"/other/x"' in str(refused.value)
        assert '"/mine/"' in str(refused.value)
        client.set(b"/other/x", b"w")  # unconfirmed: sent once, as before
        # one socket, in order: had the refused update gone out, it would come first
        assert scripted.kvset()[4] == b"w"
    finally:
        client.close()


def test_subtree_client_sees_only_its_subtree_from_another_clients_writes(
    zmq_context: Context, server: CloneServer
) -> None:
    """§6.7: the snapshot and the subscription use the same prefix."""
    writer = _client(zmq_context, server.endpoints)
    reader = _client(zmq_context, server.endpoints, subtree=b"/device/")
    try:
        writer.wait_synced(5)
        writer.set(b"/device/a", b"1", confirm_timeout_s=5)
        writer.set(b"/event/x", b"2", confirm_timeout_s=5)
        reader.wait_synced(5)
        writer.set(b"/device/b", b"3", confirm_timeout_s=5)
        wait_until(lambda: reader.seq == 3, what="the reader to catch up")
        assert reader.items() == [(b"/device/a", b"1"), (b"/device/b", b"3")]
        assert fetch_snapshot(
            server.endpoints, b"/event/", context=zmq_context
        ) == Snapshot(3, {b"/event/x": b"2"})
        assert fetch_snapshot(server.endpoints, context=zmq_context).items == {
            b"/device/a": b"1",
            b"/event/x": b"2",
            b"/device/b": b"3",
        }
    finally:
        writer.close()
        reader.close()


def test_client_follows_a_restarted_server_and_the_sequence_keeps_growing(
    zmq_context: Context, store: Store, clock: FakeClock
) -> None:
    """§6.5: the client reconnects after silence; docs/architecture.md: the restarted
    server never reuses a sequence number."""
    base = free_port_base()
    endpoints = clone.Endpoints.from_port_base("127.0.0.1", base)
    config = CloneConfig(hugz_interval_s=0.1)
    client = _client(zmq_context, f"127.0.0.1:{base}", server_ttl_s=0.5)
    try:
        with clone_server(
            zmq_context, store, clock, config=config, endpoints=endpoints
        ):
            client.wait_synced(5)
            client.set(b"/a", b"1", confirm_timeout_s=5)
            client.set(b"/a", b"2", confirm_timeout_s=5)
        wait_until(lambda: not client.live, what="the client to notice the silence")
        with clone_server(
            zmq_context, store, clock, config=config, endpoints=endpoints
        ):
            wait_until(lambda: client.live, what="the client to resync", timeout_s=10)
            client.set(b"/b", b"3", confirm_timeout_s=5)
            assert client.seq == 3
            assert client.items() == [(b"/a", b"2"), (b"/b", b"3")]
    finally:
        client.close()


def _bindable(port: int) -> bool:
    """As libzmq binds: SO_REUSEADDR, so connections in TIME_WAIT do not count."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_subtree_client_resyncs_after_its_publisher_connection_was_cut(
    zmq_context: Context, server: CloneServer
) -> None:
    """raspy: an update published while the SUB's connection is down is lost (a PUB
    drops it), and a subtree client cannot see the gap (§6.7). The connection made
    again means a new snapshot, which has it."""
    with Relay(int(server.endpoints.publisher.rsplit(":", 1)[1])) as relay:
        flaky = clone.Endpoints(
            server.endpoints.snapshot,
            f"tcp://127.0.0.1:{relay.port}",
            server.endpoints.collector,
        )
        writer = _client(zmq_context, server.endpoints)
        reader = _client(zmq_context, flaky, subtree=b"/t/")
        try:
            reader.wait_synced(5)
            writer.set(b"/t/a", b"1", confirm_timeout_s=5)
            wait_until(lambda: reader.get(b"/t/a") == b"1", what="the first value")
            relay.stall()  # what is published now is held in the relay...
            writer.set(b"/t/a", b"2", confirm_timeout_s=5)
            relay.cut()  # ...and lost with the connection
            relay.heal()
            wait_until(
                lambda: reader.get(b"/t/a") == b"2",
                what="the reader to take a new snapshot",
            )
            assert reader.stats()["reconnects"] == 1
        finally:
            writer.close()
            reader.close()


def test_client_follows_a_server_restored_from_an_older_store_within_its_ttl(
    zmq_context: Context, tmp_path: Path, clock: FakeClock
) -> None:
    """A hub restored from an older dump into a new data dir numbers its updates from
    below what a client saw; back within server_ttl_s, the client never fell silent.
    Its publisher connection made again gives it the new server's snapshot, and the
    new server's updates are taken."""
    base = free_port_base()
    endpoints = clone.Endpoints.from_port_base("127.0.0.1", base)
    old = Store.open(tmp_path / "old", StoreConfig(map_size_initial_mb=1))
    restored = Store.open(tmp_path / "restored", StoreConfig(map_size_initial_mb=1))
    client = _client(zmq_context, f"127.0.0.1:{base}")  # server_ttl_s: 5 s
    try:
        with clone_server(zmq_context, old, clock, endpoints=endpoints):
            client.wait_synced(5)
            for n in range(5):
                client.set(b"/a", str(n).encode(), confirm_timeout_s=5)
            assert client.seq == 5
        wait_until(  # the old server's listeners close in libzmq's own time
            lambda: all(_bindable(base + n) for n in (1, 2, 3)),
            what="the old server's ports to be free",
        )
        with clone_server(zmq_context, restored, clock, endpoints=endpoints) as new:
            other = _client(zmq_context, new.endpoints)
            try:
                other.wait_synced(5)
                other.set(b"/b", b"new", confirm_timeout_s=5)  # seq 1 there
            finally:
                other.close()
            wait_until(
                lambda: client.items() == [(b"/b", b"new")],
                what="the client to follow the restored server",
            )
            assert client.seq == 1
            assert client.stats()["reconnects"] == 1
    finally:
        client.close()
        old.close()
        restored.close()


def test_changes_iterator_ends_after_its_timeout_without_changes(
    zmq_context: Context, server: CloneServer
) -> None:
    """The iterator API: changes in order, then the end after a quiet timeout."""
    client = _client(zmq_context, server.endpoints)
    try:
        client.wait_synced(5)
        changes = client.changes(timeout_s=3.0)  # the change's arrival, at load
        server.publisher.set(b"/a", b"1")
        assert list(changes) == [Change(b"/a", 1, b"1", ())]
    finally:
        client.close()


def test_client_refuses_keys_and_bodies_the_protocol_forbids(
    zmq_context: Context, server: CloneServer
) -> None:
    """§6.2: keys are /-rooted; §6.4: an empty body means delete, so set() needs one."""
    client = _client(zmq_context, server.endpoints)
    try:
        with pytest.raises(ValueError, match="not /-rooted"):
            client.set(b"a", b"1")
        with pytest.raises(ValueError, match="delete"):
            client.set(b"/a", b"")
    finally:
        client.close()


@pytest.mark.parametrize(
    ("props", "reason"),
    [({"ttl": "soon"}, "bad_ttl"), ({"note": "x" * 5000}, "properties_too_large")],
)
def test_client_refuses_properties_every_server_drops_at_once(
    zmq_context: Context, server: CloneServer, props: dict[str, str], reason: str
) -> None:
    """§6.4: a KVSET whose `ttl` is no number, or whose properties are over 4 KB, is
    dropped by the server; set() said so as "never confirmed" after its five
    attempts (10 s), or never without `confirm_timeout_s`. Now a ValueError."""
    client = _client(zmq_context, server.endpoints)
    try:
        with pytest.raises(ValueError, match=reason):
            client.set(b"/a", b"1", props=props, confirm_timeout_s=1)
    finally:
        client.close()


def test_client_refuses_a_value_larger_than_any_server_takes_at_once(
    zmq_context: Context, server: CloneServer
) -> None:
    """A value over the largest frame a Clone server's sockets take (4 MiB; [clone]
    max_value_bytes is at most that) never arrives: the server's socket drops the
    connection at it, on each of the five sends. set() said so as "never confirmed"
    after them (10 s), or never without `confirm_timeout_s`. Now a ValueError, as for
    the properties every server drops; a value of that size is sent."""
    client = _client(zmq_context, server.endpoints)
    most = clone.MAX_FRAME_BYTES
    try:
        with pytest.raises(ValueError, match=f"value_too_large: {most + 1} > {most}"):
            client.set(b"/a", b"x" * (most + 1), confirm_timeout_s=1)
        assert client.stats()["resends"] == 0
    finally:
        client.close()


def test_fetch_snapshot_times_out_when_nothing_answers(zmq_context: Context) -> None:
    """A one-shot read names the endpoint that did not answer."""
    endpoints = clone.Endpoints.from_port_base("127.0.0.1", free_port_base())
    with pytest.raises(ClientTimeout, match="no snapshot"):
        fetch_snapshot(endpoints, timeout_s=0.2, context=zmq_context)


def test_raspy_kv_live_commands_set_get_list_delete_and_watch(
    zmq_context: Context,
    store: Store,
    clock: FakeClock,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Issue 6: raspy-kv ls|get|set|del|watch against a running server."""
    with _kv_server(zmq_context, store, clock) as (srv, server_arg):
        capsys.readouterr()  # the server's start-up log lines
        assert kv.run(["set", "/dev/t", "21.5", "--ttl", "60", *server_arg]) == 0
        assert kv.run(["set", "/dev/bin", "x", *server_arg]) == 0
        assert kv.run(["get", "/dev/t", *server_arg]) == 0
        srv.publisher.set(b"/dev/bin", b"\x00\xff")
        wait_until(lambda: srv.counter("clone.published") == 3, what="binary value")
        assert kv.run(["ls", "/dev/", *server_arg]) == 0
        assert kv.run(["del", "/dev/t", *server_arg]) == 0
        assert kv.run(["get", "/dev/t", *server_arg]) == 1
        out, err = capsys.readouterr()
        assert out == (
            "/dev/t set (seq 1)\n/dev/bin set (seq 2)\n21.5\n"
            "/dev/bin 0x00ff\n/dev/t 21.5\n/dev/t deleted (seq 4)\n"
        )
        # the CLI's own messages; the client library's JSON log lines may come between
        messages = [line for line in err.splitlines() if not line.startswith("{")]
        assert messages == ["raspy-kv get: /dev/t: no such key"]
        assert _watch_one(
            ["watch", "/w/", "--count", "1", *server_arg],
            lambda index: srv.publisher.set(b"/w/a", b"%d" % index),
        ) == [0]
        line = capsys.readouterr().out
        seq, key, value = line.split()
        assert (key, int(value) + 5) == ("/w/a", int(seq))


def test_raspy_kv_reports_no_answer_and_bad_usage_on_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """docs/style.md §4: exit 1 for a runtime failure, 2 for bad input; one stderr line."""
    base = free_port_base()
    assert kv.run(["ls", "--server", f"127.0.0.1:{base}", "--timeout", "0.2"]) == 1
    assert kv.run(["set", "relative", "1"]) == 2
    assert kv.run(["get", "/x", "--server", "nowhere"]) == 2
    assert kv.run(["watch", "/", "--server", "127.0.0.1:65535"]) == 2
    assert capsys.readouterr().err == (
        f"raspy-kv ls: no snapshot from tcp://127.0.0.1:{base + 1} in 0.2 s (is "
        "raspyd running there? --server HOST:PORT names another hub or port base; "
        "a hub with CURVE answers only with --server-key and --client-cert)\n"
        'raspy-kv set: key "relative" is not /-rooted (raspy\'s keys start with /)\n'
        # the option is named (README: a bad option is one line naming it)
        'raspy-kv get: --server: expected HOST:PORT-BASE, got "nowhere"\n'
        "raspy-kv watch: --server: port base must be 1..65532, got 65535\n"
    )


def test_raspy_kv_says_a_whole_second_it_waited_as_a_person_would(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """docs/protocols.md: a wait is said as a person would, `in 1 s`, not `in 1.0 s`;
    by `get` (a snapshot fetched) and by `set` (a client that waits to be synced)."""
    base = free_port_base()
    server = ["--server", f"127.0.0.1:{base}", "--timeout", "1"]
    assert kv.run(["get", "/x", *server]) == 1
    assert kv.run(["set", "/x", "1", *server]) == 1
    hint = (
        " (is raspyd running there? --server HOST:PORT names another hub or port"
        " base; a hub with CURVE answers only with --server-key and --client-cert)\n"
    )
    snapshot = f"tcp://127.0.0.1:{base + 1}"
    assert capsys.readouterr().err == (
        f"raspy-kv get: no snapshot from {snapshot} in 1 s{hint}"
        f"raspy-kv set: no snapshot from {snapshot} in 1 s{hint}"
    )


def test_raspy_kv_set_and_del_say_why_nothing_happened(
    zmq_context: Context,
    store: Store,
    clock: FakeClock,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A value the hub drops is not 'no answer'; a del of a key that is not there is
    not 'deleted'; an argument that is not UTF-8 is taken as the bytes the shell gave."""
    base = free_port_base()
    endpoints = clone.Endpoints.from_port_base("127.0.0.1", base)
    server = ["--server", f"127.0.0.1:{base}", "--timeout", "1"]
    config = CloneConfig(hugz_interval_s=0.1, max_value_bytes=8)
    with clone_server(zmq_context, store, clock, config=config, endpoints=endpoints):
        capsys.readouterr()
        assert kv.run(["set", "/k/big", "0123456789", *server]) == 1
        assert kv.run(["del", "/k/never", *server]) == 1
        assert kv.run(["set", "/k/latin", "caf\udce9", *server]) == 0  # b"caf\xe9"
        assert kv.run(["get", "/k/latin", *server]) == 0
        out, err = capsys.readouterr()
    assert out == "/k/latin set (seq 1)\n0x636166e9\n"
    messages = [line for line in err.splitlines() if not line.startswith("{")]
    assert messages == [
        "raspy-kv set: /k/big: the hub did not take the update (value 10 bytes): it drops "
        "values over its [clone] max_value_bytes (65536 by default; its log: "
        "clone_input_rejected), and fails a write its store cannot make (a full disk; "
        "its log: clone_commit_failed)",
        "raspy-kv del: /k/never: no such key",
    ]


def test_raspy_kv_del_subtree_deletes_every_key_under_it_and_no_other(
    zmq_context: Context,
    store: Store,
    clock: FakeClock,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A retired board's readings go in one command; a key beside the prefix stays."""
    with _kv_server(zmq_context, store, clock) as (srv, server):
        for key in (
            b"/device/b.f.x/value",
            b"/device/b.f.x/unit",
            b"/device/b.g.y/value",
        ):
            srv.publisher.set(key, b"1")
        wait_until(lambda: srv.counter("clone.published") == 3, what="the keys")
        capsys.readouterr()
        assert kv.run(["del", "--subtree", "--yes", "/device/b.f.", *server]) == 0
        assert kv.run(["del", "--subtree", "--yes", "/device/b.f.", *server]) == 1
        assert kv.run(["ls", "/device/", *server]) == 0
        out, err = capsys.readouterr()
    assert out == ("2 keys under /device/b.f. deleted (seq 5)\n/device/b.g.y/value 1\n")
    messages = [line for line in err.splitlines() if not line.startswith("{")]
    assert messages == ["raspy-kv del: /device/b.f.: no key under it"]


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("command", [["ls"], ["get", "/k"], ["set", "/k", "2"]])
def test_raspy_kv_live_output_to_a_full_disk_is_a_failure_not_a_bug(
    zmq_context: Context, store: Store, clock: FakeClock, command: list[str]
) -> None:
    """`raspy-kv ls > FILE` on a full disk: one line saying stdout could not be
    written and status 1, as dump and check say it, not "internal error ... a bug"
    (status 70)."""
    with _kv_server(zmq_context, store, clock) as (srv, server):
        srv.publisher.set(b"/k", b"1")
        wait_until(lambda: srv.counter("clone.published") == 1, what="the key")
        argv = [*command, *server]
        with Path("/dev/full").open("wb") as full:
            done = subprocess.run(
                [sys.executable, "-m", "raspy.cli.kv", *argv],
                stdout=full,
                stderr=subprocess.PIPE,
                timeout=20,
                check=False,
            )
    assert (done.returncode, done.stderr.decode()) == (
        1,
        f"raspy-kv {command[0]}: cannot write to stdout: No space left on device\n",
    )


@pytest.mark.parametrize("server", ["a b:5514", "*:5514"])
def test_a_server_zeromq_cannot_connect_to_is_a_usage_error(
    server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`*` (a bind address) or a host with a space: ValueError in the caller's
    thread, as the MDP clients say it (raspy.transport.sockets.check_endpoint), and
    raspy-kv's usage status 2 with one line; it was the agent thread's ZMQError, an
    "internal error" (70) for raspy-kv."""
    endpoint = f"tcp://{server.rpartition(':')[0]}:5515"
    with pytest.raises(ValueError, match=re.escape(f"endpoint {endpoint!a}")):
        CloneClient(server)
    with pytest.raises(ValueError, match=re.escape(f"endpoint {endpoint!a}")):
        fetch_snapshot(server)
    for command in (["get", "/k"], ["set", "/k", "1"]):
        assert kv.run([*command, "--server", server]) == 2
        assert capsys.readouterr().err == (
            f"raspy-kv {command[0]}: endpoint {endpoint!a}: expected e.g. tcp://HOST:PORT\n"
        )


def test_raspy_kv_ls_and_watch_take_a_subtree_that_is_not_utf8_as_its_bytes(
    zmq_context: Context,
    store: Store,
    clock: FakeClock,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """README: arguments are taken as the bytes the shell gave, UTF-8 or not; get,
    set and del did, while ls and watch refused such a SUBTREE as usage (2)."""
    with _kv_server(zmq_context, store, clock) as (srv, server):
        srv.publisher.set(b"/caf\xe9/x", b"1")
        wait_until(lambda: srv.counter("clone.published") == 1, what="the key")
        capsys.readouterr()
        assert kv.run(["ls", "/caf\udce9/", *server]) == 0  # b"/caf\xe9/"
        statuses = _watch_one(
            ["watch", "/caf\udce9/", "--count", "1", *server],
            lambda _index: srv.publisher.set(b"/caf\xe9/x", b"2"),
        )
        out, _ = capsys.readouterr()
    assert statuses == [0]
    first, second = out.splitlines()
    assert first == "0x2f636166e92f78 1"
    assert second.split()[1:] == ["0x2f636166e92f78", "2"]


def _watch_one(args: list[str], publish: Callable[[int], object]) -> list[int]:
    """`raspy-kv watch ... --count 1` on a thread, publishing (the index of each
    try) until the synced watcher has seen one; its exit statuses."""
    statuses: list[int] = []
    watcher = threading.Thread(target=lambda: statuses.append(kv.run(args)))
    watcher.start()
    deadline = time.monotonic() + 20
    index = 0
    while watcher.is_alive() and time.monotonic() < deadline:
        publish(index)
        watcher.join(timeout=0.1)
        index += 1
    return statuses


@contextmanager
def _kv_server(
    zmq_context: Context, store: Store, clock: FakeClock
) -> Iterator[tuple[CloneServer, list[str]]]:
    """A Clone server on a free port base (HUGZ every 0.1 s), and the `--server`
    arguments raspy-kv reaches it with."""
    base = free_port_base()
    endpoints = clone.Endpoints.from_port_base("127.0.0.1", base)
    config = CloneConfig(hugz_interval_s=0.1)
    with clone_server(
        zmq_context, store, clock, config=config, endpoints=endpoints
    ) as srv:
        yield srv, ["--server", f"127.0.0.1:{base}"]


def test_the_largest_value_the_config_allows_gets_through_the_network(
    zmq_context: Context, tmp_path: Path, clock: FakeClock
) -> None:
    """[clone] max_value_bytes is bounded by the largest frame the server's sockets
    take (ZMQ_MAXMSGSIZE, per frame): a value of that size, under a key of the most
    a client writes (255 bytes, §6.2) and one of the most the server takes (511,
    LMDB's limit, from a zguide-style agent), arrives, is published and is in a
    snapshot; one byte more (here on a server built past the check) never does."""
    most = clone.MAX_FRAME_BYTES
    store = Store.open(
        tmp_path / "big", StoreConfig(max_value_bytes=2 * most, map_size_initial_mb=64)
    )
    # one byte past what the config allows: the server's own limit is not what stops it
    config = CloneConfig(
        hugz_interval_s=0.1, max_key_bytes=511, max_value_bytes=most + 1
    )
    client_key, agent_key = b"/c" + b"k" * 253, b"/a" + b"k" * 509
    value = bytes(range(256)) * (most // 256)
    try:
        with clone_server(zmq_context, store, clock, config=config) as server:
            client = _client(zmq_context, server.endpoints)
            agent = zmq_context.socket(zmq.PUB)
            agent.setsockopt(zmq.LINGER, 0)
            agent.connect(server.endpoints.collector)
            try:
                client.wait_synced(5)
                client.set(client_key, value, confirm_timeout_s=10)
                frames = clone.kvset(agent_key, value, uuid.uuid4().bytes)

                def agent_sent() -> bool:  # a PUB drops until it is connected
                    if client.get(agent_key) is None:
                        agent.send_multipart(frames)
                    return client.get(agent_key) == value

                wait_until(agent_sent, what="the agent's value", timeout_s=10)
                assert client.get(client_key) == value
                taken = fetch_snapshot(server.endpoints, context=zmq_context)
                assert taken.items == {client_key: value, agent_key: value}
                # one byte more: the client refuses it (ValueError); an agent's
                # drops the agent's connection, and never arrives
                agent.send_multipart(
                    clone.kvset(b"/over", value + b"x", uuid.uuid4().bytes)
                )
                small = clone.kvset(b"/after", b"1", uuid.uuid4().bytes)

                def reconnected() -> bool:
                    if client.get(b"/after") is None:
                        agent.send_multipart(small)
                    return client.get(b"/after") == b"1"

                wait_until(reconnected, what="the agent's next value", timeout_s=10)
                assert client.get(b"/over") is None
            finally:
                agent.close()
                client.close()
    finally:
        store.close()


def test_a_callback_that_raises_is_logged_and_the_next_change_still_comes(
    zmq_context: Context, server: CloneServer
) -> None:
    """on_change: "an exception is logged and the next change still comes"."""
    client = _client(zmq_context, server.endpoints)
    seen: list[bytes] = []
    lock = threading.Lock()

    def fragile(change: Change) -> None:
        with lock:
            seen.append(change.key)
        if change.key == b"/bad":
            raise RuntimeError("the application's bug")

    client.on_change(fragile)
    try:
        client.wait_synced(5)
        with capture_logs() as logs:
            server.publisher.set(b"/bad", b"1")
            server.publisher.set(b"/good", b"2")

            def told() -> list[bytes]:
                with lock:
                    return list(seen)

            wait_until(lambda: told() == [b"/bad", b"/good"], what="both changes")
        assert client.get(b"/good") == b"2"
        failed = [e for e in logs if e["event"] == "clone_callback_failed"]
        assert [e["key"] for e in failed] == [b"/bad".hex()]
    finally:
        client.close()


def test_a_changes_iterator_without_a_timeout_ends_at_close(
    zmq_context: Context, server: CloneServer
) -> None:
    """changes(): "the iterator ends after timeout_s without a change (None: at
    close)", also when close() comes while another thread waits in it."""
    client = _client(zmq_context, server.endpoints)
    got: list[Change] = []
    try:
        client.wait_synced(5)
        changes = client.changes()
        server.publisher.set(b"/a", b"1")
        reader = threading.Thread(target=lambda: got.extend(changes))
        reader.start()
        wait_until(lambda: len(got) == 1, what="the change")
    finally:
        client.close()
    reader.join(timeout=5)
    assert not reader.is_alive()
    assert got == [Change(b"/a", 1, b"1", ())]
    assert list(client.changes()) == []  # one asked for after close ends at once
