"""The edge over real sockets when a peer is gone without a word: a worker killed
without DISCONNECT (a board that rebooted) is forgotten at the first send that cannot
reach it (docs/protocols.md §1.3), the in-process workers of an actor that died at
the first message that meets it; their request goes to another worker at once."""

from __future__ import annotations

import queue
from collections.abc import Callable, Iterator

import pytest
import zmq
from support.recording_actor import QueueRecorder
from support.wait import wait_until
from support.zmqctx import dealer, recv

from raspy.actors.edge import EdgeLoop, EdgeSettings
from raspy.actors.messages import AttachLocal, MdpFrames
from raspy.actors.worker import local_peer_id
from raspy.clock import SystemClock
from raspy.cores.broker import BrokerCore
from raspy.protocol import mdp
from raspy.protocol.mmi import WorkerCounts
from raspy.stats import Stats

_BOARD = b"board-1"  # the routing id of the worker that goes away


class _HandDriven:
    """An EdgeLoop turned by the test's own thread (the runner's register() is all
    it uses), so that the test may also look into its ROUTER."""

    def __init__(self, context: zmq.Context[zmq.Socket[bytes]]) -> None:
        self.core = BrokerCore()
        self.stats = Stats()
        settings = EdgeSettings("tcp://127.0.0.1:*", linger_ms=0)
        self.loop = EdgeLoop(context, settings, self.core, SystemClock(), self.stats)
        self._handlers: list[Callable[[int], None]] = []
        self.loop.open(self)  # type: ignore[arg-type]  # register() is all it uses

    def register(self, _source: object, handler: Callable[[int], None]) -> None:
        self._handlers.append(handler)

    def turn(self) -> None:
        for handler in self._handlers:
            handler(0)

    def turn_until(self, check: Callable[[], object], what: str) -> None:
        def turned() -> object:
            self.turn()
            return check()

        wait_until(turned, what=what)

    def router_lost(self, peer: bytes) -> bool:
        """True once the ROUTER has dropped `peer`'s connection (a send raises)."""
        router = self.loop._router  # what only the ROUTER knows
        assert router is not None
        try:
            router.send_multipart([peer, b""], zmq.NOBLOCK)
        except zmq.ZMQError as exc:
            return exc.errno == zmq.EHOSTUNREACH
        return False


@pytest.fixture
def edge_by_hand(
    zmq_context: zmq.Context[zmq.Socket[bytes]],
) -> Iterator[_HandDriven]:
    edge = _HandDriven(zmq_context)
    try:
        yield edge
    finally:
        edge.loop.close()


def _ready(
    context: zmq.Context[zmq.Socket[bytes]], edge: _HandDriven, routing_id: bytes = b""
) -> zmq.Socket[bytes]:
    """A 0.1 worker of `svc` that has sent READY."""
    worker = dealer(context, edge.loop.bound_endpoint, routing_id)
    worker.send_multipart(mdp.encode(mdp.Ready(mdp.Version.V01, b"svc")))
    return worker


def test_a_request_for_a_worker_gone_without_disconnect_goes_to_the_next_one(
    zmq_context: zmq.Context[zmq.Socket[bytes]], edge_by_hand: _HandDriven
) -> None:
    """The request was held by the gone worker for the busy timeout (900 s), then
    carried out 15 minutes late; now the next idle worker gets it at once."""
    edge, core = edge_by_hand, edge_by_hand.core
    board = _ready(zmq_context, edge, routing_id=_BOARD)
    edge.turn_until(lambda: core.has_workers(b"svc"), "the board's READY")
    board.close()  # killed: no DISCONNECT
    wait_until(lambda: edge.router_lost(_BOARD), what="the ROUTER to drop the board")
    spare = _ready(zmq_context, edge)
    client = dealer(zmq_context, edge.loop.bound_endpoint)
    try:
        edge.turn_until(lambda: core.worker_counts()[b"svc"].idle == 2, "2 workers")
        client.send_multipart(
            mdp.encode(mdp.ClientRequest(mdp.Version.V01, b"svc", (b"switch on",)))
        )
        edge.turn_until(lambda: spare.poll(0), "the request at the spare worker")
        request = spare.recv_multipart()
        assert request[-1] == b"switch on"
        assert core.stats()["unreachable_workers"] == 1
        assert edge.stats.get("edge.send_unroutable") == 1
        assert core.worker_counts()[b"svc"].busy == 1
        assert core.worker_counts()[b"svc"].idle == 0
        spare.send_multipart([b"", b"MDPW01", b"\x03", request[3], b"", b"on"])
        edge.turn_until(lambda: client.poll(0), "the reply")
        assert recv(client) == [b"", b"MDPC01", b"svc", b"on"]
    finally:
        spare.close()
        client.close()


def test_a_reply_to_a_client_gone_is_counted_and_the_worker_serves_on(
    zmq_context: zmq.Context[zmq.Socket[bytes]], edge_by_hand: _HandDriven
) -> None:
    edge, core = edge_by_hand, edge_by_hand.core
    worker = _ready(zmq_context, edge)
    client = dealer(zmq_context, edge.loop.bound_endpoint, routing_id=b"client-1")
    try:
        edge.turn_until(lambda: core.has_workers(b"svc"), "the worker's READY")
        client.send_multipart(
            mdp.encode(mdp.ClientRequest(mdp.Version.V01, b"svc", (b"job",)))
        )
        edge.turn_until(lambda: worker.poll(0), "the request at the worker")
        request = worker.recv_multipart()
        client.close()  # gave up
        wait_until(lambda: edge.router_lost(b"client-1"), what="the client dropped")
        worker.send_multipart([b"", b"MDPW01", b"\x03", request[3], b"", b"done"])
        edge.turn_until(
            lambda: edge.stats.get("edge.send_unroutable") == 1, "the reply refused"
        )
        assert core.worker_counts()[b"svc"].idle == 1
        assert core.stats()["unreachable_workers"] == 0
    finally:
        worker.close()


@pytest.mark.parametrize("batched", [False, True], ids=["told", "batched"])
def test_a_request_for_an_actor_dead_without_a_word_goes_to_a_live_worker(
    zmq_context: zmq.Context[zmq.Socket[bytes]],
    edge_by_hand: _HandDriven,
    batched: bool,
) -> None:
    """An in-process worker's actor died after READY (Titanic's on_start failing
    after it): its workers, which never expire, each took one request for ever; now
    the first request that meets the dead actor forgets them all and goes to a live
    worker."""
    edge, core = edge_by_hand, edge_by_hand.core
    dead_owner, live_owner = local_peer_id("dead"), local_peer_id("live")
    dead = QueueRecorder.start(queue.Queue())
    live_inbox: queue.Queue[object] = queue.Queue()
    live = QueueRecorder.start(live_inbox)
    client = dealer(zmq_context, edge.loop.bound_endpoint)
    try:
        edge.loop.execute(AttachLocal(dead_owner, dead, batched=batched))
        edge.loop.execute(AttachLocal(live_owner, live))
        ready = mdp.encode(mdp.Ready(mdp.Version.V02, b"svc"))
        for index in range(3):  # idle longest: the first to get a request
            edge.loop.outbox.send_mdp(local_peer_id("dead", f"w{index}"), ready)
        edge.loop.outbox.send_mdp(live_owner, ready)
        edge.turn_until(lambda: core.worker_counts()[b"svc"].idle == 4, "4 workers")
        dead.stop()
        client.send_multipart(
            mdp.encode(mdp.ClientRequest(mdp.Version.V01, b"svc", (b"switch on",)))
        )
        edge.turn_until(lambda: not live_inbox.empty(), "the request at a live actor")
        delivered = live_inbox.get_nowait()
        assert isinstance(delivered, MdpFrames)
        assert delivered.frames[-1] == b"switch on"
        assert core.worker_counts() == {b"svc": WorkerCounts(0, 1, 0, 1, 0)}
        assert edge.stats.get("edge.local_dead") == 1
    finally:
        live.stop()
        client.close()
