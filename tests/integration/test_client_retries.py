"""Client against a raw ROUTER written from RFC 7 §client and RFC 18: Lazy Pirate.

The test thread plays the broker; the client runs in a pool thread that makes it.
That the client sent nothing more is read from its own log of sends
(support.sent_log): a send just before it closes a socket (LINGER 0) may never reach
the server, whose silence then proves nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import TypeVar

import pytest
import zmq
from structlog.testing import capture_logs
from support.sent_log import SentLogContext
from support.zmqctx import recv

from raspy.client import Client, ClientReply, ClientTimeout, MalformedReply, Version

Context = zmq.Context[zmq.Socket[bytes]]
T = TypeVar("T")
V01, V02, VMJ = Version.V01, Version.V02, Version.MAJORTOMO
TIMEOUT_S = 0.3  # per try; short so the three-try cases stay fast


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="client") as executor:
        yield executor


def run_client(
    pool: ThreadPoolExecutor,
    ctx: Context,
    endpoint: str,
    version: Version,
    call: Callable[[Client], T],
) -> Future[T]:
    def work() -> T:
        with Client(endpoint, version=version, timeout_s=TIMEOUT_S, context=ctx) as c:
            return call(c)

    return pool.submit(work)


def test_client_resends_on_a_new_socket_after_an_unanswered_try(
    zmq_context: Context,
    router: tuple[zmq.Socket[bytes], str],
    pool: ThreadPoolExecutor,
) -> None:
    """§2.3 Lazy Pirate: no reply in time -> close, new socket, same request again."""
    sock, endpoint = router
    future = run_client(
        pool, zmq_context, endpoint, V01, lambda c: c.request("echo", "hello")
    )
    first = recv(sock)
    assert first[1:] == [b"", b"MDPC01", b"echo", b"hello"]
    second = recv(sock)
    assert second[1:] == first[1:]
    assert second[0] != first[0]  # a new socket has a new routing id
    sock.send_multipart([first[0], b"", b"MDPC01", b"echo", b"stale"])
    sock.send_multipart([second[0], b"", b"MDPC01", b"echo", b"fresh"])
    assert future.result(timeout=5) == [b"fresh"]


@pytest.mark.parametrize("version", [V01, V02, VMJ], ids=str)
def test_client_raises_timeout_after_retries_sends_each_on_its_own_socket(
    logged_context: SentLogContext,
    router: tuple[zmq.Socket[bytes], str],
    pool: ThreadPoolExecutor,
    version: Version,
) -> None:
    """§2.3: give up after a number of tries (zguide: 3), raising ClientTimeout."""
    sock, endpoint = router
    future = run_client(
        pool, logged_context, endpoint, version, lambda c: c.request(b"nobody", b"x")
    )
    senders = {recv(sock)[0] for _ in range(3)}
    with pytest.raises(ClientTimeout, match=r"in 3 tries of 0\.3 s each"):
        future.result(timeout=5)
    assert len(senders) == 3
    # no fourth send (its socket closed with LINGER 0: the server might never see it)
    assert [socket for socket, _ in logged_context.sent()] == [0, 1, 2]


def test_tries_run_out_before_the_callers_deadline_say_the_tries(
    zmq_context: Context,
    router: tuple[zmq.Socket[bytes], str],
    pool: ThreadPoolExecutor,
) -> None:
    """request(until=...) whose tries all went unanswered well before `until`: the
    timeout says the tries, not the caller's deadline, which was not reached."""
    sock, endpoint = router

    def far_deadline(client: Client) -> list[bytes]:
        return client.request("svc", "q", until=time.monotonic() + 60, retries=2)

    future = run_client(pool, zmq_context, endpoint, V02, far_deadline)
    for _ in range(2):
        recv(sock)
    with pytest.raises(ClientTimeout, match=r"in 2 tries of 0\.3 s each$"):
        future.result(timeout=5)


Exchange = tuple[Version, list[bytes], list[list[bytes]]]  # request, then replies


@pytest.mark.parametrize(
    "exchange",
    [
        pytest.param(
            (
                V02,
                [b"MDPC02", b"\x01", b"svc", b"q"],
                [
                    [b"MDPC02", b"\x02", b"svc", b"a"],
                    [b"MDPC02", b"\x03", b"svc", b"b", b"c"],
                ],
            ),
            id="rfc18",
        ),
        pytest.param(
            (
                VMJ,
                [b"", b"MDPC02", b"\x02", b"svc", b"q"],
                [
                    [b"", b"MDPC02", b"\x03", b"a"],
                    [b"", b"MDPC02", b"\x04", b"b", b"c"],
                ],
            ),
            id="majortomo",
        ),
    ],
)
def test_client_collects_partials_then_final_in_order(
    zmq_context: Context,
    router: tuple[zmq.Socket[bytes], str],
    pool: ThreadPoolExecutor,
    exchange: Exchange,
) -> None:
    """§3.3/§3.4: PARTIAL bodies, then the FINAL body, frames in arrival order."""
    version, request_frames, replies = exchange
    sock, endpoint = router
    future = run_client(
        pool, zmq_context, endpoint, version, lambda c: c.request("svc", "q")
    )
    peer, *frames = recv(sock)
    assert frames == request_frames
    for reply in replies:
        sock.send_multipart([peer, *reply])
    assert future.result(timeout=5) == [b"a", b"b", b"c"]


def test_client_ignores_a_reply_for_another_service(
    zmq_context: Context,
    router: tuple[zmq.Socket[bytes], str],
    pool: ThreadPoolExecutor,
) -> None:
    """A reply for another service is not ours: the client waits on for its own."""
    sock, endpoint = router
    future = run_client(
        pool, zmq_context, endpoint, V02, lambda c: c.request("svc", "q")
    )
    peer = recv(sock)[0]
    sock.send_multipart([peer, b"MDPC02", b"\x03", b"other", b"no"])
    sock.send_multipart([peer, b"MDPC02", b"\x03", b"svc", b"yes"])
    assert future.result(timeout=5) == [b"yes"]


# a reply each version's client cannot decode: another dialect's, or no MDP at all
_MALFORMED = {
    V01: [b"MDPC01", b"svc", b"no empty frame"],
    V02: [b"", b"MDPC02", b"\x03", b"svc", b"majortomo's envelope"],
    VMJ: [b"garbage"],
}


@pytest.mark.parametrize("version", [V01, V02, VMJ], ids=str)
@pytest.mark.parametrize("streamed", [False, True], ids=["request", "parts"])
def test_a_malformed_reply_ends_the_request_without_a_resend(
    logged_context: SentLogContext,
    router: tuple[zmq.Socket[bytes], str],
    pool: ThreadPoolExecutor,
    version: Version,
    streamed: bool,
) -> None:
    """A reply that came but cannot be decoded ends the request with MalformedReply
    at once: asked again, the handler would run again and answer the same."""
    sock, endpoint = router

    def call(client: Client) -> object:
        if streamed:
            return list(client.request_parts("svc", "q"))
        return client.request("svc", "q")

    future = run_client(pool, logged_context, endpoint, version, call)
    peer = recv(sock)[0]
    sock.send_multipart([peer, *_MALFORMED[version]])
    with pytest.raises(MalformedReply, match="malformed reply from service 'svc'"):
        future.result(timeout=5)
    sent = [frames[-2:] for _, frames in logged_context.sent()]
    assert sent == [[b"svc", b"q"]]  # never sent again


def test_client_streams_parts_and_does_not_resend_once_a_part_arrived(
    logged_context: SentLogContext,
    router: tuple[zmq.Socket[bytes], str],
    pool: ThreadPoolExecutor,
) -> None:
    """§3.1: a resend after a PARTIAL would repeat it; the stream fails instead."""
    sock, endpoint = router
    parts: list[ClientReply] = []

    def stream(client: Client) -> None:
        parts.extend(client.request_parts("svc", "q"))

    future = run_client(pool, logged_context, endpoint, V02, stream)
    peer = recv(sock)[0]
    sock.send_multipart([peer, b"MDPC02", b"\x02", b"svc", b"a"])
    # one wait for the next part, not the tries the request was not sent again
    said = f"no more reply from service 'svc' in {TIMEOUT_S:g} s$"
    with pytest.raises(ClientTimeout, match=said):
        future.result(timeout=5)
    assert parts == [ClientReply(V02, b"svc", (b"a",), final=False)]
    assert logged_context.sent() == [(0, [b"MDPC02", b"\x01", b"svc", b"q"])]


def test_client_streams_parts_as_they_come(
    zmq_context: Context,
    router: tuple[zmq.Socket[bytes], str],
    pool: ThreadPoolExecutor,
) -> None:
    """§3.3: each PARTIAL is handed over before the FINAL arrives."""
    sock, endpoint = router
    future = run_client(
        pool, zmq_context, endpoint, V02, lambda c: list(c.request_parts("svc", "q"))
    )
    peer = recv(sock)[0]
    sock.send_multipart([peer, b"MDPC02", b"\x02", b"svc", b"a"])
    sock.send_multipart([peer, b"MDPC02", b"\x03", b"svc", b"b"])
    assert future.result(timeout=5) == [
        ClientReply(V02, b"svc", (b"a",), final=False),
        ClientReply(V02, b"svc", (b"b",), final=True),
    ]


def test_a_partial_does_not_stretch_the_callers_deadline(
    zmq_context: Context,
    router: tuple[zmq.Socket[bytes], str],
    pool: ThreadPoolExecutor,
) -> None:
    """request(until=...): the caller's deadline holds while PARTIALs come in too;
    each PARTIAL gave the reply a whole `timeout_s` more, past `until`."""
    sock, endpoint = router

    def ask() -> list[bytes]:
        with Client(endpoint, timeout_s=30, context=zmq_context) as client:
            return client.request("svc", "q", until=time.monotonic() + 0.5)

    future = pool.submit(ask)
    peer = recv(sock)[0]
    sock.send_multipart([peer, b"MDPC02", b"\x02", b"svc", b"a"])
    wait([future], timeout=0.4)  # a worker that streams slowly: paced, not awaited
    sock.send_multipart([peer, b"MDPC02", b"\x02", b"svc", b"b"])
    wait([future], timeout=0.3)  # past the caller's deadline
    sock.send_multipart([peer, b"MDPC02", b"\x03", b"svc", b"c"])
    with pytest.raises(ClientTimeout, match="caller's deadline"):
        future.result(timeout=5)


def test_client_refuses_a_second_request_while_one_is_outstanding(
    zmq_context: Context,
    router: tuple[zmq.Socket[bytes], str],
    pool: ThreadPoolExecutor,
) -> None:
    """§3.1: one request outstanding per client, exactly one FINAL per request."""
    sock, endpoint = router

    def overlap(client: Client) -> list[bytes]:
        stream = client.request_parts("svc", "q")
        first = next(stream)
        with pytest.raises(ValueError, match="outstanding"):
            client.request("svc", "again")
        return [*first.body, *(b for part in stream for b in part.body)]

    future = run_client(pool, zmq_context, endpoint, V02, overlap)
    peer = recv(sock)[0]
    sock.send_multipart([peer, b"MDPC02", b"\x02", b"svc", b"a"])
    sock.send_multipart([peer, b"MDPC02", b"\x03", b"svc", b"b"])
    assert future.result(timeout=5) == [b"a", b"b"]


def test_a_stream_read_on_after_its_client_closed_says_so(
    zmq_context: Context,
    router: tuple[zmq.Socket[bytes], str],
    pool: ThreadPoolExecutor,
) -> None:
    """Closing a client while a request is under way: reading its stream on raises the
    library's ValueError, as any use after close() does, not the ZMQError of the
    socket that close() took away."""
    sock, endpoint = router

    def close_midway() -> BaseException | None:
        client = Client(endpoint, timeout_s=TIMEOUT_S, context=zmq_context)
        parts = client.request_parts("svc", "q")
        next(parts)
        client.close()
        try:
            next(parts)
        except Exception as exc:  # noqa: BLE001  # which one is what is checked
            return exc
        return None

    future = pool.submit(close_midway)
    peer = recv(sock)[0]
    sock.send_multipart([peer, b"MDPC02", b"\x02", b"svc", b"a"])
    error = future.result(timeout=5)
    assert isinstance(error, ValueError)
    assert "closed" in str(error)


def test_client_refuses_a_request_without_body_and_use_after_close(
    zmq_context: Context, router: tuple[zmq.Socket[bytes], str]
) -> None:
    """§2.3: a REQUEST has at least one body frame."""
    _, endpoint = router
    client = Client(endpoint, context=zmq_context)
    with client, pytest.raises(ValueError, match="body frame"):
        client.request("svc")
    with pytest.raises(ValueError, match="closed"):
        client.request("svc", "q")


def test_a_per_call_retries_count_logs_each_resend(
    logged_context: SentLogContext,
    router: tuple[zmq.Socket[bytes], str],
    pool: ThreadPoolExecutor,
) -> None:
    """request(retries=N) counts for that call alone (its docstring), and each resend
    is logged as `request_retried` (README), also when the client was made with
    fewer retries: a client made with retries=1 resent twice unlogged."""

    def work() -> list[bytes]:
        with Client(
            endpoint, timeout_s=TIMEOUT_S, retries=1, context=logged_context
        ) as client:
            return client.request(b"nobody", b"x", retries=3)

    sock, endpoint = router
    with capture_logs() as logs:
        future = pool.submit(work)
        senders = {recv(sock)[0] for _ in range(3)}
        with pytest.raises(ClientTimeout, match=r"in 3 tries of 0\.3 s each"):
            future.result(timeout=5)
    assert len(senders) == 3
    retried = [e["count"] for e in logs if e["event"] == "request_retried"]
    assert retried == [1, 2]
