"""Abuse probes (issue 18): what a client on loopback can make raspyd hold and log.

Each probe starts its own raspyd with the default config (so VmHWM, the peak resident
set, is that probe's), runs one bounded attack, then records the peak RSS, the bytes
and lines of log written, the broker's refusal counters and whether the built-in echo
service still answers. Target: peak RSS <= 256 MB in every probe.

    .venv/bin/python tools/bench_abuse.py            # every probe, <= 20 s each
    .venv/bin/python tools/bench_abuse.py --seconds 5 --only distinct_services

Traffic goes to 127.0.0.1 only; every loop is bounded by a count and a deadline.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import zmq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchproc import (  # tools/ is not a package
    echo_ok,
    free_port,
    start_raspyd,
    stop,
    wait_for_echo,
)

from raspy.client import Client, ClientTimeout
from raspy.names import short_hostname
from raspy.protocol import clone, titanic

Context = zmq.Context[zmq.Socket[bytes]]
Socket = zmq.Socket[bytes]
TARGET_RSS_MB = 256


@dataclass(frozen=True, slots=True)
class Target:
    """The raspyd under attack."""

    pid: int
    mdp: str
    clone: clone.Endpoints


@dataclass(frozen=True, slots=True)
class Row:
    probe: str
    sent: str
    seconds: float
    peak_rss_mb: float
    log_bytes: int
    log_lines: int
    log_seconds: float  # from the probe's start until the log was read
    refusals: dict[str, int]
    echo_ok: bool


Probe = Callable[[Context, Target, float], str]  # -> what was sent


class ThreadStuck(RuntimeError):
    """A probe's thread did not end: it still owns a socket, so nobody else may
    close it, nor destroy or terminate the context under it."""


def _sender(context: Context, endpoint: str) -> Socket:
    sock = context.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.SNDTIMEO, 1000)  # a stuck daemon ends the probe, not the run
    sock.connect(endpoint)
    return sock


def _pipeline(
    context: Context,
    endpoint: str,
    messages: Iterator[list[bytes]],
    deadline: float,
) -> int:
    """Send until the messages or the time run out; the number sent."""
    sock = _sender(context, endpoint)
    sent = 0
    try:
        for frames in messages:
            if sent % 256 == 0 and time.monotonic() > deadline:
                break
            try:
                sock.send_multipart(frames)
            except zmq.Again:
                break
            sent += 1
    finally:
        sock.close()
    return sent


def distinct_services(context: Context, target: Target, deadline: float) -> str:
    """300,000 requests, each to a service nobody serves, as fast as possible."""
    count = 300_000
    messages = ([b"", b"MDPC01", b"abuse.%d" % i, b"x"] for i in range(count))
    sent = _pipeline(context, target.mdp, messages, deadline)
    return f"{sent:,} requests to distinct services"


def big_requests(context: Context, target: Target, deadline: float) -> str:
    """3,000 requests of 1000 KiB to one service nobody serves."""
    body = b"x" * (1000 * 1024)
    messages = ([b"", b"MDPC01", b"abuse.big", body] for _ in range(3000))
    sent = _pipeline(context, target.mdp, messages, deadline)
    return f"{sent:,} x 1000 KiB requests to one service"


def long_service_names(context: Context, target: Target, deadline: float) -> str:
    """3,000 requests, each to its own service with a 1000 KiB name."""
    name = b"n" * (1000 * 1024 - 8)
    messages = ([b"", b"MDPC01", name + b"%08d" % i, b"x"] for i in range(3000))
    sent = _pipeline(context, target.mdp, messages, deadline)
    return f"{sent:,} requests to services with 1000 KiB names"


def big_frames(context: Context, target: Target, deadline: float) -> str:
    """50 MB frames, each on a new connection (libzmq drops the one that sent it)."""
    body = b"x" * (50 * 1000 * 1000)
    sent = 0
    for _ in range(20):
        if time.monotonic() > deadline:
            break
        sock = _sender(context, target.mdp)
        sock.setsockopt(zmq.LINGER, 2000)
        try:
            sock.send_multipart([b"", b"MDPC01", b"abuse.huge", body])
            sent += 1
        except zmq.Again:
            pass
        finally:
            sock.close()
    return f"{sent} x 50 MB frames"


def many_workers(context: Context, target: Target, deadline: float) -> str:
    """Up to 8,000 workers, each with its own service name (as many as this process
    has file descriptors for)."""
    context.set(zmq.MAX_SOCKETS, 20_000)
    sockets = []
    try:
        for index in range(8000):
            if index % 100 == 0 and time.monotonic() > deadline:
                break
            try:
                sock = context.socket(zmq.DEALER)
            except zmq.ZMQError:  # out of file descriptors here: enough
                break
            sock.setsockopt(zmq.LINGER, 0)
            sock.connect(target.mdp)
            sock.send_multipart([b"MDPW02", b"\x01", b"abuse.worker.%d" % index])
            sockets.append(sock)
        time.sleep(2.0)  # let the broker read every READY
    finally:
        for sock in sockets:
            sock.close()
    return f"{len(sockets):,} workers, one service each"


def titanic_flood(context: Context, target: Target, deadline: float) -> str:
    """200,000 titanic.request of 1 KiB for a service nobody serves."""
    body = titanic.encode_request(titanic.Request(b"abuse.later", (b"x" * 1024,)))
    request = [b"", b"MDPC01", titanic.REQUEST_SERVICE, *body]
    sock = _sender(context, target.mdp)
    sent = accepted = 0
    try:
        while sent < 200_000 and time.monotonic() < deadline:
            try:
                sock.send_multipart(request)
            except zmq.Again:
                break
            sent += 1
            while sock.poll(0):
                frames = sock.recv_multipart()
                accepted += frames[3:4] == [b"200"]
    finally:
        sock.close()
    return f"{sent:,} x 1 KiB titanic.request ({accepted:,} seen accepted)"


def _publish_updates(
    context: Context, target: Target, deadline: float, count: int
) -> int:
    """KVSETs of 16 KiB over 100 keys through the collector; the number sent."""
    pub = context.socket(zmq.XPUB)
    pub.setsockopt(zmq.LINGER, 0)
    pub.setsockopt(zmq.SNDHWM, 0)
    pub.connect(target.clone.collector)
    if not pub.poll(5000):  # §1.6: the collector's subscription proves it listens
        pub.close()
        return 0
    pub.recv()
    body = b"v" * (16 * 1024)
    sent = 0
    try:
        while sent < count and time.monotonic() < deadline:
            key = b"/abuse/k%d" % (sent % 100)
            pub.send_multipart(
                clone.encode_kvmsg(clone.KvMsg(key, 0, uuid.uuid4().bytes, (), body))
            )
            sent += 1
            if sent % 500 == 0:
                time.sleep(0.05)  # a steady writer, not one burst
    finally:
        pub.close()
    return sent


def _subscriber(context: Context, target: Target) -> Socket:
    sub = context.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.connect(target.clone.publisher)
    time.sleep(0.5)  # §1.6: the subscription reaches the publisher
    return sub


def never_reading_subscriber(context: Context, target: Target, deadline: float) -> str:
    """A Clone subscriber that never reads while 20,000 updates of 16 KiB go out."""
    sub = _subscriber(context, target)
    try:
        sent = _publish_updates(context, target, deadline, 20_000)
    finally:
        sub.close()
    return f"{sent:,} x 16 KiB updates, 1 subscriber never reading"


def slow_reading_subscriber(context: Context, target: Target, deadline: float) -> str:
    """A Clone subscriber reading 80 messages a second while updates go out."""
    stop_reading = threading.Event()
    subscribed = threading.Event()
    read = [0]

    def reader() -> None:  # owns its SUB: made, read and closed on this thread
        sub = _subscriber(context, target)
        try:
            subscribed.set()
            while not stop_reading.wait(1 / 80):
                if sub.poll(0):
                    sub.recv_multipart()
                    read[0] += 1
        finally:
            sub.close()

    thread = threading.Thread(target=reader, name="slow-reader", daemon=True)
    thread.start()
    try:
        if not subscribed.wait(10):
            raise SystemExit("bench_abuse: the slow reader did not subscribe")
        sent = _publish_updates(context, target, deadline, 20_000)
    finally:
        stop_reading.set()
        thread.join(timeout=5)
        if thread.is_alive():
            raise ThreadStuck(
                "the slow reader did not stop within 5 s; its socket and the context "
                "are left open"
            )
    return f"{sent:,} x 16 KiB updates, 1 subscriber read {read[0]:,}"


PROBES: dict[str, Probe] = {
    "distinct_services": distinct_services,
    "big_requests": big_requests,
    "long_service_names": long_service_names,
    "big_frames": big_frames,
    "many_workers": many_workers,
    "titanic_flood": titanic_flood,
    "never_reading_subscriber": never_reading_subscriber,
    "slow_reading_subscriber": slow_reading_subscriber,
}


@contextmanager
def raspyd(folder: Path) -> Iterator[tuple[subprocess.Popen[bytes], Target, Path]]:
    """A raspyd on the default config with its own data dir and ports."""
    port_base = free_port(4)
    log_path = folder / "raspyd.log"
    process = start_raspyd(folder / "data", port_base, log_path=log_path)
    target = Target(
        process.pid,
        f"tcp://127.0.0.1:{port_base}",
        clone.Endpoints.from_port_base("127.0.0.1", port_base),
    )
    try:
        wait_for_echo(process, target.mdp, log_path)
        yield process, target, log_path
    finally:
        stop(process, 10.0)


def _refusals(endpoint: str) -> dict[str, int]:
    try:
        with Client(endpoint, timeout_s=10.0, retries=1) as client:
            _, document = client.request(f"{short_hostname()}.edge.statistics", "all")
    except ClientTimeout:
        return {"statistics_timeout": 1}
    values = json.loads(document)
    return {
        name: int(value["value"])
        for name, value in sorted(values.items())
        if name.startswith(("dropped.", "rejected.", "send_dropped"))
        and name != "dropped.shutdown"
    }


def _settled_refusals(endpoint: str) -> dict[str, int]:
    """The counters once the broker has read what was sent (two equal reads in a
    row, 0.5 s apart, at most 30 s)."""
    deadline = time.monotonic() + 30
    last = _refusals(endpoint)
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = _refusals(endpoint)
        if now == last:
            break
        last = now
    return last


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def run(name: str, probe: Probe, seconds: float) -> Row:
    with tempfile.TemporaryDirectory(prefix="raspy-abuse-") as tmp:
        with raspyd(Path(tmp)) as (_, target, log_path):
            log_start = log_path.stat().st_size
            context: Context = zmq.Context()
            started = time.monotonic()
            stuck = False
            try:
                sent = probe(context, target, started + seconds)
            except ThreadStuck:
                stuck = True
                raise
            finally:
                if not stuck:  # the probes' sockets are the main thread's by now
                    context.destroy(linger=0)
            elapsed = time.monotonic() - started
            echo = echo_ok(target.mdp, 10.0)
            refusals = _settled_refusals(target.mdp)
            peak = _peak_rss_mb(target.pid)
            written = log_path.read_bytes()[log_start:]
            log_seconds = time.monotonic() - started
        return Row(
            name,
            sent,
            elapsed,
            peak,
            len(written),
            written.count(b"\n"),
            log_seconds,
            refusals,
            echo,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="per probe")
    parser.add_argument("--only", choices=sorted(PROBES), action="append")
    args = parser.parse_args()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # many_workers
    names = args.only or list(PROBES)
    print(
        "| probe | sent | s | peak RSS MB | log bytes | log lines | log B/s "
        "| refusals | echo |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- |")
    worst = 0.0
    for name in names:
        row = run(name, PROBES[name], args.seconds)
        worst = max(worst, row.peak_rss_mb)
        refusals = ", ".join(f"{k} {v:,}" for k, v in row.refusals.items()) or "-"
        print(
            f"| {row.probe} | {row.sent} | {row.seconds:.1f} | {row.peak_rss_mb:.1f} "
            f"| {row.log_bytes:,} | {row.log_lines:,} "
            f"| {row.log_bytes / row.log_seconds:,.0f} | {refusals} "
            f"| {'yes' if row.echo_ok else 'NO'} |",
            flush=True,
        )
    verdict = "met" if worst <= TARGET_RSS_MB else "missed"
    print(f"\nworst peak RSS {worst:.1f} MB (target <= {TARGET_RSS_MB} MB: {verdict})")


if __name__ == "__main__":
    main()
