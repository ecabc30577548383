"""HubProbe against a raw ROUTER that plays the hub's broker: what an mmi.workers
answer may hold, and what poll() makes of it (raspy.client.hub_probe)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import zmq
from structlog.testing import capture_logs
from support.late_send import handshake_first_context, refusing_hub
from support.wait import wait_until
from support.zmqctx import recv

from raspy.client.hub_probe import HubAnswer, HubProbe

Context = zmq.Context[zmq.Socket[bytes]]


@pytest.mark.parametrize(
    "table",
    [b'{"pi.gpio": {"idle": 1e999}}', b'{"pi.gpio": {"busy": -1e999}}'],
    ids=["idle-infinite", "busy-infinite"],
)
def test_a_count_json_reads_as_infinite_is_no_answer_and_poll_goes_on(
    zmq_context: Context, router: tuple[zmq.Socket[bytes], str], table: bytes
) -> None:
    """JSON's 1e999 is float infinity, which int() refuses with OverflowError: it
    came out of poll(); now that reply is not the answer, and the next one is."""
    sock, endpoint = router
    probe = HubProbe(zmq_context, endpoint, b"pi.*", curve=None, timeout_s=5.0)
    try:
        peer, *_ = recv(sock)
        sock.send_multipart([peer, b"MDPC02", b"\x03", b"mmi.workers", b"200", table])
        assert probe.poll(0.2) is None  # read and set aside, nothing raised
        good = b'{"pi.gpio": {"idle": 1, "busy": 1}}'
        sock.send_multipart([peer, b"MDPC02", b"\x03", b"mmi.workers", b"200", good])
        answer = wait_until(lambda: probe.poll(0.05), what="the second answer")
        assert answer == HubAnswer(workers={"pi.gpio": 2})
    finally:
        probe.close()


def _probe_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "raspy-hub-probe-io"]


def test_the_question_is_worked_on_a_runner_of_its_own_that_ends_with_the_answer(
    zmq_context: Context, router: tuple[zmq.Socket[bytes], str]
) -> None:
    """The probe's sockets are an I/O runner's: the answer is read while its caller
    looks elsewhere (no poll() here), and the runner's thread ends with it."""
    sock, endpoint = router
    probe = HubProbe(zmq_context, endpoint, b"pi.*", curve=None, timeout_s=5.0)
    try:
        assert _probe_threads(), "no runner works the question"
        peer, *_ = recv(sock)
        good = b'{"pi.gpio": {"idle": 1}}'
        sock.send_multipart([peer, b"MDPC02", b"\x03", b"mmi.workers", b"200", good])
        wait_until(lambda: not _probe_threads(), what="the runner to end, answered")
        assert probe.poll() == HubAnswer(workers={"pi.gpio": 1})
    finally:
        probe.close()


def test_an_endpoint_the_socket_refuses_is_its_error_as_before(
    zmq_context: Context,
) -> None:
    """The connect fails on the probe's runner thread: the caller still gets the
    socket's own error, and no thread or socket is left (the guards check). The
    caller reports it: the runner logged it first, with a traceback
    (runner_failed), which raspy-poller's user saw before the error's own line."""
    with capture_logs() as logs, pytest.raises(zmq.ZMQError):
        HubProbe(zmq_context, "tcp://", b"pi.*", curve=None, timeout_s=5.0)
    assert not _probe_threads()
    assert logs == []


def test_a_refusal_taken_in_before_the_question_is_sent_is_answered(
    tmp_path: Path,
) -> None:
    """A loaded board's probe thread may reach its send only after libzmq took in the
    hub's refusal and dropped the connection's pipe: the send blocked for ever, the
    runner's start gave up after its 10 s, and raspy-poller ended with status 70
    (a bug) instead of 2 and the refusal's line. Now the refusal is the answer."""
    with handshake_first_context() as context, refusing_hub(context, tmp_path) as hub:
        started = time.monotonic()
        probe = HubProbe(
            context, hub.endpoint, b"pi.*", curve=hub.refused, timeout_s=5.0
        )
        try:
            answer = wait_until(lambda: probe.poll(0.05), what="the probe's answer")
            assert answer is not None
            assert "refused this board's key" in (answer.refused or "")
            assert time.monotonic() - started < 5.0  # the refusal, not the timeout
        finally:
            probe.close()
