"""connect_socket (raspy/transport/sockets.py): a socket it could not connect is
closed, so the context's term() is never held by it."""

from __future__ import annotations

import pytest
import zmq
from structlog.testing import capture_logs

from raspy.client.mdp import Client
from raspy.transport.sockets import (
    ROUTER_MIN_LINGER_MS,
    check_endpoint,
    connect_socket,
    router_linger_ms,
    term_within,
)


@pytest.mark.parametrize(
    ("endpoint", "error"),
    [("tcp://h\udcff:5555", ValueError), ("nonsense://x", zmq.ZMQError)],
)
def test_a_socket_that_cannot_connect_is_closed(
    endpoint: str, error: type[Exception]
) -> None:
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    with pytest.raises(error):
        connect_socket(context, zmq.DEALER, endpoint)
    assert term_within(context, 5.0) is None, "a socket left open holds term()"


@pytest.mark.parametrize(
    "endpoint",
    [
        "tcp://127.0.0.1:5514",
        "tcp://localhost:5514",
        "tcp://pi-kitchen.local:5514",
        "tcp://[::1]:5514",
        "tcp://192.168.1.20;127.0.0.1:5514",
        "ipc:///run/raspy/hub",
        "inproc://hub",
    ],
)
def test_an_endpoint_to_connect_to_passes_the_check(endpoint: str) -> None:
    check_endpoint(endpoint)


@pytest.mark.parametrize(
    "endpoint",
    [
        "127.0.0.1:5514",
        "tcp://127.0.0.1",
        "udp://127.0.0.1:5514",
        "tcp://-:5514",
        "tcp://*:5514",
        "tcp://hub:0",
        "tcp://hub:70000",
        "tcp://hub:5514/x",
        "ipc://",
        "",
    ],
)
def test_an_endpoint_libzmq_would_refuse_is_a_value_error_naming_it(
    endpoint: str,
) -> None:
    with pytest.raises(ValueError, match=r"expected e\.g\. tcp://HOST:PORT") as raised:
        check_endpoint(endpoint)
    assert repr(endpoint) in str(raised.value)


@pytest.mark.timeout(10)
def test_a_client_whose_context_keeps_a_socket_no_one_can_close_still_closes() -> None:
    """A Ctrl-C that lands while pyzmq makes a socket leaves one that no object of
    the client holds: the client's close() then waited in term() for ever, and the
    script hung at its exit. Here the socket is made on the client's context by
    hand, as the interrupted call would have left it."""
    client = Client("tcp://127.0.0.1:9", timeout_s=0.1, retries=1)
    left_open = client._context.socket(zmq.DEALER)
    with capture_logs() as logs:
        client.close()
    left_open.close(linger=0)  # now term() on its thread can end
    assert [e["event"] for e in logs] == ["zmq_context_left_open"]


@pytest.mark.parametrize(
    ("configured", "expected"),
    [
        (0, ROUTER_MIN_LINGER_MS),
        (ROUTER_MIN_LINGER_MS + 1, ROUTER_MIN_LINGER_MS + 1),
        (-1, -1),
    ],
)
def test_a_router_lingers_at_least_the_least_and_an_infinite_linger_is_kept(
    configured: int, expected: int
) -> None:
    assert router_linger_ms(configured) == expected
