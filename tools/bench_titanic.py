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
The load itself is in tools/bench_titanic_load.py.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import zmq
from bench_titanic_load import (
    DEADLINE_S,
    SERVICE,
    Daemon,
    Phase,
    Result,
    accept_phase,
    run_load,
)
from benchproc import free_port, stop  # tools/ is not a package

from raspy.names import short_hostname

_HERE = Path(__file__).resolve()
_ZGUIDE = _HERE.parent / "bench_titanic_zguide.py"
_TITANIC = [b"titanic.request", b"titanic.reply"]


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
    args = [sys.executable, str(_ZGUIDE), endpoint, str(folder), str(DEADLINE_S)]
    process = subprocess.Popen(args)
    try:
        _wait_for(ctx, endpoint, _TITANIC)
        yield process
    finally:
        stop(process, wait_s=10)


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
        run_worker(args.worker, max_seconds=DEADLINE_S * 3)
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
