"""Benchmark: the web face of one raspyd (issue 14).

Run:  .venv/bin/python tools/bench_web.py [--clients 20] [--seconds 10] [--graphs 20]

Starts raspyd with `[http] enabled`, simulated sensors (one logged) and history on,
logs in with a token from `raspy web-token`, then in one run:

1. live page: raspyd's CPU share of one core (utime + stime from /proc/<pid>/stat)
   over a window without browsers, then over a window of the same length with
   `--clients` Server-Sent-Events streams open (each reading every event, as the
   live page does). Target: the clients add < 5 % of one core.
2. graph page: `--graphs` requests of one sensor's device page with its 7-day graph
   (the sensor's history is seeded first with 7 days of one sample a minute, written
   to the store as the history actor would); median and max time to the last byte.
   Target: <= 200 ms.

Everything binds 127.0.0.1; every loop is bounded; the raspyd started here is stopped
here (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import argparse
import http.client
import math
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

from benchproc import cpu_seconds, free_port, http_exchange, start_raspyd, stop

from raspy.config import HistoryConfig
from raspy.history.recorder import Recorder
from raspy.history.tiers import parse_tiers
from raspy.names import short_hostname
from raspy.storage.store import Put, Store
from raspy.storage.tables import (
    Table,
    encode_history_row,
    history_row_key,
    recorded_key_record,
)

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
    return http_exchange(port, method, path, body, cookie, timeout_s=30.0)


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
    """What a browser waits for to show the graph: the page, then its chart."""
    times, page_times = [], []
    for _ in range(count):
        start = time.perf_counter()
        status, _, page = _exchange(
            port, "GET", f"/device/{fullname}?range=7d", cookie=cookie
        )
        page_times.append((time.perf_counter() - start) * 1000)
        match = re.search(rb'srcset="([^"]+)"', page)
        if status != 200 or match is None:
            raise SystemExit(f"graph page answered {status} without a chart")
        chart_path = match.group(1).decode().replace("&amp;", "&")
        status, _, svg = _exchange(port, "GET", chart_path, cookie=cookie)
        times.append((time.perf_counter() - start) * 1000)
        if status != 200 or not svg.startswith(b"<svg"):
            raise SystemExit(f"chart answered {status}")
    print(
        f"graph page alone: median {statistics.median(page_times):.1f} ms; its chart "
        f"alone: median {statistics.median(t - p for t, p in zip(times, page_times, strict=True)):.1f} ms"
    )
    points = _chart_points(port, cookie, chart_path)
    print(f"graph page: {points} points on the 7-day chart")
    return times


def _chart_points(port: int, cookie: str, path: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path, headers={"Cookie": cookie})
        response = connection.getresponse()
        response.read()
        return int(response.getheader("X-History-Points") or 0)
    finally:
        connection.close()


def _seed_history(data_dir: Path, fullname: str, now: float) -> int:
    """Seven days of one sample a minute for the sensor, written to the store the
    way the history actor flushes them (raw, 5-minute and 1-hour tiers)."""
    key = f"/device/{fullname}/value"
    recorder = Recorder(parse_tiers(HistoryConfig().tiers))
    start = now - 7 * 24 * 3600
    samples = 7 * 24 * 60
    for index in range(samples):
        t = start + index * 60.0
        recorder.record(
            key, t, 6.0 + 8.0 * math.sin(t / 14_400), lambda rows: [None] * len(rows)
        )
    ops: list[Put] = [Put(Table.HISTORY, *recorded_key_record(key))]
    for row, bucket in recorder.take_pending():
        ops.append(
            Put(
                Table.HISTORY,
                history_row_key(row.step_s, row.slot, row.key),
                encode_history_row(bucket),
            )
        )
    store = Store.open(data_dir)
    try:
        store.commit(ops)
    finally:
        store.close()
    return samples


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
        seeded = _seed_history(data_dir, fullname, time.time())
        print(f"graph page: {seeded} samples (7 days, one a minute) seeded")
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
        daemon = start_raspyd(data_dir, base, config=config, log_format=None)
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
        f"graph page + its chart (7 d): median {median:.1f} ms, max {worst:.1f} ms over "
        f"{len(times)} requests (target <= {TARGET_GRAPH_MS:g} ms)"
    )
    ok = added < TARGET_ADDED_CPU_PCT and median <= TARGET_GRAPH_MS
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
