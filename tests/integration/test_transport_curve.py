"""make_socket with CURVE keys (docs/protocols.md §8.2): client and worker reach a CURVE server."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import zmq
from support.sent_log import SentLogContext
from support.zmqctx import recv
from zmq.utils.monitor import recv_monitor_message

from raspy.client import Client, ClientTimeout, CurveKeys, Worker
from raspy.transport.sockets import make_socket

Context = zmq.Context[zmq.Socket[bytes]]
Router = zmq.Socket[bytes]
_HANDSHAKES = (
    zmq.EVENT_HANDSHAKE_SUCCEEDED
    | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
    | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
    | zmq.EVENT_HANDSHAKE_FAILED_AUTH
)


@pytest.fixture
def server_keys() -> tuple[bytes, bytes]:
    return zmq.curve_keypair()


@pytest.fixture
def curve_router(
    zmq_context: Context, server_keys: tuple[bytes, bytes]
) -> Iterator[tuple[Router, str]]:
    public, secret = server_keys
    sock = make_socket(
        zmq_context, zmq.ROUTER, linger_ms=0, curve=CurveKeys(public, secret)
    )
    sock.bind("tcp://127.0.0.1:*")
    try:
        yield sock, sock.getsockopt_string(zmq.LAST_ENDPOINT)
    finally:
        sock.close()


def client_keys(server_public: bytes) -> CurveKeys:
    public, secret = zmq.curve_keypair()
    return CurveKeys(public, secret, server_key=server_public)


def test_client_talks_to_a_curve_server_it_knows_the_key_of(
    zmq_context: Context,
    curve_router: tuple[Router, str],
    server_keys: tuple[bytes, bytes],
) -> None:
    """§8.2: the client sets curve_serverkey; the traffic is the plain MDP frames."""
    sock, endpoint = curve_router
    keys = client_keys(server_keys[0])
    with ThreadPoolExecutor(max_workers=1) as pool:

        def call() -> list[bytes]:
            with Client(endpoint, context=zmq_context, curve=keys) as client:
                return client.request("svc", "hi")

        future = pool.submit(call)
        peer, *frames = recv(sock)
        assert frames == [b"MDPC02", b"\x01", b"svc", b"hi"]
        sock.send_multipart([peer, b"MDPC02", b"\x03", b"svc", b"ok"])
        assert future.result(timeout=5) == [b"ok"]


def test_client_with_a_wrong_server_key_never_gets_through(
    logged_context: SentLogContext, curve_router: tuple[Router, str]
) -> None:
    """§8.2: a handshake with the wrong server key fails; nothing is delivered."""
    sock, endpoint = curve_router
    keys = client_keys(zmq.curve_keypair()[0])
    monitor = sock.get_monitor_socket(_HANDSHAKES)
    try:
        with (
            Client(
                endpoint, context=logged_context, curve=keys, timeout_s=2, retries=1
            ) as c,
            pytest.raises(ClientTimeout),
        ):
            c.request("svc", "hi")
        handshakes = []
        while monitor.poll(0):
            handshakes.append(recv_monitor_message(monitor)["event"])
    finally:
        sock.disable_monitor()
        monitor.close(linger=0)
    # it was sent, and the server saw the client's handshakes fail, none succeed: a
    # message comes over a connection whose handshake succeeded, or not at all
    assert logged_context.sent() == [(0, [b"MDPC02", b"\x01", b"svc", b"hi"])]
    assert handshakes, "the client never reached the server"
    assert zmq.EVENT_HANDSHAKE_SUCCEEDED not in handshakes, handshakes
    assert not sock.poll(0)


def test_worker_registers_with_a_curve_server(
    zmq_context: Context,
    curve_router: tuple[Router, str],
    server_keys: tuple[bytes, bytes],
) -> None:
    """§8.2 applied to MDP workers: READY arrives over the encrypted connection."""
    sock, endpoint = curve_router
    keys = client_keys(server_keys[0])
    with Worker(endpoint, "svc", context=zmq_context, curve=keys, linger_ms=0):
        assert recv(sock)[1:] == [b"MDPW02", b"\x01", b"svc"]


def test_curve_keys_must_be_z85_text() -> None:
    """§8.1: keys are 40 Z85 characters."""
    public, secret = zmq.curve_keypair()
    with pytest.raises(ValueError, match="server_key: expected 40 Z85 bytes, got 32"):
        CurveKeys(public, secret, server_key=b"\x00" * 32)
    # 40 bytes that are no Z85 key: libzmq's EINVAL at the socket named no file
    for bad in (b"\x00" * 40, b"#" * 40, b"%nSc1" * 8):
        with pytest.raises(ValueError, match="server_key: not a Z85 key"):
            CurveKeys(public, secret, server_key=bad)
    assert CurveKeys(public, secret, server_key=b"%nSc0" * 8).server_key
