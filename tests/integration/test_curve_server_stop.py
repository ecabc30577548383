"""CurveServer.stop() closes the ZAP handler's sockets (its pipe and the ZAP socket)
before the context terminates (docs/protocols.md §8.2), even if its thread died."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq
import zmq.auth
from support.wait import wait_until

from raspy.config import SecurityConfig
from raspy.transport.curve import CurveServer, start_curve_server

Context = zmq.Context[zmq.Socket[bytes]]
_TERM_S = 5.0
_ZAP_ENDPOINT = "inproc://zeromq.zap.01"  # RFC 27


@pytest.fixture
def security(tmp_path: Path) -> SecurityConfig:
    keys_dir = tmp_path / "authorized"
    keys_dir.mkdir()
    zmq.auth.create_certificates(keys_dir, "client")
    _, secret_file = zmq.auth.create_certificates(tmp_path, "hub")
    return SecurityConfig(secret_file, str(keys_dir))


@pytest.fixture
def context() -> Iterator[Context]:
    """Terminated by the test itself, on a thread, so a hang shows as a failure."""
    ctx: Context = zmq.Context()
    yield ctx
    assert ctx.closed, "the test did not terminate its context"


def _terminates(ctx: Context) -> bool:
    terminating = threading.Thread(target=ctx.term, name="test-term", daemon=True)
    terminating.start()
    terminating.join(_TERM_S)
    return not terminating.is_alive()


def _kill_zap_thread(ctx: Context, server: CurveServer) -> None:
    """A ZAP request (RFC 27) whose CURVE key is 5 bytes, not 32: pyzmq's handler
    raises on it and its thread dies. Only a peer in this process can send one."""
    request = ctx.socket(zmq.REQ)
    try:
        request.connect(_ZAP_ENDPOINT)
        request.send_multipart(
            [b"1.0", b"1", b"", b"127.0.0.1", b"", b"CURVE", b"short"]
        )
        wait_until(
            lambda: not server.authenticator.is_alive(), what="the ZAP thread to die"
        )
    finally:
        request.close(linger=0)


def test_stop_closes_the_zap_sockets_so_the_context_terminates(
    context: Context, security: SecurityConfig
) -> None:
    """§8.2: the authenticator is stopped after the sockets close, before term."""
    server = start_curve_server(context, security)
    server.stop()
    server.stop()  # idempotent
    assert _terminates(context)


# the thread this test kills dies of an exception, as a bug in the handler would
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_stop_closes_the_zap_sockets_even_after_the_thread_died(
    context: Context, security: SecurityConfig
) -> None:
    """§8.2 as above, when the ZAP thread is already gone: its pipe end and the ZAP
    socket are still open, and only stop() can close them."""
    server = start_curve_server(context, security)
    _kill_zap_thread(context, server)
    server.stop()
    assert _terminates(context), "the ZAP pipe or socket was left open"
    server.stop()  # idempotent, after term too
