"""The load of tools/bench_titanic.py: MDP/0.2 requests with a number in flight (one
DEALER each, so each latency is exact), Titanic's accept, reply and close phases, and
what raspyd's statistics said after. Imported by tools/bench_titanic.py (not
installed)."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import zmq
from benchproc import cpu_seconds  # tools/ is not a package

from raspy.names import short_hostname

SERVICE = b"bench.titanic.echo"
BODY = b"x" * 1024
DEADLINE_S = 300.0  # no phase may run longer than this


@dataclass
class Daemon:
    process: subprocess.Popen[bytes]
    endpoint: str
    data_dir: Path


@dataclass
class Phase:
    count: int
    elapsed_s: float
    latencies_s: list[float]
    replies: list[list[bytes]]

    def rate(self) -> float:
        return self.count / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def percentile_ms(self, fraction: float) -> float:
        ordered = sorted(self.latencies_s)
        if not ordered:
            return 0.0
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000


def drive(
    ctx: zmq.Context[zmq.Socket[bytes]],
    endpoint: str,
    concurrency: int,
    requests: list[tuple[bytes, list[bytes]]],
) -> Phase:
    """Send every (service, body) with `concurrency` requests in flight, one per socket.

    Returns the reply bodies in request order and each request's latency.
    """
    socks = [ctx.socket(zmq.DEALER) for _ in range(min(concurrency, len(requests)))]
    poller = zmq.Poller()
    for sock in socks:
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(endpoint)
        poller.register(sock, zmq.POLLIN)
    replies: list[list[bytes]] = [[] for _ in requests]
    latencies: list[float] = []
    busy: dict[zmq.Socket[bytes], tuple[int, float]] = {}
    next_index = 0

    def send(sock: zmq.Socket[bytes]) -> None:
        nonlocal next_index
        service, body = requests[next_index]
        busy[sock] = (next_index, time.perf_counter())
        next_index += 1
        sock.send_multipart([b"MDPC02", b"\x01", service, *body])

    started = time.perf_counter()
    deadline = time.monotonic() + DEADLINE_S
    try:
        for sock in socks:
            send(sock)
        while busy:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{len(busy)} requests unanswered at the deadline")
            for sock, _ in poller.poll(1000):
                frames = sock.recv_multipart()
                index, sent_at = busy.pop(sock)
                latencies.append(time.perf_counter() - sent_at)
                replies[index] = frames[3:]
                if next_index < len(requests):
                    send(sock)
        elapsed = time.perf_counter() - started
    finally:
        for sock in socks:
            sock.close(linger=0)
    return Phase(len(requests), elapsed, latencies, replies)


def stats_of(ctx: zmq.Context[zmq.Socket[bytes]], endpoint: str) -> dict[str, float]:
    host = short_hostname()
    phase = drive(ctx, endpoint, 1, [(f"{host}.stats".encode(), [b""])])
    body = phase.replies[0]
    if len(body) != 2 or body[0] != b"200":
        return {}
    stats: dict[str, float] = json.loads(body[1])
    return stats


@dataclass
class Result:
    label: str
    accept: Phase
    end_to_end_s: float
    close: Phase
    stats: dict[str, float]
    cpu_us: float  # raspyd CPU per accepted request, during the accept phase


def accept_phase(
    ctx: zmq.Context[zmq.Socket[bytes]],
    endpoint: str,
    pid: int,
    concurrency: int,
    count: int,
) -> tuple[Phase, float]:
    """Submit `count` requests; the phase, and CPU µs per request of process `pid`."""
    submit = [(b"titanic.request", [SERVICE, BODY])] * count
    before = cpu_seconds(pid)
    phase = drive(ctx, endpoint, concurrency, submit)
    return phase, (cpu_seconds(pid) - before) / max(count, 1) * 1e6


def run_load(
    ctx: zmq.Context[zmq.Socket[bytes]],
    daemon: Daemon,
    label: str,
    count: int,
    concurrency: int,
    log: Callable[[str], None],
) -> Result:
    first_sent = time.perf_counter()
    pid = daemon.process.pid
    accept, cpu_us = accept_phase(ctx, daemon.endpoint, pid, concurrency, count)
    uuids = []
    for body in accept.replies:
        if len(body) != 2 or body[0] != b"200":
            raise RuntimeError(f"titanic.request answered {body[:1]!r}")
        uuids.append(body[1])
    log(f"{label}: {count} accepted at {accept.rate():,.0f}/s")
    # every reply available = titanic.done reached count (cheap to poll, unlike
    # titanic.reply for every UUID, which would load the daemon being measured)
    deadline = time.monotonic() + DEADLINE_S
    while stats_of(ctx, daemon.endpoint).get("titanic.done", 0) < count:
        if time.monotonic() > deadline:
            raise RuntimeError("the replies never all became available")
        time.sleep(0.01)
    end_to_end = time.perf_counter() - first_sent
    log(f"{label}: every reply stored after {end_to_end:.2f}s")
    queries = [(b"titanic.reply", [uuid]) for uuid in uuids]
    answers = drive(ctx, daemon.endpoint, concurrency, queries).replies
    if any(answer != [b"200", BODY] for answer in answers):
        raise RuntimeError("a titanic.reply did not return the echoed body")
    close = drive(
        ctx, daemon.endpoint, concurrency, [(b"titanic.close", [u]) for u in uuids]
    )
    if any(body != [b"200"] for body in close.replies):
        raise RuntimeError("a titanic.close was not answered 200")
    stats = stats_of(ctx, daemon.endpoint)
    return Result(label, accept, end_to_end, close, stats, cpu_us)
