"""The broker over real sockets: raw peers written from RFC 7, RFC 18 and RFC 8."""

from __future__ import annotations

import queue
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pykka
import pytest
import zmq
from support.edge_fixtures import EdgeHandle
from support.mdp_spec import mmi_service
from support.recording_actor import QueueRecorder
from support.wait import wait_until
from support.zmqctx import dealer, recv

from raspy.actors.edge import EdgeActor
from raspy.actors.messages import (
    AttachLocal,
    DetachLocal,
    GetStats,
    HandleLocally,
    LocalRequests,
    MdpFrames,
    UnwatchServices,
)
from raspy.actors.worker import EchoWorkerActor, local_peer_id
from raspy.client import Client
from raspy.cores.broker_settings import BrokerSettings
from raspy.protocol.mdp import ClientRequest, client_reply_frames
from raspy.transport.outbox import Outbox


def _ready_worker(edge: EdgeHandle, frames: list[bytes]) -> zmq.Socket[bytes]:
    worker = dealer(edge.context, edge.endpoint)
    worker.send_multipart(frames)
    return worker


def _wait_service(edge: EdgeHandle, service: bytes) -> None:
    """Poll mmi.service (RFC 8) until the service has a worker."""
    probe = dealer(edge.context, edge.endpoint)
    try:

        def _has_worker() -> bool:
            probe.send_multipart([b"MDPC02", b"\x01", b"mmi.service", service])
            return recv(probe)[-1] == b"200"

        wait_until(_has_worker, what=f"a worker for {service!r}")
    finally:
        probe.close()


def test_rfc7_client_is_served_by_rfc7_worker_through_the_edge(
    edge: EdgeHandle,
) -> None:
    """RFC 7 §client/worker: REQUEST goes to the worker with the client address, REPLY back."""
    worker = _ready_worker(edge, [b"", b"MDPW01", b"\x01", b"echo"])
    client = dealer(edge.context, edge.endpoint)
    try:
        _wait_service(edge, b"echo")
        client.send_multipart([b"", b"MDPC01", b"echo", b"hello", b"world"])
        request = recv(worker)
        assert request[:3] == [b"", b"MDPW01", b"\x02"]
        assert request[4:] == [b"", b"hello", b"world"]
        worker.send_multipart([b"", b"MDPW01", b"\x03", request[3], b"", b"HELLO"])
        assert recv(client) == [b"", b"MDPC01", b"echo", b"HELLO"]
    finally:
        worker.close()
        client.close()


def test_rfc18_client_is_served_by_rfc7_worker_as_one_final(edge: EdgeHandle) -> None:
    """docs/protocols.md §3.6: a 0.1 REPLY becomes one 0.2 FINAL with the same body."""
    worker = _ready_worker(edge, [b"", b"MDPW01", b"\x01", b"svc"])
    client = dealer(edge.context, edge.endpoint)
    try:
        _wait_service(edge, b"svc")
        client.send_multipart([b"MDPC02", b"\x01", b"svc", b"x"])
        request = recv(worker)
        worker.send_multipart([b"", b"MDPW01", b"\x03", request[3], b"", b"y"])
        assert recv(client) == [b"MDPC02", b"\x03", b"svc", b"y"]
    finally:
        worker.close()
        client.close()


def test_rfc7_client_gets_partials_and_final_of_rfc18_worker_in_one_reply(
    edge: EdgeHandle,
) -> None:
    """docs/protocols.md §3.6 raspy: PARTIAL bodies then the FINAL body, one 0.1 REPLY."""
    worker = _ready_worker(edge, [b"MDPW02", b"\x01", b"parts"])
    client = dealer(edge.context, edge.endpoint)
    try:
        _wait_service(edge, b"parts")
        client.send_multipart([b"", b"MDPC01", b"parts", b"q"])
        request = recv(worker)
        assert request[:2] == [b"MDPW02", b"\x02"]
        address = request[2]
        worker.send_multipart([b"MDPW02", b"\x03", address, b"", b"p1"])
        worker.send_multipart([b"MDPW02", b"\x03", address, b"", b"p2"])
        worker.send_multipart([b"MDPW02", b"\x04", address, b"", b"end"])
        assert recv(client) == [b"", b"MDPC01", b"parts", b"p1", b"p2", b"end"]
    finally:
        worker.close()
        client.close()


def test_a_client_whose_worker_left_mid_stream_gets_one_clean_stream_on_its_retry(
    edge: EdgeHandle,
) -> None:
    """docs/protocols.md §3.7 raspy: raspy's client, whose worker sent a PARTIAL then
    DISCONNECT, collected the failed attempt's part followed by the next worker's
    whole stream ([p1, p1, f]); the request is dropped now, the client's retry (a new
    socket) is served by the next worker alone."""
    leaving = _ready_worker(edge, [b"MDPW02", b"\x01", b"cut"])
    staying: zmq.Socket[bytes] | None = None
    with (
        ThreadPoolExecutor(max_workers=1) as pool,
        Client(edge.endpoint, timeout_s=1.0, context=edge.context) as client,
    ):
        try:
            _wait_service(edge, b"cut")
            future = pool.submit(client.request, b"cut", b"job")
            address = recv(leaving)[2]
            staying = _ready_worker(edge, [b"MDPW02", b"\x01", b"cut"])
            leaving.send_multipart([b"MDPW02", b"\x03", address, b"", b"p1"])
            leaving.send_multipart([b"MDPW02", b"\x06"])
            request = recv(staying)  # the retry, or (before) the request sent again
            assert request[:2] == [b"MDPW02", b"\x02"]
            assert request[4:] == [b"job"]
            staying.send_multipart([b"MDPW02", b"\x03", request[2], b"", b"p1"])
            staying.send_multipart([b"MDPW02", b"\x04", request[2], b"", b"f"])
            assert future.result(timeout=10) == [b"p1", b"f"]
            stats = edge.ref.ask(GetStats(), timeout=5)
            assert isinstance(stats, dict)
            assert stats["broker.dropped.partial_lost"] == 1
        finally:
            leaving.close()
            if staying is not None:
                staying.close()


def test_in_process_echo_worker_serves_every_dialect(edge: EdgeHandle) -> None:
    """docs/architecture.md: an actor worker is indistinguishable from an external one."""
    EchoWorkerActor.start(edge.ref, edge.outbox, b"local.echo", "echo")
    client = dealer(edge.context, edge.endpoint)
    try:
        _wait_service(edge, b"local.echo")
        client.send_multipart([b"", b"MDPC01", b"local.echo", b"a", b"b"])
        assert recv(client) == [b"", b"MDPC01", b"local.echo", b"a", b"b"]
        client.send_multipart([b"MDPC02", b"\x01", b"local.echo", b"c"])
        assert recv(client) == [b"MDPC02", b"\x03", b"local.echo", b"c"]
        client.send_multipart([b"", b"MDPC02", b"\x02", b"local.echo", b"d"])
        assert recv(client) == [b"", b"MDPC02", b"\x04", b"d"]
    finally:
        client.close()


def test_mmi_answers_404_for_unknown_and_501_for_unimplemented(
    edge: EdgeHandle,
) -> None:
    """RFC 8 and docs/protocols.md §4 table."""
    client = dealer(edge.context, edge.endpoint)
    try:
        client.send_multipart([b"", b"MDPC01", b"mmi.service", b"nobody"])
        assert recv(client) == [b"", b"MDPC01", b"mmi.service", b"404"]
        client.send_multipart([b"", b"MDPC01", b"mmi.foo", b"x"])
        assert recv(client) == [b"", b"MDPC01", b"mmi.foo", b"501"]
    finally:
        client.close()


@pytest.mark.parametrize(
    "garbage",
    [
        [b""],
        [b"HELLO"],
        [b"MDPC01", b"svc", b"x"],
        [b"", b"MDPW01", b"\x09"],
        [b"MDPW02", b"\x05", b"extra"],
        [b"", b"MDPC01", b"", b"x"],
    ],
    ids=["empty", "bad_header", "no_envelope", "bad_command", "extra", "empty_service"],
)
def test_broker_drops_garbage_and_keeps_serving(
    edge: EdgeHandle, garbage: list[bytes]
) -> None:
    """docs/protocols.md §2.8: invalid input is dropped and counted; nobody else notices."""
    EchoWorkerActor.start(edge.ref, edge.outbox, b"e", "echo")
    attacker = dealer(edge.context, edge.endpoint)
    client = dealer(edge.context, edge.endpoint)
    try:
        attacker.send_multipart(garbage)
        _wait_service(edge, b"e")
        client.send_multipart([b"MDPC02", b"\x01", b"e", b"still"])
        assert recv(client) == [b"MDPC02", b"\x03", b"e", b"still"]
        # the broker reads a peer's messages in order and the ROUTER sends them in
        # order: the first the attacker gets is the answer to what it sent after
        attacker.send_multipart([b"MDPC02", b"\x01", b"e", b"after"])
        assert recv(attacker) == [b"MDPC02", b"\x03", b"e", b"after"]
        stats = edge.ref.ask(GetStats(), timeout=5)
        assert isinstance(stats, dict)
        assert sum(v for k, v in stats.items() if k.startswith("broker.rejected")) >= 1
    finally:
        attacker.close()
        client.close()


def test_replies_to_a_client_that_does_not_read_are_dropped_and_counted(
    edge: EdgeHandle,
) -> None:
    """docs/protocols.md §1.3: the broker never blocks on a send and counts what it
    drops. A ROUTER without ROUTER_MANDATORY drops at a full pipe in silence, so
    `edge.send_dropped` stayed 0 however much was lost."""
    client = dealer(edge.context, edge.endpoint)
    client.setsockopt(zmq.RCVHWM, 1)
    client.setsockopt(zmq.RCVBUF, 4096)
    request = [b"MDPC02", b"\x01", b"mmi.services", b""]
    try:

        def dropped() -> float:
            for _ in range(2_000):  # never read: the broker's pipe to it fills up
                client.send_multipart(request)
            return edge.stats.get("edge.send_dropped")

        wait_until(dropped, what="a counted drop", timeout_s=20)
        sender = dealer(edge.context, edge.endpoint)  # the others are served still
        try:
            sender.send_multipart([b"MDPC02", b"\x01", b"mmi.x", b"?"])
            assert recv(sender) == [b"MDPC02", b"\x03", b"mmi.x", b"501"]
        finally:
            sender.close()
    finally:
        client.close()


@pytest.mark.parametrize(
    "broker_settings",
    [BrokerSettings(heartbeat_interval_s=0.02, heartbeat_liveness=10_000)],
)
def test_a_send_to_a_peer_gone_is_counted_as_unroutable(edge: EdgeHandle) -> None:
    """§1.3: a message for a peer whose connection is gone (here a HEARTBEAT to a
    worker that closed its socket without DISCONNECT, long before it would expire)
    is dropped and counted, the worker is forgotten at once, and the broker goes
    on."""
    worker = _ready_worker(edge, [b"MDPW02", b"\x01", b"gone"])
    _wait_service(edge, b"gone")
    worker.close()
    wait_until(
        lambda: edge.stats.get("edge.send_unroutable"), what="a counted unroutable send"
    )
    # forgotten, and MMI still answered
    assert mmi_service(edge.context, edge.endpoint, b"gone") == b"404"
    stats = edge.ref.ask(GetStats(), timeout=5)
    assert isinstance(stats, dict)
    assert stats["broker.unreachable_workers"] == 1


def test_edge_sends_disconnect_to_workers_when_it_stops(edge: EdgeHandle) -> None:
    """RFC 7: either side may DISCONNECT; raspyd does so on SIGTERM."""
    worker = _ready_worker(edge, [b"MDPW02", b"\x01", b"bye"])
    try:
        _wait_service(edge, b"bye")
        edge.ref.stop(block=True, timeout=5)
        assert recv(worker) == [b"MDPW02", b"\x06"]
    finally:
        worker.close()


def test_one_attach_routes_every_sub_peer_of_an_actor_with_its_peer_id(
    edge: EdgeHandle,
) -> None:
    """An actor attached as `name` gets the frames for `name/…` peers, each tagged with
    the peer the broker addressed (how Titanic owns its workers and slots)."""
    inbox: queue.SimpleQueue[object] = queue.SimpleQueue()
    ref = QueueRecorder.start(inbox)
    edge.ref.ask(AttachLocal(local_peer_id("owner"), ref), timeout=5)
    worker = local_peer_id("owner", "w1")
    edge.outbox.send_mdp(worker, [b"MDPW02", b"\x01", b"sub"])
    client = dealer(edge.context, edge.endpoint)
    try:
        _wait_service(edge, b"sub")
        client.send_multipart([b"MDPC02", b"\x01", b"sub", b"x"])
        delivered = inbox.get(timeout=5)
        assert isinstance(delivered, MdpFrames)
        assert delivered.peer_id == worker
        assert list(delivered.frames[:2]) == [b"MDPW02", b"\x02"]
        assert delivered.frames[3:] == (b"", b"x")
    finally:
        client.close()


def test_an_in_process_peer_name_may_not_contain_the_route_separator() -> None:
    with pytest.raises(ValueError, match="has no '/'"):
        local_peer_id("a/b")


def test_a_told_detach_or_unwatch_never_stops_the_edge(edge: EdgeHandle) -> None:
    """Actors tell DetachLocal, UnwatchServices and HandleLocally(ref=None) as they
    stop, and nobody waits for the answer: even with the edge's I/O thread gone (as if stuck or failed), the
    edge actor takes them and goes on answering its supervisor."""
    actor = edge.ref._actor_weakref()  # fault injection: end its I/O thread
    assert isinstance(actor, EdgeActor)
    actor._runner.stop()
    edge.ref.tell(DetachLocal(b"gone"))
    edge.ref.tell(UnwatchServices(edge.ref))
    edge.ref.tell(HandleLocally(b"titanic.request", None))
    assert edge.ref.ask("still there?", timeout=5) is None  # logged as unexpected
    assert edge.ref.is_alive()
    assert actor.io_alive is False


class _SlowHandler(pykka.ThreadingActor):
    """A local handler that answers only when told to: its requests stay in hand."""

    def __init__(self, outbox: Outbox) -> None:
        super().__init__()
        self._outbox = outbox
        self.held: list[tuple[bytes, ClientRequest]] = []

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, LocalRequests):
            self.held.extend(message.requests)
        elif message == "held":
            return len(self.held)
        elif message == "answer all":
            records: list[bytes] = []
            for client, request in self.held:
                frames = client_reply_frames(request.version, SERVICE, request.body)
                records += (SERVICE, client, b"%d" % len(frames), *frames)
            self.held.clear()
            self._outbox.send_local_replies(records)
        return None


SERVICE = b"local.echo"


def _queued(edge: EdgeHandle) -> int:
    stats = edge.ref.ask(GetStats(), timeout=5)
    assert isinstance(stats, dict)
    return int(stats["broker.queued"])


def test_requests_past_a_handlers_capacity_wait_and_all_get_answers(
    edge: EdgeHandle,
) -> None:
    """No worker at all, capacity 2, six clients: two are handed at once, the other
    four wait in the broker's queue and are handed as the answers come back."""
    handler = _SlowHandler.start(edge.outbox)
    clients = [dealer(edge.context, edge.endpoint) for _ in range(6)]
    try:
        edge.ref.ask(HandleLocally(SERVICE, handler, 2), timeout=5)
        for n, client in enumerate(clients):
            client.send_multipart([b"MDPC02", b"\x01", SERVICE, b"%d" % n])
        wait_until(
            lambda: _queued(edge) == 4,
            what="four requests queued",
        )
        assert handler.ask("held") == 2
        poller = zmq.Poller()
        for client in clients:
            poller.register(client, zmq.POLLIN)
        answered: set[bytes] = set()
        deadline = time.monotonic() + 10
        while len(answered) < len(clients) and time.monotonic() < deadline:
            handler.ask("answer all")  # what it holds now; the freed places refill
            for client, _ in poller.poll(100):
                frames = client.recv_multipart()
                assert frames[:3] == [b"MDPC02", b"\x03", SERVICE]
                answered.add(frames[-1])
        assert answered == {b"%d" % n for n in range(6)}
        assert _queued(edge) == 0
    finally:
        for client in clients:
            client.close(linger=0)
        handler.stop()
