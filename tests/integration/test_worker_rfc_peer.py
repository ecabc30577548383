"""Worker against a raw ROUTER written from RFC 7 §worker and RFC 18 (docs/protocols.md §2.4).

The test thread plays the broker and also calls the worker's recv/reply: with the
I/O thread (the default) the worker keeps heartbeating in between.
"""

from __future__ import annotations

import pytest
import zmq
from support.mdp_frames import DISCONNECT, HEARTBEAT, finals, requests
from support.wait import wait_until
from support.zmqctx import recv

from raspy.client import Version, Worker

Context = zmq.Context[zmq.Socket[bytes]]
Router = zmq.Socket[bytes]
V01, V02, VMJ = Version.V01, Version.V02, Version.MAJORTOMO
INTERVAL_S = 0.1
C1 = b"\x00\x80\x00\x00\x01"

READY = {
    V01: [b"", b"MDPW01", b"\x01", b"svc"],
    V02: [b"MDPW02", b"\x01", b"svc"],
    VMJ: [b"", b"MDPW02", b"\x01", b"svc"],
}
REQUEST = requests(b"hi")
FINAL = finals(b"HI")
VERSIONS = pytest.mark.parametrize("version", [V01, V02, VMJ], ids=str)
MODES = pytest.mark.parametrize("threaded", [True, False], ids=["io", "direct"])


def make_worker(
    ctx: Context, endpoint: str, version: Version = V02, *, threaded: bool = True
) -> Worker:
    return Worker(
        endpoint,
        "svc",
        version=version,
        heartbeat_interval_s=INTERVAL_S,
        reconnect_initial_s=INTERVAL_S,
        heartbeat_while_busy=threaded,
        linger_ms=100,
        context=ctx,
    )


def next_other_than(router: Router, skip: list[bytes]) -> list[bytes]:
    """The next message whose frames (after the routing id) are not `skip`."""
    for _ in range(100):
        message = recv(router)
        if message[1:] != skip:
            return message
    raise AssertionError("only heartbeats arrived")


def ready_again(worker: Worker, router: Router) -> list[bytes]:
    """Let the worker act (a direct worker acts only inside recv()) until it sends
    READY on a new connection; that READY message, routing id first."""
    seen: list[list[bytes]] = []

    def _ready() -> bool:
        worker.recv(timeout_s=0.05)
        while router.poll(0):
            seen.append(recv(router))
        return any(frames[1:] == READY[V02] for frames in seen)

    wait_until(_ready, what="READY on a new connection")
    return next(frames for frames in seen if frames[1:] == READY[V02])


@VERSIONS
@MODES
def test_worker_sends_ready_then_answers_request_in_its_version(
    zmq_context: Context,
    router: tuple[Router, str],
    version: Version,
    threaded: bool,
) -> None:
    """§2.4/§3.3/§3.4: READY once; REQUEST in, REPLY/FINAL out with the address."""
    sock, endpoint = router
    with make_worker(zmq_context, endpoint, version, threaded=threaded) as worker:
        peer, *ready = recv(sock)
        assert ready == READY[version]
        sock.send_multipart([peer, *REQUEST[version]])
        assert worker.recv(timeout_s=3) == (C1, [b"hi"])
        worker.reply(C1, [b"HI"])
        assert next_other_than(sock, HEARTBEAT[version]) == [peer, *FINAL[version]]
    assert next_other_than(sock, HEARTBEAT[version]) == [peer, *DISCONNECT[version]]


@pytest.mark.parametrize("show", [False, True], ids=["quiet", "shown"])
def test_busy_heartbeats_are_shown_at_a_connections_first_request_only_if_asked(
    zmq_context: Context, router: tuple[Router, str], show: bool
) -> None:
    """§2.6 raspy: by default a worker's first message after its first REQUEST is the
    reply (interval long: no timed HEARTBEAT comes between); with
    show_busy_heartbeats two HEARTBEATs come first, and only at that first request."""
    sock, endpoint = router
    with Worker(
        endpoint,
        "svc",
        heartbeat_interval_s=30.0,
        show_busy_heartbeats=show,
        linger_ms=100,
        context=zmq_context,
    ) as worker:
        peer = recv(sock)[0]
        for _ in range(2):
            sock.send_multipart([peer, *REQUEST[V02]])
            assert worker.recv(timeout_s=3) == (C1, [b"hi"])
            worker.reply(C1, [b"HI"])
        beats = [[peer, *HEARTBEAT[V02]]] * 2 if show else []
        answers = [[peer, *FINAL[V02]]] * 2
        assert [recv(sock) for _ in range(len(beats) + 2)] == [*beats, *answers]


@pytest.mark.slow
def test_worker_heartbeats_while_the_application_is_busy(
    zmq_context: Context, router: tuple[Router, str]
) -> None:
    """§2.6 raspy: the worker's I/O thread heartbeats while a request is in progress."""
    sock, endpoint = router
    with make_worker(zmq_context, endpoint) as worker:
        peer = recv(sock)[0]
        sock.send_multipart([peer, *REQUEST[V02]])
        assert worker.recv(timeout_s=3) == (C1, [b"hi"])
        # Busy: no reply yet, and the broker says nothing, yet heartbeats go on.
        assert [recv(sock) for _ in range(5)] == [[peer, *HEARTBEAT[V02]]] * 5
        partial = [peer, b"MDPW02", b"\x03", C1, b"", b"half"]
        worker.reply(C1, [b"half"], final=False)
        assert next_other_than(sock, HEARTBEAT[V02]) == partial
        worker.reply(C1, [b"HI"])
        assert next_other_than(sock, HEARTBEAT[V02]) == [peer, *FINAL[V02]]


@pytest.mark.slow
@MODES
def test_worker_starts_over_on_a_new_socket_after_disconnect(
    zmq_context: Context, router: tuple[Router, str], threaded: bool
) -> None:
    """§2.4: after DISCONNECT, a new socket and a new READY."""
    sock, endpoint = router
    with make_worker(zmq_context, endpoint, threaded=threaded) as worker:
        first = recv(sock)[0]
        sock.send_multipart([first, *HEARTBEAT[V02]])
        sock.send_multipart([first, *DISCONNECT[V02]])
        again = ready_again(worker, sock)
        assert again[0] != first


@pytest.mark.slow
@MODES
def test_worker_reconnects_when_the_broker_stays_silent(
    zmq_context: Context, router: tuple[Router, str], threaded: bool
) -> None:
    """§2.6/§2.7: liveness x interval of silence, a delay, then a new socket + READY."""
    sock, endpoint = router
    with make_worker(zmq_context, endpoint, threaded=threaded) as worker:
        first = recv(sock)[0]
        again = ready_again(worker, sock)  # 3 x 0.1 s of silence, then 0.1 s delay
        assert again[0] != first


def test_worker_drops_a_reply_to_a_request_of_a_lost_connection(
    zmq_context: Context, router: tuple[Router, str]
) -> None:
    """§2.4: the broker forgot the request when the worker reconnected."""
    sock, endpoint = router
    with make_worker(zmq_context, endpoint, threaded=False) as worker:
        first = recv(sock)[0]
        sock.send_multipart([first, *HEARTBEAT[V02]])
        sock.send_multipart([first, *REQUEST[V02]])
        assert worker.recv(timeout_s=3) == (C1, [b"hi"])
        sock.send_multipart([first, *DISCONNECT[V02]])
        again = ready_again(worker, sock)
        assert again[0] != first
        worker.reply(C1, [b"late"])  # for the lost connection: dropped, not sent
    assert next_other_than(sock, HEARTBEAT[V02]) == [again[0], *DISCONNECT[V02]]


def test_worker_serve_stops_after_max_requests_or_stop_event(
    zmq_context: Context, router: tuple[Router, str]
) -> None:
    """serve(): the handler's return value is the FINAL body."""
    sock, endpoint = router
    with make_worker(zmq_context, endpoint) as worker:
        peer = recv(sock)[0]
        sock.send_multipart([peer, *REQUEST[V02]])
        worker.serve(lambda body: [frame.upper() for frame in body], max_requests=1)
        assert next_other_than(sock, HEARTBEAT[V02]) == [peer, *FINAL[V02]]


def test_worker_refuses_partial_in_mdp01_and_empty_replies(
    zmq_context: Context, router: tuple[Router, str]
) -> None:
    """§2.4: 0.1 has one REPLY, with at least one body frame."""
    _, endpoint = router
    with make_worker(zmq_context, endpoint, V01) as worker:
        with pytest.raises(ValueError, match="no partial"):
            worker.reply(C1, [b"x"], final=False)
        with pytest.raises(ValueError, match="body frame"):
            worker.reply(C1, [])
    with pytest.raises(ValueError, match="closed"):
        worker.recv(timeout_s=0)


@VERSIONS
@MODES
@pytest.mark.parametrize("busy", [False, True], ids=["idle", "busy"])
def test_after_disconnect_the_worker_sends_nothing_more_on_that_socket(
    zmq_context: Context,
    router: tuple[Router, str],
    version: Version,
    threaded: bool,
    busy: bool,
) -> None:
    """RFC 7 / RFC 18: a worker that receives DISCONNECT sends no further command to
    the broker on that socket (no DISCONNECT back, no HEARTBEAT, not the reply it was
    working on), closes it and starts over on a new socket with one READY. Timed
    HEARTBEATs are kept out by a long interval."""
    sock, endpoint = router
    with Worker(
        endpoint,
        "svc",
        version=version,
        heartbeat_interval_s=30.0,
        reconnect_initial_s=INTERVAL_S,
        heartbeat_while_busy=threaded,
        linger_ms=100,
        context=zmq_context,
    ) as worker:
        first, *ready = recv(sock)
        assert ready == READY[version]
        if busy:
            sock.send_multipart([first, *REQUEST[version]])
            assert worker.recv(timeout_s=3) == (C1, [b"hi"])
        sock.send_multipart([first, *DISCONNECT[version]])
        seen: list[list[bytes]] = []

        def _new_connection() -> bool:
            worker.recv(timeout_s=0.05)
            while sock.poll(0):
                seen.append(recv(sock))
            return any(frames[0] != first for frames in seen)

        wait_until(_new_connection, what="READY on a new connection")
        if busy:
            worker.reply(C1, [b"late"])  # for the old connection: never sent
        worker.recv(timeout_s=0.2)
        while sock.poll(100):
            seen.append(recv(sock))
        assert [frames[1:] for frames in seen] == [READY[version]]
        assert seen[0][0] != first
