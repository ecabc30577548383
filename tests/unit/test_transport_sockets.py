"""connect_socket (raspy/transport/sockets.py): a socket it could not connect is
closed, so the context's term() is never held by it."""

from __future__ import annotations

import pytest
import zmq

from raspy.transport.sockets import connect_socket, term_within


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
