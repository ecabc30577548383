"""What a Worker logs of its connection (a board's raspy-poller among them): ZeroMQ
connects in the background whether a broker listens or not, so `worker_connected`,
logged at the connect, was said with no hub there at all, at start and again at once
after `broker_lost`. It is `worker_connecting` then, and `worker_connected` once the
broker has spoken."""

from __future__ import annotations

import threading
import time
from collections.abc import MutableMapping
from typing import Any

import pytest
from structlog.testing import capture_logs
from support.edge_fixtures import EdgeHandle
from support.net import free_port_base
from support.wait import wait_until

from raspy.client.mdp import Client, Worker
from raspy.cores.broker_settings import BrokerSettings
from raspy.errors import ClientTimeout

pytestmark = pytest.mark.timeout(60)

FAST: dict[str, Any] = {
    "heartbeat_interval_s": 0.1,
    "heartbeat_liveness": 3,
    "reconnect_initial_s": 0.1,
    "reconnect_max_s": 0.2,
}


@pytest.fixture
def broker_settings() -> BrokerSettings:
    """The broker heartbeats a new idle worker within 0.1 s."""
    return BrokerSettings(heartbeat_interval_s=0.1)


def worker_events(logs: list[MutableMapping[str, Any]]) -> list[str]:
    return [e["event"] for e in logs if e.get("component") == "mdp_worker"]


def test_with_no_broker_the_worker_is_connecting_and_never_connected() -> None:
    endpoint = f"tcp://127.0.0.1:{free_port_base(1)}"
    with capture_logs() as logs:
        worker = Worker(endpoint, "shed.fake.devices", **FAST)
        try:
            assert [e for e in logs if e.get("component") == "mdp_worker"] == [
                {
                    "component": "mdp_worker",
                    "event": "worker_connecting",
                    "service": "shed.fake.devices",
                    "endpoint": endpoint,
                    "version": "0.2",
                    "log_level": "info",
                }
            ]
            wait_until(
                lambda: len(worker_events(logs)) >= 3,
                what="a broker_lost and the connect after it",
                timeout_s=20,
            )
        finally:
            worker.close()
    assert worker_events(logs)[:3] == [
        "worker_connecting",
        "broker_lost",
        "worker_connecting",
    ]
    assert "worker_connected" not in worker_events(logs)


def test_a_worker_is_connected_once_the_broker_has_spoken(edge: EdgeHandle) -> None:
    # FAST's 0.3 s of silence would give the broker up unless its first heartbeat
    # (due 0.1 s after the READY) came within it, on a loaded machine too: a
    # `broker_lost` then came before `worker_connected`. Nothing here needs it.
    patient = {**FAST, "heartbeat_liveness": 50}
    with capture_logs() as logs:
        worker = Worker(edge.endpoint, "shed.fake.devices", **patient)
        try:
            wait_until(
                lambda: "worker_connected" in worker_events(logs),
                what="the broker's first heartbeat",
                timeout_s=20,
            )
        finally:
            worker.close()
    said = [e for e in logs if e.get("component") == "mdp_worker"]
    assert said[:2] == [
        {
            "component": "mdp_worker",
            "event": event,
            "service": "shed.fake.devices",
            "endpoint": edge.endpoint,
            "version": "0.2",
            "log_level": "info",
        }
        for event in ("worker_connecting", "worker_connected")
    ]


@pytest.mark.parametrize("io_thread", [True, False], ids=["io_thread", "direct"])
def test_a_handlers_bad_body_ends_serve_and_close_hands_the_request_on(
    edge: EdgeHandle, io_thread: bool
) -> None:
    """README: a body that is not a list of frames "is a TypeError raised in the
    handler's thread: it ends serve(), and closing the worker tells the broker,
    which hands the request to another worker"."""
    service = "shed.fake.upper"
    replies: list[list[bytes]] = []

    def ask() -> None:
        with Client(edge.endpoint, timeout_s=20, retries=1) as client:
            replies.append(client.request(service, "bob"))

    wrong = Worker(edge.endpoint, service, heartbeat_while_busy=io_thread, **FAST)
    asker = threading.Thread(target=ask)
    try:
        asker.start()
        with pytest.raises(TypeError, match="wrap it in a list"):
            wrong.serve(lambda body: b"done", max_requests=1)  # type: ignore[arg-type,return-value]  # the mistake
    finally:
        wrong.close()
    with Worker(
        edge.endpoint, service, heartbeat_while_busy=io_thread, **FAST
    ) as right:
        right.serve(lambda body: [frame.upper() for frame in body], max_requests=1)
    asker.join(timeout=20)
    assert replies == [[b"BOB"]]


def test_a_reply_frame_over_max_frame_bytes_times_the_client_out_and_the_worker_reconnects(
    edge: EdgeHandle,
) -> None:
    """README: a frame larger than broker.max_frame_bytes (1 MiB) in a reply "makes
    the broker drop that connection unread: the client gets ClientTimeout, the
    worker connects again"."""
    service = "shed.fake.big"
    with Worker(edge.endpoint, service, **FAST) as worker:
        wait_until(lambda: worker.sessions >= 1, what="the broker's first word")
        failed: list[BaseException] = []

        def ask() -> None:
            with Client(edge.endpoint, timeout_s=2, retries=1) as client:
                try:
                    client.request(service, "big please")
                except ClientTimeout as exc:
                    failed.append(exc)

        asker = threading.Thread(target=ask)
        asker.start()
        try:
            request = worker.recv(timeout_s=10)
            assert request is not None
            worker.reply(request[0], [b"x" * (2 * 1024 * 1024)])
            deadline = time.monotonic() + 20
            while worker.sessions < 2 and time.monotonic() < deadline:
                worker.recv(timeout_s=0.1)  # a request given again is left unanswered
        finally:
            asker.join(timeout=20)
        assert worker.sessions >= 2
    assert len(failed) == 1
