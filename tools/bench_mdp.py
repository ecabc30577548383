"""Benchmark: raspyd's broker vs majortomo's broker vs a raw zmq.proxy, one run, same load.

Run:  .venv/bin/python tools/bench_mdp.py [--quick]

A fourth reference, "pyfwd", does zmq.proxy's job (ROUTER in front, DEALER behind,
frames passed through untouched) in a Python loop with the same compiled send/receive
calls and drain as raspyd's edge, and no MDP logic at all. It is the floor of any
pure-Python broker on pyzmq: what a broker can reach if its own logic cost nothing.

Every broker gets the same external worker processes and client processes (raw DEALER
sockets; the MDP brokers are spoken to in the majortomo dialect, which both accept).
Scenarios: latency-bound (1 client, depth 1, 1 worker) and throughput (4 clients x 16
in flight, 2 workers), with 16 B and 4 KiB bodies. Prints req/s, p50/p99 and ratios,
and raspyd's idle RSS. Every loop is bounded by a request count; everything binds
127.0.0.1 and every process started here is stopped here.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import zmq
from benchproc import cpu_seconds, free_port, libzmq_io_cpu_seconds, rss_mb, stop

from raspy.transport.multipart import drain, recv_frames, send_frames

SERVICE = b"bench"
_HERE = Path(__file__).resolve()


# --------------------------------------------------------------------- child roles


def run_worker(endpoint: str, mode: str, max_seconds: float) -> None:
    """Echo worker. mode mdp: majortomo-dialect MDP worker; raw: echo every message."""
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)
    deadline = time.monotonic() + max_seconds
    heartbeat = [b"", b"MDPW02", b"\x05"]
    if mode == "mdp":
        sock.send_multipart([b"", b"MDPW02", b"\x01", SERVICE])
    next_hb = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        if sock.poll(250):
            while True:
                try:
                    frames = recv_frames(sock)
                except zmq.Again:
                    break
                if mode == "raw":
                    send_frames(sock, frames)
                    continue
                command = frames[2]
                if command == b"\x02":
                    frames[2] = b"\x04"
                    send_frames(sock, frames)
                elif command == b"\x06":
                    return
        if mode == "mdp" and time.monotonic() >= next_hb:
            sock.send_multipart(heartbeat)
            next_hb = time.monotonic() + 1.0
    sock.close()
    ctx.term()


def run_client(endpoint: str, mode: str, depth: int, count: int, size: int) -> None:
    """Send `count` requests keeping `depth` in flight; print latencies (s) as JSON."""
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)
    pad = b"x" * max(0, size - 8)
    sent_at: dict[int, float] = {}
    latencies: list[float] = []
    prefix = [b"", b"MDPC02", b"\x02", SERVICE] if mode == "mdp" else [b""]
    next_id = 0

    def send_one() -> None:
        nonlocal next_id
        sent_at[next_id] = time.perf_counter()
        send_frames(sock, [*prefix, struct.pack(">Q", next_id) + pad])
        next_id += 1

    started = time.perf_counter()
    for _ in range(min(depth, count)):
        send_one()
    deadline = time.monotonic() + 120
    while len(latencies) < count and time.monotonic() < deadline:
        try:
            frames = recv_frames(sock)
        except zmq.Again:
            if not sock.poll(5000):
                break
            continue
        now = time.perf_counter()
        (req_id,) = struct.unpack(">Q", frames[-1][:8])
        latencies.append(now - sent_at.pop(req_id))
        if next_id < count:
            send_one()
    elapsed = time.perf_counter() - started
    print(json.dumps({"elapsed": elapsed, "latencies": latencies}))
    sock.close()
    ctx.term()


def _proxy_sockets(
    front: str, back: str
) -> tuple[zmq.Socket[bytes], zmq.Socket[bytes]]:
    """A bound ROUTER (clients) and DEALER (workers); SIGTERM ends the process."""
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    frontend = ctx.socket(zmq.ROUTER)
    backend = ctx.socket(zmq.DEALER)
    frontend.bind(front)
    backend.bind(back)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    return frontend, backend


def run_proxy(front: str, back: str) -> None:
    zmq.proxy(*_proxy_sockets(front, back))


def run_python_forwarder(front: str, back: str) -> None:
    """The raw proxy's job in Python: poll both sockets, pass each message through."""
    frontend, backend = _proxy_sockets(front, back)
    poller = zmq.Poller()
    poller.register(frontend, zmq.POLLIN)
    poller.register(backend, zmq.POLLIN)

    def to(sock: zmq.Socket[bytes]) -> Callable[[list[bytes]], None]:
        def forward(frames: list[bytes]) -> None:
            # not contextlib.suppress: a context manager per message on the path measured
            try:  # noqa: SIM105
                send_frames(sock, frames)
            except zmq.Again:  # no peer yet: the warm-up asks again
                pass

        return forward

    to_back, to_front = to(backend), to(frontend)
    deadline = time.monotonic() + 600  # bounded, like every loop here
    while time.monotonic() < deadline:
        for sock, _ in poller.poll(1000):
            drain(sock, to_back if sock is frontend else to_front, 256)


def run_majortomo(endpoint: str) -> None:
    from majortomo.broker import Broker

    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    broker = Broker(bind=endpoint)
    broker.run()


# --------------------------------------------------------------------- orchestration


def _spawn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(_HERE), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


@contextmanager
def broker(kind: str) -> Iterator[tuple[str, str, str, int | None]]:
    """Yield (client endpoint, worker endpoint, mode, pid) for a running broker."""
    if kind in ("raw", "pyfwd"):
        front, back = free_port(), free_port()
        proc = _spawn(
            "_proxy" if kind == "raw" else "_pyfwd",
            f"tcp://127.0.0.1:{front}",
            f"tcp://127.0.0.1:{back}",
        )
        try:
            _wait_port(front)
            yield f"tcp://127.0.0.1:{front}", f"tcp://127.0.0.1:{back}", "raw", proc.pid
        finally:
            stop(proc, wait_s=5)
        return
    if kind == "majortomo":
        port = free_port()
        proc = _spawn("_majortomo", f"tcp://127.0.0.1:{port}")
        try:
            _wait_port(port)
            endpoint = f"tcp://127.0.0.1:{port}"
            yield endpoint, endpoint, "mdp", proc.pid
        finally:
            stop(proc, wait_s=5)
        return
    base = free_port(4)
    with tempfile.TemporaryDirectory(prefix="raspy-bench-") as tmp:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "raspy.cli.raspyd",
                "--data-dir",
                f"{tmp}/data",
                "--port-base",
                str(base),
                "--allow-root",
                "--log-level",
                "warning",
                "--log-format",
                "json",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            _wait_port(base)
            endpoint = f"tcp://127.0.0.1:{base}"
            yield endpoint, endpoint, "mdp", proc.pid
        finally:
            stop(proc, wait_s=5)


def _wait_port(port: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def _wait_service(endpoint: str, mode: str) -> None:
    """Send warm-up requests until one is answered (the worker has registered)."""
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)
    prefix = [b"", b"MDPC02", b"\x02", SERVICE] if mode == "mdp" else [b""]
    try:
        for _ in range(100):
            sock.send_multipart([*prefix, struct.pack(">Q", 0)])
            if sock.poll(200):
                while sock.poll(200):
                    sock.recv_multipart()
                return
        raise RuntimeError("service never answered")
    finally:
        sock.close()
        ctx.term()


def scenario(
    kind: str, clients: int, depth: int, workers: int, size: int, count: int
) -> dict[str, float]:
    with broker(kind) as (client_ep, worker_ep, mode, pid):
        procs = [_spawn("_worker", worker_ep, mode, "300") for _ in range(workers)]
        try:
            _wait_service(client_ep, mode)
            cpu_before = cpu_seconds(pid) if pid else 0.0
            io_before = libzmq_io_cpu_seconds(pid) if pid else 0.0
            started = time.perf_counter()
            runs = [
                _spawn("_client", client_ep, mode, str(depth), str(count), str(size))
                for _ in range(clients)
            ]
            results = [json.loads(run.communicate(timeout=300)[0]) for run in runs]
            wall = time.perf_counter() - started
            cpu = (cpu_seconds(pid) - cpu_before) if pid else 0.0
            io_cpu = (libzmq_io_cpu_seconds(pid) - io_before) if pid else 0.0
        finally:
            for proc in procs:
                stop(proc, wait_s=5)
        latencies = sorted(x for r in results for x in r["latencies"])
        done = len(latencies)
        rss = rss_mb(pid) if pid else 0.0
    return {
        "req_s": done / max(r["elapsed"] for r in results) if done else 0.0,
        "p50_ms": latencies[done // 2] * 1000 if done else 0.0,
        "p99_ms": latencies[min(done - 1, int(done * 0.99))] * 1000 if done else 0.0,
        "done": done,
        "expected": clients * count,
        "wall_s": wall,
        "rss_mb": rss,
        "cpu_us_per_req": cpu / done * 1e6 if done else 0.0,
        "io_us_per_req": io_cpu / done * 1e6 if done else 0.0,
    }


def idle_rss_mb() -> float:
    with broker("raspy") as (_, __, ___, pid):
        time.sleep(
            2.0
        )  # a benchmark, not a test: let the daemon settle before reading RSS
        assert pid is not None
        return rss_mb(pid)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer requests")
    args = parser.parse_args()
    scale = 0.25 if args.quick else 1.0
    scenarios = [
        ("latency 16B", 1, 1, 1, 16, int(4000 * scale)),
        ("latency 4KiB", 1, 1, 1, 4096, int(4000 * scale)),
        ("throughput 16B", 4, 16, 2, 16, int(10000 * scale)),
        ("throughput 4KiB", 4, 16, 2, 4096, int(10000 * scale)),
        # Not in the targets: enough workers that the broker, not the workers'
        # one-request-at-a-time turnaround (MDP), is what limits the rate.
        ("throughput 16B 8w", 4, 16, 8, 16, int(10000 * scale)),
    ]
    print(f"raspyd idle RSS: {idle_rss_mb():.1f} MB")
    header = (
        f"{'scenario':<16} {'broker':<10} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8}"
        f" {'broker CPU us/req':>18} {'of it libzmq I/O':>17}"
    )
    print(header)
    for name, clients, depth, workers, size, count in scenarios:
        figures = {}
        for kind in ("raw", "pyfwd", "majortomo", "raspy"):
            figures[kind] = scenario(kind, clients, depth, workers, size, count)
            f = figures[kind]
            lost = f["expected"] - f["done"]
            note = f"  LOST {lost}" if lost else ""
            print(
                f"{name:<16} {kind:<10} {f['req_s']:>9.0f} {f['p50_ms']:>8.3f} "
                f"{f['p99_ms']:>8.3f} {f['cpu_us_per_req']:>18.1f}"
                f" {f['io_us_per_req']:>17.1f}{note}"
            )
        ours = figures["raspy"]["req_s"]
        raw, fwd, major = (figures[k] for k in ("raw", "pyfwd", "majortomo"))
        print(
            f"{name:<16} ratios: raspy/raw = {ours / raw['req_s']:.2f}, "
            f"pyfwd/raw = {fwd['req_s'] / raw['req_s']:.2f}, "
            f"raspy/majortomo = {ours / major['req_s']:.2f}; CPU/req vs majortomo: "
            f"raspy {figures['raspy']['cpu_us_per_req'] / major['cpu_us_per_req']:.2f}, "
            f"pyfwd {fwd['cpu_us_per_req'] / major['cpu_us_per_req']:.2f}, "
            f"raw {raw['cpu_us_per_req'] / major['cpu_us_per_req']:.2f}"
        )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1].startswith("_"):
        role, rest = sys.argv[1], sys.argv[2:]
        if role == "_worker":
            run_worker(rest[0], rest[1], float(rest[2]))
        elif role == "_client":
            run_client(rest[0], rest[1], int(rest[2]), int(rest[3]), int(rest[4]))
        elif role == "_proxy":
            run_proxy(rest[0], rest[1])
        elif role == "_pyfwd":
            run_python_forwarder(rest[0], rest[1])
        elif role == "_majortomo":
            run_majortomo(rest[0])
    else:
        main()
