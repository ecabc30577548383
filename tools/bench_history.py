"""Benchmark: what the value recorder (issue 14) costs the SD card, and how fast a
7-day graph is served.

Run:  .venv/bin/python tools/bench_history.py [--sensors 20] [--seconds 125]

Starts raspyd twice on fresh data dirs on a real disk (under var/), side by side in
one run: history off (`[history] enabled = false`) and history on, with `--sensors`
simulated temperature sensors polled every 10 s, all with `log = true`, and the
default tiers and flush interval (300 s: a window should hold at least two flushes,
`--seconds 600`).
Before the history-on daemon starts, its store is filled with a full history of every
sensor (every slot of every tier, as after five years of uptime), so the B-tree has
its final depth and each flush dirties as many pages as it ever will. Over a bounded
window it reads /proc/PID/io `write_bytes` (what the kernel accounts to it as written
to disk: on kernels with large page-cache folios, a whole folio per dirtied page) and
`wchar` (what it handed to write()), and prints MB per hour, on/off. Then it
times `<host>.logger.history` 7-day queries of one sensor over MDP (a full 5-minute
tier: 2016 slots read) and prints the median and worst. Targets: <= 5 MB/h with 20
sensors, <= 200 ms a query. Every raspyd started here is stopped here.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import time
from pathlib import Path

from benchproc import (
    cpu_seconds,
    free_port,
    fs_type,
    proc_io,
    start_raspyd,
    stop,
    wait_for_readings,
)

from raspy.client.mdp import Client
from raspy.config import StoreConfig
from raspy.history.tiers import parse_tiers
from raspy.names import short_hostname
from raspy.storage.store import Put, Store
from raspy.storage.tables import (
    HistoryRow,
    Table,
    encode_history_row,
    history_row_key,
    recorded_key_record,
)

TARGET_MB_PER_H = 5.0
TARGET_QUERY_MS = 200.0
_TIERS = ("10s:48h", "5m:30d", "1h:5y")  # the defaults
_MB = 1024 * 1024
_ROOT = Path(__file__).resolve().parent.parent


def _config(sensors: int, history: bool) -> str:
    lines = ["[history]", f"enabled = {'true' if history else 'false'}"]
    lines += ["", "[devices]", "fake_enabled = true"]
    for index in range(sensors):
        lines += [
            "",
            "[[devices.fake]]",
            f'name = "t{index:03d}"',
            'oid = "sensor.temperature"',
            f"period_s = {600.0 + index}",
            "poll_interval_s = 10.0",
            "log = true",
        ]
    return "\n".join(lines) + "\n"


def _key(index: int) -> str:
    return f"/device/{short_hostname()}.fake.t{index:03d}/value"


def prefill(data: Path, sensors: int, now: float) -> int:
    """Every slot of every tier of every sensor, ending now; returns the rows.
    Written in key order, in commits of 100 000 rows."""
    ops: list[Put] = [
        Put(Table.HISTORY, *recorded_key_record(_key(i))) for i in range(sensors)
    ]
    for tier in parse_tiers(_TIERS):
        last = tier.start_of(now) - tier.step_s
        count = 1 if tier.raw else tier.step_s // 10
        for step in range(tier.slots):
            t = float(last - step * tier.step_s)
            value = 20.0 + (step % 50) / 10
            row = (
                HistoryRow(t, 1, value, value, value)
                if tier.raw
                else HistoryRow(t, count, value * count, value - 1, value + 1)
            )
            encoded = encode_history_row(row)
            slot = tier.slot_of(t)
            ops += [
                Put(Table.HISTORY, history_row_key(tier.step_s, slot, _key(i)), encoded)
                for i in range(sensors)
            ]
    ops.sort(key=lambda op: op.key)
    store = Store.open(data, StoreConfig())
    try:
        for start in range(0, len(ops), 100_000):
            store.commit(ops[start : start + 100_000])
    finally:
        store.close()
    evict_page_cache(data / "data.mdb")
    return len(ops) - sensors


def evict_page_cache(path: Path) -> None:
    """Drop the file's pages from the page cache, as after a reboot: the bulk write
    above leaves it cached in large blocks, which a daemon that has run for days does
    not have (and which would inflate every later page write's write-back)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def _query_ms(base: int, repeats: int) -> list[float]:
    """Round trips of 7-day queries of one sensor, in ms."""
    body = json.dumps(
        {"v": 1, "action": "history", "key": _key(0), "since": time.time() - 7 * 86400}
    )
    timings = []
    with Client(f"tcp://127.0.0.1:{base}", timeout_s=10, retries=1) as client:
        for _ in range(repeats):
            started = time.perf_counter()
            status, reply = client.request(f"{short_hostname()}.logger.history", body)
            timings.append((time.perf_counter() - started) * 1000)
            points = len(json.loads(reply)["points"])
            if status != b"200" or points < 600:  # 2016 steps merged by 3
                raise SystemExit(
                    f"bench_history: 7-day query: {status!r}, {points} points"
                )
    return timings


def measure(
    history: bool, sensors: int, scratch: Path, warmup_s: float, seconds: float
) -> dict[str, float]:
    base = free_port(4)
    work = scratch / ("on" if history else "off")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    rows = 0
    if history:
        started = time.monotonic()
        rows = prefill(work / "data", sensors, time.time())
        print(f"prefilled {rows} rows in {time.monotonic() - started:.1f} s")
    config = work / "raspyd.toml"
    config.write_text(_config(sensors, history), encoding="utf-8")
    log_path = work / "raspyd.log"
    daemon = start_raspyd(work / "data", base, config=config, log_path=log_path)
    try:
        if not wait_for_readings(base, 20.0):
            print(log_path.read_text()[-2000:], file=sys.stderr)
            raise SystemExit("bench_history: no device readings from raspyd")
        time.sleep(warmup_s)  # a benchmark, not a test: let start-up writes settle
        io0, cpu0, t0 = proc_io(daemon.pid), cpu_seconds(daemon.pid), time.monotonic()
        time.sleep(seconds)
        io1, cpu1, t1 = proc_io(daemon.pid), cpu_seconds(daemon.pid), time.monotonic()
        timings = _query_ms(base, 7) if history else []
    finally:
        stop(daemon, wait_s=20)
    per_h = 3600.0 / (t1 - t0)
    return {
        "history": history,
        "sensors": sensors,
        "prefilled_rows": rows,
        "window_s": round(t1 - t0, 1),
        "write_mb_per_h": round(
            (io1["write_bytes"] - io0["write_bytes"]) * per_h / _MB, 2
        ),
        "wchar_mb_per_h": round((io1["wchar"] - io0["wchar"]) * per_h / _MB, 2),
        "cpu_pct_of_one_core": round((cpu1 - cpu0) / (t1 - t0) * 100.0, 2),
        "query_7d_ms_median": round(statistics.median(timings), 1) if timings else 0.0,
        "query_7d_ms_max": round(max(timings), 1) if timings else 0.0,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sensors", type=int, default=20)
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds")
    parser.add_argument("--seconds", type=float, default=125.0, help="measured window")
    parser.add_argument(
        "--scratch",
        type=Path,
        default=_ROOT / "var" / "bench-history",
        help="where the data dirs go (a real disk)",
    )
    args = parser.parse_args()
    if args.seconds > 600 or args.warmup > 120 or not 1 <= args.sensors <= 200:
        parser.error(
            "keep it bounded: --seconds <= 600, --warmup <= 120, 1..200 sensors"
        )
    print(
        f"data dirs under {args.scratch} (filesystem: {fs_type(args.scratch.parent)})"
    )
    off = measure(False, args.sensors, args.scratch, args.warmup, args.seconds)
    print(json.dumps(off))
    on = measure(True, args.sensors, args.scratch, args.warmup, args.seconds)
    print(json.dumps(on))
    added = on["write_mb_per_h"] - off["write_mb_per_h"]
    ratio = on["write_mb_per_h"] / off["write_mb_per_h"] if off["write_mb_per_h"] else 0
    print(
        f"{args.sensors} sensors @ 10 s: write_bytes {off['write_mb_per_h']} MB/h "
        f"history off, {on['write_mb_per_h']} MB/h on ({ratio:.2f}x, +{added:.2f} MB/h); "
        f"<= {TARGET_MB_PER_H} MB/h: {'met' if on['write_mb_per_h'] <= TARGET_MB_PER_H else 'MISSED'}"
    )
    print(
        f"wchar (bytes raspyd handed to write(), log lines included): "
        f"{off['wchar_mb_per_h']} MB/h off, {on['wchar_mb_per_h']} MB/h on"
    )
    print(
        f"7-day query of one sensor: median {on['query_7d_ms_median']} ms, worst "
        f"{on['query_7d_ms_max']} ms ({on['query_7d_ms_median'] / TARGET_QUERY_MS:.2f} "
        f"of the {TARGET_QUERY_MS:.0f} ms target): "
        f"{'met' if on['query_7d_ms_max'] <= TARGET_QUERY_MS else 'MISSED'}"
    )
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, load average {os.getloadavg()[0]:.2f} (shared)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
