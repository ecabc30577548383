"""Benchmark: Titanic in the real raspyd, durable group commit vs one commit per request.

Run:  .venv/bin/python tools/bench_titanic.py [--clients 8] [--inflight 8] [--requests N]

Starts raspyd (fresh data dir, default config) and an echo worker process, then drives
`clients x inflight` concurrent MDP/0.2 clients (one DEALER per in-flight request, so
each latency is exact) with 1 KiB bodies: accepted/s and accept latency p50/p99 (a 200
means committed and synced), end-to-end (first request sent -> every reply stored, by
the daemon's titanic.done count; each is then checked through titanic.reply), and
close/s; plus accepted/s on a raspyd with no worker yet
(the accept path alone). The same load then runs against another raspyd
whose config says `[store] group_commit = false` (one synced commit per request), for
the ratio. Last, the reference: zguide's titanic.py design (tools/bench_titanic_zguide.py)
behind a raspyd with its own Titanic off, the same load: accepted/s and the ratio.
raspyd's CPU per accepted request (user + system, from /proc) is printed too: less
sensitive than a rate to a shared machine. Every loop is bounded by a count and a
deadline; everything binds 127.0.0.1; every process started here is stopped here.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import zmq
from benchproc import cpu_seconds, free_port, stop

from raspy.names import short_hostname

SERVICE = b"bench.titanic.echo"
BODY = b"x" * 1024
_HERE = Path(__file__).resolve()
_ZGUIDE = _HERE.parent / "bench_titanic_zguide.py"
_TITANIC = [b"titanic.request", b"titanic.reply"]
_DEADLINE_S = 300.0  # no phase may run longer than this


# --------------------------------------------------------------------- echo worker


def run_worker(endpoint: str, max_seconds: float) -> None:
    """An RFC 18 echo worker on a DEALER; heartbeats once a second; bounded in time."""
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)
    sock.send_multipart([b"MDPW02", b"\x01", SERVICE])
    deadline = time.monotonic() + max_seconds
    next_heartbeat = time.monotonic() + 1.0
    stop = False

    def on_term(_signum: int, _frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    try:
        while not stop and time.monotonic() < deadline:
            if sock.poll(200):
                for _ in range(1000):
                    try:
                        frames = sock.recv_multipart(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    if len(frames) >= 5 and frames[1] == b"\x02":  # REQUEST: echo
                        sock.send_multipart([b"MDPW02", b"\x04", *frames[2:]])
            if time.monotonic() >= next_heartbeat:
                sock.send_multipart([b"MDPW02", b"\x05"])
                next_heartbeat = time.monotonic() + 1.0
        # last words only (DISCONNECT): the broker forgets a silent worker anyway
        with suppress(zmq.ZMQError):
            sock.send_multipart([b"MDPW02", b"\x06"], zmq.NOBLOCK)
    finally:
        sock.close(linger=100)
        ctx.term()


# --------------------------------------------------------------------- processes


@dataclass
class Daemon:
    process: subprocess.Popen[bytes]
    endpoint: str
    data_dir: Path


def _mmi(ctx: zmq.Context[zmq.Socket[bytes]], endpoint: str, service: bytes) -> bytes:
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)
    try:
        sock.send_multipart([b"MDPC02", b"\x01", b"mmi.service", service])
        return sock.recv_multipart()[-1] if sock.poll(500) else b""
    finally:
        sock.close(linger=0)


def _wait_for(
    ctx: zmq.Context[zmq.Socket[bytes]], endpoint: str, services: list[bytes]
) -> None:
    deadline = time.monotonic() + 30
    while not all(_mmi(ctx, endpoint, s) == b"200" for s in services):
        if time.monotonic() > deadline:
            raise RuntimeError(f"raspyd at {endpoint} never offered {services}")


@contextmanager
def raspyd(
    ctx: zmq.Context[zmq.Socket[bytes]],
    root: Path,
    name: str,
    config: str,
    cmd: str,
    services: list[bytes] = _TITANIC,
) -> Iterator[Daemon]:
    data_dir = root / name
    port_base = free_port(4)
    config_path = root / f"{name}.toml"
    config_path.write_text(config, encoding="utf-8")
    args = [*cmd.split(), "--data-dir", str(data_dir), "--port-base", str(port_base)]
    args += ["--config", str(config_path), "--log-format", "json"]
    if os.geteuid() == 0:
        args.append("--allow-root")
    with (root / f"{name}.log").open("wb") as log_file:
        process = subprocess.Popen(args, stdout=log_file, stderr=subprocess.STDOUT)
    endpoint = f"tcp://127.0.0.1:{port_base}"
    try:
        _wait_for(ctx, endpoint, services)
        yield Daemon(process, endpoint, data_dir)
    finally:
        stop(process, wait_s=20)


@contextmanager
def echo_worker(ctx: zmq.Context[zmq.Socket[bytes]], endpoint: str) -> Iterator[None]:
    args = [sys.executable, str(_HERE), "--worker", endpoint]
    process = subprocess.Popen(args)
    try:
        _wait_for(ctx, endpoint, [SERVICE])
        yield
    finally:
        stop(process, wait_s=10)


@contextmanager
def zguide_titanic(
    ctx: zmq.Context[zmq.Socket[bytes]], endpoint: str, folder: Path
) -> Iterator[subprocess.Popen[bytes]]:
    args = [sys.executable, str(_ZGUIDE), endpoint, str(folder), str(_DEADLINE_S)]
    process = subprocess.Popen(args)
    try:
        _wait_for(ctx, endpoint, _TITANIC)
        yield process
    finally:
        stop(process, wait_s=10)


# --------------------------------------------------------------------- load


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
    deadline = time.monotonic() + _DEADLINE_S
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
    deadline = time.monotonic() + _DEADLINE_S
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


def report(
    results: list[Result],
    accept_only: tuple[Phase, float],
    zguide: tuple[Phase, float] | None,
    clients: int,
    inflight: int,
) -> None:
    print()
    print(
        f"Titanic, {clients} clients x {inflight} in flight, 1 KiB bodies, "
        "echo worker connected"
    )
    header = (
        "| store | requests | accepted/s | accept p50 ms | accept p99 ms | "
        "end-to-end s | close/s | commits | ops/commit | CPU µs/accept |"
    )
    print(header)
    print("|" + "---|" * 10)
    for r in results:
        commits = r.stats.get("store.commits", 0.0)
        ops = r.stats.get("store.ops", 0.0)
        per_commit = ops / commits if commits else 0.0
        print(
            f"| {r.label} | {r.accept.count} | {r.accept.rate():,.0f} | "
            f"{r.accept.percentile_ms(0.5):.2f} | {r.accept.percentile_ms(0.99):.2f} | "
            f"{r.end_to_end_s:.2f} | {r.close.rate():,.0f} | {commits:,.0f} | "
            f"{per_commit:.1f} | {r.cpu_us:.0f} |"
        )
    rows = [("group commit, no worker yet (accept only)", accept_only)]
    if zguide is not None:
        rows.append(("zguide titanic.py design (reference)", zguide))
    for label, (phase, cpu_us) in rows:
        print(
            f"| {label} | {phase.count} | {phase.rate():,.0f} | "
            f"{phase.percentile_ms(0.5):.2f} | {phase.percentile_ms(0.99):.2f} | "
            f"- | - | - | - | {cpu_us:.0f} |"
        )
    if len(results) == 2 and results[1].accept.rate() > 0:
        ratio = results[0].accept.rate() / results[1].accept.rate()
        close_ratio = results[0].close.rate() / max(results[1].close.rate(), 1e-9)
        print(
            f"\ngroup commit / one commit per request: accepted/s x{ratio:.1f}, "
            f"close/s x{close_ratio:.1f}"
        )
    if zguide is not None and results and zguide[0].rate() > 0:
        ratio = results[0].accept.rate() / zguide[0].rate()
        print(
            f"group commit (worker connected) / zguide design: accepted/s x{ratio:.1f}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--inflight", type=int, default=8)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument(
        "--requests-single",
        type=int,
        default=3_000,
        help="requests for the one-commit-per-request run",
    )
    parser.add_argument(
        "--requests-zguide",
        type=int,
        default=3_000,
        help="requests for the zguide reference (0: skip it)",
    )
    parser.add_argument(
        "--raspyd",
        default=f"{sys.executable} -m raspy.cli.raspyd",
        help="command that starts raspyd",
    )
    parser.add_argument("--worker", metavar="ENDPOINT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        run_worker(args.worker, max_seconds=_DEADLINE_S * 3)
        return 0
    concurrency = args.clients * args.inflight

    def log(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    results = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-titanic-") as tmp:
            root = Path(tmp)
            runs = [
                ("group commit", "[store]\ngroup_commit = true\n", args.requests),
                (
                    "one commit per request",
                    "[store]\ngroup_commit = false\n",
                    args.requests_single,
                ),
            ]
            with raspyd(ctx, root, "accept", runs[0][1], args.raspyd) as daemon:
                pid = daemon.process.pid
                accept_only = accept_phase(
                    ctx, daemon.endpoint, pid, concurrency, args.requests
                )
                log(f"accept only: {accept_only[0].rate():,.0f}/s")
            for label, config, count in runs:
                name = label.split()[0]
                with (
                    raspyd(ctx, root, name, config, args.raspyd) as daemon,
                    echo_worker(ctx, daemon.endpoint),
                ):
                    results.append(
                        run_load(ctx, daemon, label, count, concurrency, log)
                    )
            zguide = None
            if args.requests_zguide > 0:
                off = "[titanic]\nenabled = false\n"
                echo = f"{short_hostname()}.echo".encode()
                with (
                    raspyd(ctx, root, "broker", off, args.raspyd, [echo]) as daemon,
                    echo_worker(ctx, daemon.endpoint),
                    zguide_titanic(ctx, daemon.endpoint, root / "zguide") as ref,
                ):
                    zguide = accept_phase(
                        ctx, daemon.endpoint, ref.pid, concurrency, args.requests_zguide
                    )
                    log(f"zguide design: accepted at {zguide[0].rate():,.0f}/s")
    finally:
        ctx.term()
    report(results, accept_only, zguide, args.clients, args.inflight)
    return 0


if __name__ == "__main__":
    sys.exit(main())
