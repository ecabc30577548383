"""Socket owners close their sockets even when their last words meet a terminating
context (ETERM): an open socket would hang the context's term() for ever."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
import zmq
from support.wait import wait_until
from support.zmqctx import recv

from raspy.actors import messages as msgs
from raspy.actors.edge import EdgeLoop, EdgeSettings
from raspy.client import Worker
from raspy.clock import SystemClock
from raspy.cores.broker import BrokerCore
from raspy.cores.broker_settings import BrokerSettings
from raspy.protocol import mdp
from raspy.stats import Stats
from raspy.transport.runner import Runner

Context = zmq.Context[zmq.Socket[bytes]]
_TERM_S = 5.0


def _start_term(ctx: Context) -> threading.Thread:
    """term() on its own thread: it returns only once every socket of `ctx` closed."""
    terminating = threading.Thread(target=ctx.term, name="test-term", daemon=True)
    terminating.start()
    return terminating


def _met_eterm(step: Callable[[], object]) -> bool:
    """Whether `step` (a call on the socket's own thread) saw the term begin."""
    try:
        step()
    except zmq.ContextTerminated:
        return True
    return False


def _workers(runner: Runner) -> int:
    stats = runner.call(msgs.GetStats()).result(5)
    assert isinstance(stats, dict)
    return int(stats["broker.workers"])


@pytest.fixture
def broker_router(zmq_context: Context) -> tuple[zmq.Socket[bytes], str]:
    router = zmq_context.socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    router.bind("tcp://127.0.0.1:*")
    return router, router.getsockopt_string(zmq.LAST_ENDPOINT)


def test_edge_closes_its_router_when_its_disconnects_meet_eterm(
    zmq_context: Context,
) -> None:
    """The edge's last words are a DISCONNECT to each worker (§2.7): the term that
    ends its loop also makes them fail, and the ROUTER must close all the same."""
    ctx: Context = zmq.Context()
    loop = EdgeLoop(
        ctx,
        EdgeSettings("tcp://127.0.0.1:*", linger_ms=0),
        BrokerCore(BrokerSettings()),
        SystemClock(),
        Stats(),
    )
    runner = Runner("edge-under-term", loop)
    runner.start()
    worker = zmq_context.socket(zmq.DEALER)
    try:
        worker.setsockopt(zmq.LINGER, 0)
        worker.connect(loop.bound_endpoint)
        worker.send_multipart(mdp.encode(mdp.Ready(mdp.Version.V02, b"svc")))
        wait_until(lambda: _workers(runner) == 1, what="the worker to be registered")
        terminating = _start_term(ctx)  # the loop's poll meets ETERM, then close()
        terminating.join(_TERM_S)
        assert not terminating.is_alive(), "the edge left its ROUTER open"
        wait_until(lambda: not runner.alive, what="the edge's loop to end")
    finally:
        worker.close(linger=0)
        runner.stop()
        loop.outbox.close()


def test_worker_closes_its_socket_when_its_disconnect_meets_eterm(
    broker_router: tuple[zmq.Socket[bytes], str],
) -> None:
    """A worker on the caller's thread: its DISCONNECT (§2.7) fails with ETERM."""
    router, endpoint = broker_router
    ctx: Context = zmq.Context()
    worker = Worker(endpoint, "svc", heartbeat_while_busy=False, context=ctx)
    _, *ready = recv(router)
    assert ready == mdp.encode(mdp.Ready(mdp.Version.V02, b"svc"))
    terminating = _start_term(ctx)
    # the socket's own thread sees the term begin; its DISCONNECT then fails too
    wait_until(
        lambda: _met_eterm(lambda: worker.recv(timeout_s=0.01)),
        what="the worker's socket to see the term",
    )
    worker.close()
    terminating.join(_TERM_S)
    assert not terminating.is_alive(), "the worker left its socket open"
    router.close(linger=0)


def test_worker_io_thread_closes_its_socket_when_its_disconnect_meets_eterm(
    broker_router: tuple[zmq.Socket[bytes], str],
) -> None:
    """A worker on its I/O runner: the term ends the loop, whose close() sends the
    DISCONNECT, which fails with ETERM."""
    router, endpoint = broker_router
    ctx: Context = zmq.Context()
    worker = Worker(endpoint, "svc", context=ctx)
    try:
        recv(router)  # READY: connected
        terminating = _start_term(ctx)
        terminating.join(_TERM_S)
        assert not terminating.is_alive(), (
            "the worker's I/O thread left its socket open"
        )
    finally:
        worker.close()
        router.close(linger=0)
