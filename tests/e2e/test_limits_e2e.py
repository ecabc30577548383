"""raspyd within its memory and log budgets (issue 18), on the real daemon and sockets:
each limit refuses, counts the refusal in statistics, keeps the log bounded and leaves
the daemon serving others."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq
from support.daemon import Daemon, hostname, mmi_service, running_daemon
from support.wait import wait_until

from raspy.client import Client

Context = zmq.Context[zmq.Socket[bytes]]

SMALL_LIMITS = """
[limits]
max_services = 200
max_workers = 5
broker_queue_bytes_per_service = 65536
broker_queue_bytes_total = 262144
log_events_per_s = 20
"""
LOG_LINE_BYTES = 400  # a generous size for one JSON log line


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    """A raspyd with small limits (its own per test: what one test queued stays
    queued for request_ttl_s and would change what the next one sees)."""
    with running_daemon(tmp_path / "data", config_text=SMALL_LIMITS) as started:
        yield started


@pytest.fixture
def context() -> Iterator[Context]:
    ctx: Context = zmq.Context()
    yield ctx
    ctx.destroy(linger=0)


def edge_statistics(endpoint: str) -> dict[str, int]:
    with Client(endpoint, timeout_s=5.0, retries=1) as client:
        code, document = client.request(f"{hostname()}.edge.statistics", "all")
    assert code == b"200"
    return {name: v["value"] for name, v in json.loads(document).items()}


def echo_works(endpoint: str) -> bool:
    with Client(endpoint, timeout_s=5.0, retries=1) as client:
        return client.request(f"{hostname()}.echo", "still here") == [b"still here"]


def log_events(daemon: Daemon, since: int) -> list[dict[str, object]]:
    with daemon.log_path.open("rb") as log_file:
        log_file.seek(since)
        lines = log_file.read().splitlines(keepends=True)
    lines = [line for line in lines if line.endswith(b"\n")]  # not a half-flushed one
    return [json.loads(line) for line in lines if line.startswith(b"{")]


def send_requests(
    context: Context, endpoint: str, requests: list[tuple[bytes, bytes]]
) -> None:
    """MDP/0.1 requests from one DEALER, pipelined, as zguide's mdclient2 sends."""
    sock = context.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 5000)
    sock.connect(endpoint)
    for service, body in requests:
        sock.send_multipart([b"", b"MDPC01", service, body])
    sock.close()  # linger: everything reaches the broker first


@pytest.mark.timeout(90)
def test_requests_to_too_many_services_are_dropped_counted_and_logged_in_budget(
    daemon: Daemon, context: Context
) -> None:
    """A flood of requests to distinct unknown services: past limits.max_services each
    is dropped and counted; the log holds at most the budget a second per event, then
    one log_suppressed line; echo is still served."""
    before = edge_statistics(daemon.endpoint)
    log_start = daemon.log_path.stat().st_size
    started = time.monotonic()
    flood = [(b"flood.%d" % index, b"x") for index in range(5000)]
    send_requests(context, daemon.endpoint, flood)

    def settled() -> dict[str, int]:
        stats = edge_statistics(daemon.endpoint)
        refused = stats.get("dropped.too_many_services", 0)
        refused -= before.get("dropped.too_many_services", 0)
        return stats if refused + stats["queued"] >= len(flood) else {}

    stats = wait_until(settled, what="every request counted", timeout_s=60)
    refused = stats["dropped.too_many_services"] - before.get(
        "dropped.too_many_services", 0
    )
    assert refused == len(flood) - stats["queued"]
    assert refused >= len(flood) - 200
    assert echo_works(daemon.endpoint)

    events = wait_until(
        lambda: [
            e
            for e in log_events(daemon, log_start)
            if e["event"] == "log_suppressed"
            and e["suppressed_event"] == "request_dropped"
        ],
        what="the log_suppressed summary",
        timeout_s=10,
    )
    assert sum(int(str(e["count"])) for e in events) > 0
    elapsed_s = time.monotonic() - started
    written = log_events(daemon, log_start)
    dropped_lines = [e for e in written if e["event"] == "request_dropped"]
    assert len(dropped_lines) <= 20 * (elapsed_s + 1)
    log_bytes = daemon.log_path.stat().st_size - log_start
    assert log_bytes <= 10 * LOG_LINE_BYTES * 20 * (elapsed_s + 1)


@pytest.mark.timeout(60)
def test_a_service_queue_is_bounded_in_bytes(daemon: Daemon, context: Context) -> None:
    """limits.broker_queue_bytes_per_service (64 KiB here): requests of 10 KiB to a
    service with no worker: six fit, the rest are dropped as queue_full."""
    before = edge_statistics(daemon.endpoint)
    send_requests(context, daemon.endpoint, [(b"bytes.one", b"x" * 10240)] * 20)

    def counted() -> dict[str, int]:
        stats = edge_statistics(daemon.endpoint)
        full = stats.get("dropped.queue_full", 0) - before.get("dropped.queue_full", 0)
        return stats if full >= 14 else {}

    stats = wait_until(counted, what="queue_full counted", timeout_s=30)
    assert stats["dropped.queue_full"] - before.get("dropped.queue_full", 0) == 14
    assert stats["queued_bytes"] <= 262144
    assert echo_works(daemon.endpoint)


@pytest.mark.timeout(60)
def test_all_queues_together_are_bounded_in_bytes(
    daemon: Daemon, context: Context
) -> None:
    """limits.broker_queue_bytes_total (256 KiB here) holds across services."""
    before = edge_statistics(daemon.endpoint)
    requests = [(b"total.%d" % (index % 10), b"x" * 10240) for index in range(60)]
    send_requests(context, daemon.endpoint, requests)

    def counted() -> dict[str, int]:
        stats = edge_statistics(daemon.endpoint)
        full = stats.get("dropped.queue_total_full", 0)
        return stats if full > before.get("dropped.queue_total_full", 0) else {}

    stats = wait_until(counted, what="queue_total_full counted", timeout_s=30)
    assert stats["queued_bytes"] <= 262144
    assert echo_works(daemon.endpoint)


@pytest.mark.timeout(60)
def test_a_worker_over_the_cap_gets_disconnect(
    daemon: Daemon, context: Context
) -> None:
    """limits.max_workers (5 here): the sixth READY is answered with DISCONNECT,
    counted as rejected.too_many_workers; registered workers keep working."""
    before = edge_statistics(daemon.endpoint)
    workers = []
    for _ in range(8):
        sock = context.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(daemon.endpoint)
        sock.send_multipart([b"MDPW02", b"\x01", b"capped"])
        workers.append(sock)

    def rejected() -> int:
        stats = edge_statistics(daemon.endpoint)
        count = stats.get("rejected.too_many_workers", 0)
        return count - before.get("rejected.too_many_workers", 0)

    # HEARTBEATs for the registered, DISCONNECT for the refused
    received: list[list[list[bytes]]] = [[] for _ in workers]

    def disconnected(wait_ms: int) -> int:
        for sock, messages in zip(workers, received, strict=True):
            while sock.poll(wait_ms):
                messages.append(sock.recv_multipart())
        return sum([b"MDPW02", b"\x06"] in messages for messages in received)

    # truthy at the first refusal: the other READYs may come in later turns
    wait_until(lambda: rejected() >= 3, what="three workers refused", timeout_s=20)
    wait_until(lambda: disconnected(0) >= 3, what="their DISCONNECTs")
    assert (disconnected(200), rejected()) == (3, 3)
    assert echo_works(daemon.endpoint)
    for sock in workers:
        sock.send_multipart([b"MDPW02", b"\x06"])  # leave: free the places
        sock.close()


@pytest.mark.timeout(60)
def test_a_frame_over_max_frame_bytes_is_never_read(
    daemon: Daemon, context: Context
) -> None:
    """ZMQ_MAXMSGSIZE (broker.max_frame_bytes, 1 MiB): libzmq drops the connection
    before reading a 64 MiB frame; nothing is queued and others are served."""
    hwm_before = _peak_rss_kb(daemon)
    send_requests(context, daemon.endpoint, [(b"big", b"x" * (64 * 1024 * 1024))])
    assert echo_works(daemon.endpoint)
    stats = edge_statistics(daemon.endpoint)
    assert stats["queued_bytes"] <= 262144
    assert _peak_rss_kb(daemon) - hwm_before < 32 * 1024


def _peak_rss_kb(daemon: Daemon) -> int:
    assert daemon.process is not None
    status = Path(f"/proc/{daemon.process.pid}/status").read_text(encoding="ascii")
    line = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
    return int(line.split()[1])


WORKER_PROGRAM = """
import sys
from raspy.client import Worker
worker = Worker(sys.argv[1], "burst", heartbeat_while_busy=False)
worker.serve(lambda body: body)
"""


@pytest.mark.timeout(300)
def test_a_pipelined_burst_of_20000_requests_is_served_whole(
    tmp_path: Path, context: Context
) -> None:
    """zguide's mdclient2: small requests sent at once to one service, then every
    reply read. With the default limits every one comes back, however slow the
    worker (a queue that keeps moving does not expire). 20,000 is twice the count
    limit (10,000 per service) that once dropped all past it, and twice the MDP
    socket's 10,000-message high-water marks: the proof of 100,000, in a fifth of
    the time."""
    count = 20_000
    with running_daemon(tmp_path / "data") as started:
        worker = subprocess.Popen(
            [sys.executable, "-c", WORKER_PROGRAM, started.endpoint]
        )
        try:
            wait_until(
                lambda: _has_service(started.endpoint, b"burst"),
                what="the burst worker",
                timeout_s=30,
            )
            sock = context.socket(zmq.DEALER)
            sock.setsockopt(zmq.LINGER, 0)
            sock.connect(started.endpoint)
            for index in range(count):
                sock.send_multipart([b"", b"MDPC01", b"burst", b"%d" % index])
            replies: set[bytes] = set()
            while len(replies) < count and sock.poll(60_000):
                frames = sock.recv_multipart()
                assert frames[:3] == [b"", b"MDPC01", b"burst"]
                replies.add(frames[3])
            sock.close()
        finally:
            worker.kill()
            worker.wait(timeout=10)
    assert replies == {b"%d" % index for index in range(count)}


def _has_service(endpoint: str, service: bytes) -> bool:
    return mmi_service(endpoint, service) == b"200"


@pytest.mark.timeout(60)
def test_a_data_dir_open_to_others_is_tightened_and_warned_about(
    tmp_path: Path,
) -> None:
    """Issue 18: a data dir with mode 0777 is set to 0700 at start, and the log says
    so once."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    data_dir.chmod(0o777)
    with running_daemon(data_dir) as started:
        assert stat.S_IMODE(os.stat(data_dir).st_mode) == 0o700
        events = [
            e
            for e in log_events(started, 0)
            if e["event"] == "data_dir_permissions_tightened"
        ]
        assert [(e["path"], e["mode"], e["now"]) for e in events] == [
            (str(data_dir), "0777", "0700")
        ]
