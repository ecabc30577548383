"""A board's long-lived sockets back off to one connect attempt every 2 s while the
hub is away (RECONNECT_IVL_MAX), instead of ZeroMQ's ten a second for ever."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import zmq
from support.net import free_port_base
from zmq.utils.monitor import recv_monitor_message

from raspy.client.clone_agent import Agent
from raspy.client.worker import Worker
from raspy.cores.clone_client import CloneClientCore
from raspy.cores.clone_client_state import ClientSettings
from raspy.protocol import clone
from raspy.transport.sockets import RECONNECT_MAX_MS, Context, Socket

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def context() -> Iterator[Context]:
    ctx: Context = zmq.Context()
    yield ctx
    ctx.term()


def _away() -> str:
    """A hub that is not there: every connect is refused."""
    return f"tcp://127.0.0.1:{free_port_base()}"


def _longest_retry(sock: Socket, timeout_s: float) -> int:
    """The longest wait (ms) before a connect attempt of `sock` that ZeroMQ told
    of within `timeout_s`, stopping at the first of RECONNECT_MAX_MS or more."""
    monitor = sock.get_monitor_socket(zmq.EVENT_CONNECT_RETRIED)
    longest = 0
    deadline = time.monotonic() + timeout_s
    try:
        while longest < RECONNECT_MAX_MS and (left := deadline - time.monotonic()) > 0:
            if monitor.poll(max(1, int(left * 1000))):
                event = recv_monitor_message(monitor)
                longest = max(longest, int(event["value"]))
    finally:
        sock.disable_monitor()
        monitor.close(linger=0)
    return longest


def test_the_workers_socket_backs_off_to_one_attempt_every_2_s(
    context: Context,
) -> None:
    """With ZeroMQ's default the worker's DEALER tried again every 100 ms (about
    ten attempts a second, for hours while the hub was off)."""
    # the socket in this thread (no I/O thread): read here, where it lives
    worker = Worker(
        _away(), "shed.fake.devices", heartbeat_while_busy=False, context=context
    )
    try:
        link = worker._link  # the real socket, for its options
        assert link is not None
        sock = link.socket
        assert sock is not None
        assert sock.getsockopt(zmq.RECONNECT_IVL_MAX) == RECONNECT_MAX_MS
        # 100, 200, 400, ... ms (and a jitter): 2 s within about 4 s
        assert _longest_retry(sock, timeout_s=10) >= RECONNECT_MAX_MS
    finally:
        worker.close()


def test_the_clone_clients_sockets_back_off_too(context: Context) -> None:
    """Its SUB and XPUB (and the snapshot DEALER) tried every 100 ms as well."""
    agent = Agent(
        context,
        clone.Endpoints.parse(_away()),
        CloneClientCore(b"/device/", ClientSettings()),
        emit=lambda _changes: None,
    )
    agent.open(agent.runner)  # in this thread: its runner never starts
    try:
        sockets = dict(agent._sockets)  # the real sockets
        assert {"sub", "xpub"} <= set(sockets)
        for sock in sockets.values():
            assert sock.getsockopt(zmq.RECONNECT_IVL_MAX) == RECONNECT_MAX_MS
    finally:
        agent.close()
        agent.runner.wakeup.close()
