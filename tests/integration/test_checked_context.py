"""The tests' checked context: a socket left open fails the test, and nothing is
closed or destroyed under the term that is still running (libzmq aborts on that)."""

from __future__ import annotations

import threading

import pytest
import zmq
from support.zmqctx import ContextLeftOpen, checked_context


def test_checked_context_terminates_once_every_socket_is_closed() -> None:
    """A context whose sockets are all closed terminates within the timeout."""
    with checked_context(term_timeout_s=5.0) as ctx:
        ctx.socket(zmq.DEALER).close(linger=0)
    assert ctx.closed


def _leave_two_sockets_open(
    made: list[zmq.Socket[bytes]], contexts: list[zmq.Context[zmq.Socket[bytes]]]
) -> None:
    """A DEALER made here and a PAIR made by thread `maker` stay open; a ROUTER not."""
    with checked_context(term_timeout_s=0.2) as ctx:
        contexts.append(ctx)
        made.append(ctx.socket(zmq.DEALER))
        maker = threading.Thread(
            target=lambda: made.append(ctx.socket(zmq.PAIR)), name="maker"
        )
        maker.start()
        maker.join(5)
        ctx.socket(zmq.ROUTER).close(linger=0)


def test_a_socket_left_open_is_named_and_the_hung_term_is_left_alone() -> None:
    """The error names each open socket and the thread that made it; the context
    is not destroyed under the term still running (libzmq aborts on that)."""
    made: list[zmq.Socket[bytes]] = []
    contexts: list[zmq.Context[zmq.Socket[bytes]]] = []
    with pytest.raises(ContextLeftOpen) as caught:
        _leave_two_sockets_open(made, contexts)
    (ctx,) = contexts
    try:
        assert caught.value.open_sockets == [
            "DEALER made by MainThread",
            "PAIR made by maker",
        ]
        # the helper closed nothing: the sockets are still their owners'
        assert [sock.closed for sock in made] == [False, False]
        assert not ctx.closed
    finally:
        for sock in made:
            sock.close(linger=0)
    # the term still running ends by itself once the last socket is closed
    caught.value.terminating.join(5)
    assert not caught.value.terminating.is_alive()
    assert ctx.closed
