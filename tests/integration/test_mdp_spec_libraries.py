"""Conformance audit of raspy's MDP Client and Worker against raspy's own broker, in
every dialect and across dialects (RFC 7, RFC 18, docs/protocols.md §3.4-§3.6), and of
the Worker's connection rules: a new socket and READY after DISCONNECT, after a broker
restart and after the broker expired it. Against majortomo's broker:
tests/integration/test_client_worker_majortomo.py.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
import zmq
from support.edge_fixtures import EdgeHandle
from support.mdp_spec import (
    ClockedEdge,
    Context,
    clocked_edge,
    mmi_service,
    wait_status,
)
from support.wait import wait_until

from raspy.actors import edge as edge_mod
from raspy.client import Client, Version, Worker
from raspy.clock import SystemClock
from raspy.cores.broker import BrokerCore
from raspy.cores.broker_settings import BrokerSettings
from raspy.stats import Stats

FAST_S = 0.2  # worker heartbeat interval and first reconnect delay


@contextmanager
def serving(
    context: Context,
    endpoint: str,
    service: bytes,
    version: Version,
    run: Callable[[Worker, threading.Event], None],
) -> Iterator[None]:
    """A Worker made and used in its own thread (one owner per socket)."""
    stop = threading.Event()
    failures: list[BaseException] = []

    def main() -> None:
        try:
            with Worker(
                endpoint,
                service,
                version=version,
                heartbeat_interval_s=FAST_S,
                reconnect_initial_s=FAST_S,
                linger_ms=0,
                context=context,
            ) as worker:
                run(worker, stop)
        except Exception as exc:  # noqa: BLE001  # reported by the test thread
            failures.append(exc)

    thread = threading.Thread(target=main, name="test-worker")
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=10)
        assert not thread.is_alive()
    assert not failures, failures


def streaming(worker: Worker, stop: threading.Event) -> None:
    """Answer each request with a PARTIAL per body frame (0.2 only) and a FINAL."""
    while not stop.is_set():
        request = worker.recv(0.05)
        if request is None:
            continue
        client, body = request
        if worker.version is not Version.V01:
            for frame in body:
                worker.reply(client, [frame.upper()], final=False)
        worker.reply(client, [b"end", *body])


VERSIONS = [Version.V01, Version.V02, Version.MAJORTOMO]


@pytest.mark.parametrize("worker_version", VERSIONS)
@pytest.mark.parametrize("client_version", VERSIONS)
def test_our_client_and_worker_talk_through_our_broker_in_any_dialect_pair(
    edge: EdgeHandle, client_version: Version, worker_version: Version
) -> None:
    """docs/protocols.md §3.6 table: every client version is served by every worker
    version; PARTIALs reach 0.2/majortomo clients one by one, and a 0.1 client in one
    REPLY (PARTIAL bodies, then the FINAL body)."""
    with serving(edge.context, edge.endpoint, b"s", worker_version, streaming):
        wait_status(edge.context, edge.endpoint, b"s", b"200")
        with Client(
            edge.endpoint, version=client_version, timeout_s=3, context=edge.context
        ) as client:
            parts = [] if worker_version is Version.V01 else [b"A", b"B"]
            expected = [*parts, b"end", b"a", b"b"]
            assert client.request(b"s", b"a", b"b") == expected
            replies = list(client.request_parts(b"s", b"a", b"b"))
    if client_version is Version.V01:
        assert [(r.body, r.final) for r in replies] == [(tuple(expected), True)]
    else:
        finals = [r.final for r in replies]
        assert finals == [False] * len(parts) + [True]
        assert [frame for r in replies for frame in r.body] == expected


def test_our_client_asks_mmi_in_every_dialect(edge: EdgeHandle) -> None:
    """RFC 8 through our client: 200/404/501 bodies in 0.1, RFC 18 and majortomo."""
    with serving(edge.context, edge.endpoint, b"here", Version.V02, streaming):
        wait_status(edge.context, edge.endpoint, b"here", b"200")
        for version in VERSIONS:
            with Client(
                edge.endpoint, version=version, timeout_s=3, context=edge.context
            ) as client:
                assert client.request(b"mmi.service", b"here") == [b"200"]
                assert client.request(b"mmi.service", b"nowhere") == [b"404"]
                assert client.request(b"mmi.nothing", b"x") == [b"501"]


def _bind_edge(context: Context, endpoint: str) -> EdgeHandle:
    """A real-clock edge bound to `endpoint`, retried while the port is being freed."""
    started: list[EdgeHandle] = []

    def start() -> bool:
        try:
            ref, bound, outbox = edge_mod.start_edge(
                context,
                edge_mod.EdgeSettings(endpoint, linger_ms=0),
                BrokerCore(BrokerSettings(heartbeat_interval_s=FAST_S)),
                SystemClock(),
                Stats(),
            )
        except Exception:  # noqa: BLE001  # EADDRINUSE from the runner's start
            return False
        started.append(EdgeHandle(ref, bound, outbox, Stats(), context))
        return True

    wait_until(start, what=f"an edge bound to {endpoint}")
    return started[0]


def echo(worker: Worker, stop: threading.Event) -> None:
    worker.serve(lambda body: body, stop=stop)


@pytest.mark.parametrize("version", VERSIONS)
def test_our_worker_registers_again_after_our_broker_restarts(
    zmq_context: Context, version: Version
) -> None:
    """RFC 7 Opening and Closing: on DISCONNECT the worker closes its socket and
    reconnects on a new one with READY; this is how it re-registers after a broker
    restart (the stopping broker sends DISCONNECT, docs/protocols.md §2.4)."""
    first = _bind_edge(zmq_context, "tcp://127.0.0.1:*")
    endpoint = first.endpoint
    with serving(zmq_context, endpoint, b"again", version, echo):
        wait_status(zmq_context, endpoint, b"again", b"200")
        first.ref.stop(block=True, timeout=5)
        second = _bind_edge(zmq_context, endpoint)
        try:
            wait_status(zmq_context, endpoint, b"again", b"200")
            with Client(
                endpoint, version=version, timeout_s=3, context=zmq_context
            ) as client:
                assert client.request(b"again", b"back") == [b"back"]
        finally:
            second.ref.stop(block=True, timeout=5)


@pytest.fixture
def clocked(zmq_context: Context) -> Iterator[ClockedEdge]:
    with clocked_edge(zmq_context, BrokerSettings(heartbeat_interval_s=1.0)) as edge:
        yield edge


def test_our_worker_registers_again_after_the_broker_expired_it(
    clocked: ClockedEdge,
) -> None:
    """docs/protocols.md §2.6 raspy: the broker expires a silent worker silently; the
    worker's next HEARTBEAT is answered with DISCONNECT, and RFC 7 makes it start over
    on a new socket with READY. The worker is single-threaded (zguide style): it is
    silent while the caller does not call recv()."""
    endpoint = clocked.endpoint
    worker = Worker(
        endpoint,
        b"lapse",
        heartbeat_interval_s=FAST_S,
        reconnect_initial_s=FAST_S,
        heartbeat_while_busy=False,
        linger_ms=0,
        context=clocked.context,
    )
    try:
        wait_status(clocked.context, endpoint, b"lapse", b"200")
        clocked.tick(5.0)  # more than 3 x 1 s of the broker's clock: expired
        assert mmi_service(clocked.context, endpoint, b"lapse") == b"404"
        before = clocked.stats().get("broker.rejected.unknown_worker", 0)

        def registered_again() -> bool:
            assert worker.recv(timeout_s=0.05) is None
            return mmi_service(clocked.context, endpoint, b"lapse") == b"200"

        wait_until(registered_again, what="the worker to register again")
        # it was told DISCONNECT for a HEARTBEAT sent after its expiry
        assert clocked.stats()["broker.rejected.unknown_worker"] > before
        client = clocked.context.socket(zmq.DEALER)
        client.setsockopt(zmq.LINGER, 0)
        try:
            client.connect(endpoint)
            client.send_multipart([b"MDPC02", b"\x01", b"lapse", b"x"])
            request = wait_until(
                lambda: worker.recv(timeout_s=0.05), what="the request"
            )
            assert request is not None
            worker.reply(request[0], [b"y"])
            assert client.poll(3000)
            assert client.recv_multipart() == [b"MDPC02", b"\x03", b"lapse", b"y"]
        finally:
            client.close()
    finally:
        worker.close()


@pytest.mark.parametrize("heartbeat_while_busy", [True, False], ids=["io", "direct"])
def test_our_worker_refuses_a_service_in_the_mmi_namespace(
    edge: EdgeHandle, heartbeat_while_busy: bool
) -> None:
    """RFC 8 Namespace: a broker MUST disconnect a worker that registers an mmi.*
    name, so such a worker could only retry for ever; it is refused at once."""
    with pytest.raises(ValueError, match="mmi"):
        Worker(
            edge.endpoint,
            "mmi.service",
            heartbeat_while_busy=heartbeat_while_busy,
            context=edge.context,
        )
    assert mmi_service(edge.context, edge.endpoint, b"mmi.service") == b"404"


def test_a_worker_that_cannot_connect_raises_the_error_and_logs_no_close_failure(
    zmq_context: Context, capsys: pytest.CaptureFixture[str]
) -> None:
    """RFC 7: the worker sends DISCONNECT only on a connection it opened; with none
    (a bad endpoint) there are no last words to send, and closing is not a failure.
    The endpoint is checked before the I/O thread starts: a ValueError naming it,
    and no traceback from that thread."""
    with pytest.raises(ValueError, match="no such endpoint"):
        Worker("tcp://no such endpoint", "svc", context=zmq_context)
    _, err = capsys.readouterr()
    assert "runner_failed" not in err
    assert "runner_close_failed" not in err
