"""LocalClient over a real edge: requests go out through the outbox as `<owner>/r<id>`,
the edge routes the replies back to the owner actor, and the client matches each to
its request (RFC 18 client side, docs/protocols.md §3.6 for in-process peers)."""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import zmq
from support.edge_fixtures import EdgeHandle
from support.reply_owner import Owner
from support.wait import wait_until
from support.zmqctx import dealer, recv

from raspy.actors import messages as msgs
from raspy.actors.worker import (
    LocalClient,
    LocalReply,
    RejectedReply,
    UnroutableReply,
    local_peer_id,
)
from raspy.errors import MalformedMessage

SERVICE = b"slow"
LATER = b"board.relay"  # a service with no worker until the test makes one
TIMEOUT_S = 5.0
WORKERS = 3


@dataclass(frozen=True)
class Request:
    """A request as a raw worker got it."""

    worker: zmq.Socket[bytes]
    client: bytes
    body: list[bytes]


class Harness:
    """A client attached to the edge, and raw MDP 0.2 workers of SERVICE that answer
    when the test says, in the order the test says (a worker has one request at a
    time: several in flight need as many workers)."""

    def __init__(self, edge: EdgeHandle) -> None:
        self.edge = edge
        self.received: queue.SimpleQueue[msgs.MdpFrames] = queue.SimpleQueue()
        self.owner = Owner.start(self.received)
        self.client: LocalClient[str] = LocalClient(
            edge.outbox, local_peer_id("test.client"), timeout_s=TIMEOUT_S
        )
        self.client.attach(edge.ref, self.owner, 5.0)
        self.workers = [dealer(edge.context, edge.endpoint) for _ in range(WORKERS)]
        for worker in self.workers:
            worker.send_multipart([b"MDPW02", b"\x01", SERVICE])
        self._wait_service()

    def _wait_service(self) -> None:
        probe = dealer(self.edge.context, self.edge.endpoint)
        try:

            def has_worker() -> bool:
                probe.send_multipart([b"MDPC02", b"\x01", b"mmi.service", SERVICE])
                return recv(probe)[-1] == b"200"

            wait_until(has_worker, what="a worker for the test service")
        finally:
            probe.close()

    def take_request(self) -> Request:
        """The next request any worker got (heartbeats passed over)."""
        poller = zmq.Poller()
        for worker in self.workers:
            poller.register(worker, zmq.POLLIN)
        while True:
            ready = dict(poller.poll(3000))
            if not ready:
                raise AssertionError("no request reached a worker within 3 s")
            for worker in self.workers:
                if worker not in ready:
                    continue
                frames = worker.recv_multipart()
                if frames[:2] == [b"MDPW02", b"\x02"]:
                    assert frames[3] == b""
                    return Request(worker, frames[2], frames[4:])
                assert frames == [b"MDPW02", b"\x05"]  # RFC 18 HEARTBEAT

    @staticmethod
    def answer(request: Request, *body: bytes, final: bool = True) -> None:
        command = b"\x04" if final else b"\x03"
        request.worker.send_multipart([b"MDPW02", command, request.client, b"", *body])

    def next_reply(self) -> msgs.MdpFrames:
        try:
            return self.received.get(timeout=3)
        except queue.Empty:
            raise AssertionError("no reply reached the owner within 3 s") from None

    def close(self) -> None:
        self.client.detach(self.edge.ref)
        for worker in self.workers:
            worker.close()
        self.owner.stop(timeout=5)


@pytest.fixture
def harness(edge: EdgeHandle) -> Iterator[Harness]:
    made = Harness(edge)
    yield made
    made.close()


def test_each_reply_is_matched_to_its_request_among_several_in_flight(
    harness: Harness,
) -> None:
    """RFC 18: replies carry no request id but the peer's; three requests in flight
    are answered in reverse order, and each reply finds its own context.

    Each answer waits for the reply before it: the three come from three workers, so
    three connections, and the broker's ROUTER reads its connections in turn (fair
    queuing), not in the order messages were sent on them."""
    client = harness.client
    now = time.monotonic()  # the edge's clock: the broker drops it at now + timeout
    ids = {
        name: client.request(SERVICE, [name.encode()], name, now=now)
        for name in ("first", "second", "third")
    }
    assert sorted(ids.values()) == [1, 2, 3]
    requests = sorted((harness.take_request() for _ in ids), key=lambda r: r.body)
    assert [r.body for r in requests] == [[b"first"], [b"second"], [b"third"]]
    matched = []
    for request in reversed(requests):
        harness.answer(request, b"200", request.body[0].upper())
        reply = client.reply(*_frames(harness.next_reply()))
        assert isinstance(reply, LocalReply)
        matched.append((client.take(reply.request_id), reply.body))
    assert matched == [
        ("third", (b"200", b"THIRD")),
        ("second", (b"200", b"SECOND")),
        ("first", (b"200", b"FIRST")),
    ]
    assert client.waiting() == 0


def test_a_partial_is_not_a_reply_and_the_final_is(harness: Harness) -> None:
    """RFC 18: a PARTIAL leaves the request waiting; the FINAL answers it."""
    client = harness.client
    request_id = client.request(SERVICE, [b"q"], "asked", now=time.monotonic())
    request = harness.take_request()
    harness.answer(request, b"part", final=False)
    harness.answer(request, b"end")
    assert client.reply(*_frames(harness.next_reply())) is None
    assert client.waiting() == 1
    final = client.reply(*_frames(harness.next_reply()))
    assert final == LocalReply(request_id, (b"end",))
    assert client.take(request_id) == "asked"


def test_a_late_reply_to_an_expired_request_is_ignored(harness: Harness) -> None:
    """An unanswered request is forgotten after timeout_s; its reply, when it comes
    at last, matches nothing."""
    client = harness.client
    now = time.monotonic()
    request_id = client.request(SERVICE, [b"late"], "late", now=now)
    request = harness.take_request()
    assert client.expire(now + TIMEOUT_S - 0.001) == []
    assert client.expire(now + TIMEOUT_S) == ["late"]
    assert client.waiting() == 0
    harness.answer(request, b"200")
    reply = client.reply(*_frames(harness.next_reply()))
    assert reply == LocalReply(request_id, (b"200",))
    assert client.take(request_id) is None


def test_expiry_frees_only_the_requests_past_their_deadline(edge: EdgeHandle) -> None:
    """Deadlines are `now + timeout_s` at the request; expire() takes those due."""
    client: LocalClient[str] = LocalClient(
        edge.outbox, local_peer_id("x"), timeout_s=2.0
    )
    client.request(SERVICE, [b"a"], "a", now=0.0)
    client.request(SERVICE, [b"b"], "b", now=1.0)
    client.request(SERVICE, [b"c"], "c", now=1.5)
    assert client.expire(2.5) == ["a"]
    assert client.waiting() == 2
    assert client.forget(lambda context: context == "c") == ["c"]
    assert client.expire(3.0) == ["b"]
    assert client.waiting() == 0


def test_a_reply_for_a_peer_naming_no_request_is_unroutable(harness: Harness) -> None:
    """Only `<owner>/r<digits>` names a request; anything else the owner gets is
    told apart, not guessed at."""
    client = harness.client
    for tail in (b"", b"/x5", b"/r", b"/r-1", b"/5"):
        peer = client.owner + tail
        frames = [b"MDPC02", b"\x04", SERVICE, b"200"]
        assert client.reply(peer, frames) == UnroutableReply(peer)


def test_frames_that_are_no_client_reply_are_rejected_with_the_request_id(
    harness: Harness,
) -> None:
    """RFC 18: a client gets MDPC02 PARTIAL or FINAL; anything else is malformed."""
    peer = harness.client.owner + b"/r7"
    outcome = harness.client.reply(peer, [b"MDPW02", b"\x04", b"x"])
    assert isinstance(outcome, RejectedReply)
    assert outcome.request_id == 7
    assert isinstance(outcome.error, MalformedMessage)


def test_send_uses_the_callers_id_and_keeps_nothing(harness: Harness) -> None:
    """A core that keeps its own requests (the scenario engine, the MQTT bridge)
    chooses the id; the reply comes back under it."""
    client = harness.client
    client.send(41, SERVICE, [b"mine"], TIMEOUT_S)
    request = harness.take_request()
    assert request.body == [b"mine"]
    assert client.waiting() == 0
    harness.answer(request, b"ok")
    delivered = harness.next_reply()
    assert delivered.peer_id == client.owner + b"/r41"
    assert client.reply(*_frames(delivered)) == LocalReply(41, (b"ok",))
    assert client.take(41) is None  # not in the table: a core's id is the core's


def test_a_request_its_client_gave_up_on_is_not_run_by_a_worker_that_comes_later(
    edge: EdgeHandle,
) -> None:
    """A command to a board that is away: the sender reports no answer after its
    timeout, and the board that registers after that never gets the command; a
    request sent after it, still awaited, is the first the board gets."""
    client: LocalClient[str] = LocalClient(
        edge.outbox, local_peer_id("impatient"), timeout_s=0.2
    )
    sent_at = time.monotonic()
    client.request(LATER, [b"toggle"], "toggle", now=sent_at)

    def dropped() -> bool:
        stats = edge.ref.ask(msgs.GetStats(), timeout=5)
        assert isinstance(stats, dict)
        return stats.get("broker.dropped.abandoned") == 1

    wait_until(dropped, what="the request dropped once its client gave up")
    assert time.monotonic() >= sent_at + 0.2
    assert client.expire(time.monotonic()) == ["toggle"]
    patient: LocalClient[str] = LocalClient(
        edge.outbox, local_peer_id("patient"), timeout_s=TIMEOUT_S
    )
    patient.request(LATER, [b"status"], "status", now=time.monotonic())
    board = dealer(edge.context, edge.endpoint)
    try:
        board.send_multipart([b"MDPW02", b"\x01", LATER])
        frames = recv(board)
        while frames == [b"MDPW02", b"\x05"]:  # RFC 18 HEARTBEAT
            frames = recv(board)
        assert frames[:2] == [b"MDPW02", b"\x02"]
        assert frames[4:] == [b"status"]
    finally:
        board.close()


def test_request_needs_a_timeout(edge: EdgeHandle) -> None:
    client: LocalClient[str] = LocalClient(edge.outbox, local_peer_id("y"))
    with pytest.raises(ValueError, match="timeout_s"):
        client.request(SERVICE, [b"a"], "a", now=0.0)


def _frames(delivered: msgs.MdpFrames) -> tuple[bytes, tuple[bytes, ...]]:
    return delivered.peer_id, delivered.frames
