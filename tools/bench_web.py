"""Benchmark: the web face of one raspyd (issue 14).

Run:  .venv/bin/python tools/bench_web.py [--clients 20] [--seconds 10] [--graphs 20]

Starts raspyd with `[http] enabled`, simulated sensors (one logged) and history on,
logs in with a token from `raspy web-token`, then in one run:

1. live page: raspyd's CPU share of one core (utime + stime from /proc/<pid>/stat)
   over a window without browsers, then over a window of the same length with
   `--clients` Server-Sent-Events streams open (each reading every event, as the
   live page does). Target: the clients add < 5 % of one core.
2. graph page: `--graphs` requests of one sensor's device page with its 7-day graph
   (the daemon's history of the sensor is seeded with 7 days of points first, when
   the history module offers a way to); median and max time to the last byte.
   Target: <= 200 ms.

Everything binds 127.0.0.1; every loop is bounded; the raspyd started here is stopped
here (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import argparse
import http.client
import platform
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from benchproc import cpu_seconds, free_port, stop

from raspy.names import short_hostname

TARGET_ADDED_CPU_PCT = 5.0
TARGET_GRAPH_MS = 200.0
SENSORS = 8


def _config() -> str:
    lines = [
        'log_level = "warning"',
        "",
        "[history]",
        "enabled = true",
        "",
        "[http]",
        "enabled = true",
        "",
        "[devices]",
        "fake_enabled = true",
    ]
    for index in range(SENSORS):
        lines += [
            "",
            "[[devices.fake]]",
            f'name = "s{index}"',
            'oid = "sensor.temperature"',
            f"period_s = {30.0 + index * 7}",
            "poll_interval_s = 1.0",
            f"log = {'true' if index == 0 else 'false'}",
        ]
    return "\n".join(lines) + "\n"


def _exchange(
    port: int, method: str, path: str, body: str = "", cookie: str = ""
) -> tuple[int, list[str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        headers = {"Cookie": cookie} if cookie else {}
        if method == "POST":
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        connection.request(method, path, body=body.encode() or None, headers=headers)
        response = connection.getresponse()
        return (
            response.status,
            response.headers.get_all("set-cookie") or [],
            response.read(),
        )
    finally:
        connection.close()


def _login(port: int, token: str) -> str:
    deadline = time.monotonic() + 30
    while True:
        try:
            _, cookies, page = _exchange(port, "GET", "/login")
            break
        except ConnectionRefusedError:
            if time.monotonic() > deadline:
                raise SystemExit("the web face never listened") from None
            threading.Event().wait(0.2)
    login_cookie = cookies[0].split(";")[0]
    match = re.search(rb'name="csrf" value="([^"]+)"', page)
    assert match is not None
    status, cookies, _ = _exchange(
        port,
        "POST",
        "/login",
        f"csrf={match.group(1).decode()}&secret={token}",
        login_cookie,
    )
    session = next((c for c in cookies if c.startswith("raspy_session=")), "")
    if status != 303 or not session:
        raise SystemExit(f"login failed: {status}")
    return session.split(";")[0]


class Stream(threading.Thread):
    """One browser's /events stream: reads until told to stop; counts events."""

    def __init__(self, port: int, cookie: str, stop_event: threading.Event) -> None:
        super().__init__(daemon=True)
        self.port, self.cookie, self.stop_event = port, cookie, stop_event
        self.events = 0

    def run(self) -> None:
        with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
            request = f"GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {self.cookie}\r\n\r\n"
            sock.sendall(request.encode())
            while not self.stop_event.is_set():
                try:
                    chunk = sock.recv(65536)
                except TimeoutError:
                    continue
                if not chunk:
                    return
                self.events += chunk.count(b"event: kv")


def _cpu_pct(pid: int, seconds: float) -> float:
    start_cpu, start = cpu_seconds(pid), time.monotonic()
    threading.Event().wait(seconds)
    return 100.0 * (cpu_seconds(pid) - start_cpu) / (time.monotonic() - start)


def _graph_times(port: int, cookie: str, fullname: str, count: int) -> list[float]:
    times = []
    for _ in range(count):
        start = time.perf_counter()
        status, _, page = _exchange(
            port, "GET", f"/device/{fullname}?range=7d", cookie=cookie
        )
        times.append((time.perf_counter() - start) * 1000)
        if status != 200:
            raise SystemExit(f"graph page answered {status}")
    points = re.search(rb'data-points="(\d+)"', page)
    print(
        f"graph page: {points.group(1).decode() if points else '?'} points on the 7-day graph"
    )
    return times


def _seed_history(data_dir: Path, fullname: str) -> None:
    """Seven days of one point a minute, when the history module can write them."""
    try:
        from raspy.history import seed  # type: ignore[attr-defined]  # optional
    except ImportError:
        print(
            "graph page: no history seeding available; the graph has what was recorded"
        )
        return
    seed.seven_days(data_dir, f"/device/{fullname}/value")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--graphs", type=int, default=20)
    args = parser.parse_args()
    base = free_port(5)
    port = base + 4
    fullname = f"{short_hostname()}.fake.s0"
    with tempfile.TemporaryDirectory(prefix="bench-web-") as tmp:
        data_dir = Path(tmp) / "data"
        config = Path(tmp) / "raspyd.toml"
        config.write_text(_config(), encoding="utf-8")
        _seed_history(data_dir, fullname)
        token = subprocess.run(
            [
                sys.executable,
                "-m",
                "raspy.cli.raspy",
                "web-token",
                "--data-dir",
                str(data_dir),
            ],
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout.strip()
        daemon = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "raspy.cli.raspyd",
                "--data-dir",
                str(data_dir),
                "--port-base",
                str(base),
                "--config",
                str(config),
                "--allow-root",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        stop_event = threading.Event()
        streams: list[Stream] = []
        try:
            cookie = _login(port, token)
            threading.Event().wait(3.0)  # settle: every service started, first polls
            idle = _cpu_pct(daemon.pid, args.seconds)
            streams = [Stream(port, cookie, stop_event) for _ in range(args.clients)]
            for stream in streams:
                stream.start()
            threading.Event().wait(1.0)  # every stream connected and sent its snapshot
            busy = _cpu_pct(daemon.pid, args.seconds)
            stop_event.set()
            times = _graph_times(port, cookie, fullname, args.graphs)
        finally:
            stop_event.set()
            for stream in streams:
                stream.join(timeout=5)
            stop(daemon, 10)
    events = sum(s.events for s in streams)
    added = busy - idle
    print(
        f"machine: {platform.machine()} {platform.python_version()}, shared and loaded"
    )
    print(
        f"live page: daemon CPU {idle:.1f} % of one core without browsers, "
        f"{busy:.1f} % with {args.clients} SSE clients ({events} events read in "
        f"{args.seconds:g} s): +{added:.1f} points (target < {TARGET_ADDED_CPU_PCT:g}); "
        f"ratio {busy / idle if idle else float('inf'):.2f}"
    )
    median, worst = statistics.median(times), max(times)
    print(
        f"graph page (7 d): median {median:.1f} ms, max {worst:.1f} ms over "
        f"{len(times)} requests (target <= {TARGET_GRAPH_MS:g} ms)"
    )
    ok = added < TARGET_ADDED_CPU_PCT and median <= TARGET_GRAPH_MS
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
