"""Benchmark: the SD card's write budget of raspyd (issue 17).

Run:  .venv/bin/python tools/bench_wear.py [--sensors 20 200] [--seconds 60]

For each sensor count, starts raspyd twice on a fresh data dir on a real disk (under
var/, not a tmpfs): once with every update durable (`store.coalesce_interval_s = 0`,
the behaviour before issue 17) and once with the defaults (readings coalesced, one
group commit a minute). Simulated temperature sensors are polled every 10 s; nothing
else happens. Over a bounded window it reads the daemon's /proc/PID/io (`write_bytes`:
what the kernel wrote to disk for it; `wchar`: bytes passed to write() and friends,
including its log lines) and its CPU time, and prints them per hour with the ratios.
Targets: <= 5 MB/h with 20 sensors, CPU < 1 % of a core, bytes growing at most
linearly with sensors. The raspyd started here is stopped here (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time
from dataclasses import dataclass
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

TARGET_MB_PER_H = 5.0
TARGET_CPU_PCT = 1.0
_MB = 1024 * 1024
_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Case:
    sensors: int
    coalesced: bool


def _config(case: Case, interval_s: float) -> str:
    lines = ["[store]", f"coalesce_interval_s = {60.0 if case.coalesced else 0.0}"]
    lines += ["", "[devices]", "fake_enabled = true"]
    for index in range(case.sensors):
        lines += [
            "",
            "[[devices.fake]]",
            f'name = "t{index:03d}"',
            'oid = "sensor.temperature"',
            f"period_s = {600.0 + index}",
            f"poll_interval_s = {interval_s}",
        ]
    return "\n".join(lines) + "\n"


def measure(
    case: Case, scratch: Path, interval_s: float, warmup_s: float, seconds: float
) -> dict[str, float]:
    """One raspyd, one window; figures per hour."""
    base = free_port(4)
    work = scratch / f"{case.sensors}-{'coalesced' if case.coalesced else 'durable'}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    config = work / "raspyd.toml"
    config.write_text(_config(case, interval_s), encoding="utf-8")
    log_path = work / "raspyd.log"
    daemon = start_raspyd(work / "data", base, config=config, log_path=log_path)
    try:
        if not wait_for_readings(base, 20.0):
            print(log_path.read_text()[-2000:], file=sys.stderr)
            raise SystemExit("bench_wear: no device readings from raspyd")
        time.sleep(warmup_s)  # a benchmark, not a test: let start-up writes settle
        io0, cpu0, log0, t0 = (
            proc_io(daemon.pid),
            cpu_seconds(daemon.pid),
            log_path.stat().st_size,
            time.monotonic(),
        )
        time.sleep(seconds)
        io1, cpu1, log1, t1 = (
            proc_io(daemon.pid),
            cpu_seconds(daemon.pid),
            log_path.stat().st_size,
            time.monotonic(),
        )
    finally:
        stop(daemon, wait_s=20)
    per_h = 3600.0 / (t1 - t0)
    return {
        "sensors": case.sensors,
        "coalesced": case.coalesced,
        "window_s": round(t1 - t0, 1),
        "write_mb_per_h": round(
            (io1["write_bytes"] - io0["write_bytes"]) * per_h / _MB, 2
        ),
        "wchar_mb_per_h": round((io1["wchar"] - io0["wchar"]) * per_h / _MB, 2),
        "syscw_per_h": round((io1["syscw"] - io0["syscw"]) * per_h),
        "log_kb_per_h": round((log1 - log0) * per_h / 1024, 1),
        "cpu_pct_of_one_core": round((cpu1 - cpu0) / (t1 - t0) * 100.0, 2),
    }


def _ratio(before: float, after: float) -> str:
    if after > 0:
        return f"{before / after:.0f}x"
    return "inf" if before > 0 else "n/a (nothing written: a longer --seconds)"


def run(
    sensors: list[int],
    interval_s: float,
    warmup_s: float,
    seconds: float,
    scratch: Path,
) -> int:
    print(f"data dirs under {scratch} (filesystem: {fs_type(scratch)})")
    rows: list[dict[str, float]] = []
    for count in sensors:
        for coalesced in (False, True):
            row = measure(
                Case(count, coalesced), scratch, interval_s, warmup_s, seconds
            )
            print(json.dumps(row))
            rows.append(row)
    print()
    print(
        f"{'sensors':>7} {'class':>9} {'write MB/h':>10} {'wchar MB/h':>10} "
        f"{'log kB/h':>8} {'CPU %':>6}"
    )
    for row in rows:
        kind = "coalesced" if row["coalesced"] else "durable"
        print(
            f"{row['sensors']:>7} {kind:>9} {row['write_mb_per_h']:>10} "
            f"{row['wchar_mb_per_h']:>10} {row['log_kb_per_h']:>8} "
            f"{row['cpu_pct_of_one_core']:>6}"
        )
    for before, after in zip(rows[::2], rows[1::2], strict=True):
        print(
            f"{before['sensors']} sensors, durable/coalesced: write_bytes "
            f"{_ratio(before['write_mb_per_h'], after['write_mb_per_h'])}, wchar "
            f"{_ratio(before['wchar_mb_per_h'], after['wchar_mb_per_h'])}"
        )
    after_rows = [r for r in rows if r["coalesced"]]
    if len(after_rows) >= 2:
        low, high = after_rows[0], after_rows[-1]
        grows = (high["write_mb_per_h"] / max(low["write_mb_per_h"], 1e-9)) / (
            high["sensors"] / low["sensors"]
        )
        print(
            f"coalesced write_bytes growth per sensor, {high['sensors']} vs "
            f"{low['sensors']}: {grows:.2f} of linear"
        )
    first = after_rows[0]
    mb_ok = first["write_mb_per_h"] <= TARGET_MB_PER_H
    cpu_ok = first["cpu_pct_of_one_core"] < TARGET_CPU_PCT
    print(
        f"{first['sensors']} sensors coalesced <= {TARGET_MB_PER_H} MB/h: "
        f"{'met' if mb_ok else 'MISSED'}"
    )
    print(f"CPU < {TARGET_CPU_PCT} % of a core: {'met' if cpu_ok else 'MISSED'}")
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, load average {os.getloadavg()[0]:.2f}; "
        "no sensor has log = true, so history records nothing here: "
        "tools/bench_history.py measures it"
    )
    return 0  # a benchmark reports; it is not a timed test


# (name, lmdb.open options, durable?) for the --lmdb probe
_LMDB_MODES: tuple[tuple[str, dict[str, bool], bool], ...] = (
    ("sync+metasync (raspy)", {}, True),
    ("metasync=False", {"metasync": False}, False),
    ("writemap", {"writemap": True}, True),
    # MDB_MAPASYNC: msync(MS_ASYNC), so a power cut may lose the last commits
    ("writemap+map_async", {"writemap": True, "map_async": True}, False),
    ("sync=False", {"sync": False}, False),
)


def lmdb_probe(scratch: Path, commits: int) -> int:
    """Bytes the kernel writes per commit of one small Clone-sized update under each
    LMDB mode (this process's /proc/self/io), and per update in one commit of many.

    Imports lmdb itself: it measures options that Store deliberately does not expose.
    """
    import lmdb  # only this probe needs the library directly

    print(f"LMDB modes, {commits} commits each, under {scratch} ({fs_type(scratch)})")
    value = b"x" * 120
    for name, options, durable in _LMDB_MODES:
        path = scratch / "lmdb-probe" / name.replace(" ", "_").replace("+", "_")
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
        env = lmdb.open(str(path), map_size=64 * _MB, max_dbs=4, **options)
        kv, meta = env.open_db(b"kv"), env.open_db(b"kv.meta")
        keys = [b"/device/t%03d/value" % i for i in range(20)]
        with env.begin(write=True) as txn:  # the keys exist, as in a running hub
            for key in keys:
                txn.put(key, value, db=kv)
        env.sync(True)
        io0 = proc_io(os.getpid())
        for index in range(commits):
            with env.begin(write=True) as txn:
                txn.put(keys[index % len(keys)], value, db=kv)
                txn.put(b"last_seq", index.to_bytes(8, "big"), db=meta)
        env.sync(True)  # what the kernel still holds counts too
        io1 = proc_io(os.getpid())
        with env.begin(write=True) as txn:  # the same updates in one group commit
            for index in range(commits):
                txn.put(keys[index % len(keys)], value, db=kv)
            txn.put(b"last_seq", commits.to_bytes(8, "big"), db=meta)
        env.sync(True)
        io2 = proc_io(os.getpid())
        env.close()
        each = (io1["write_bytes"] - io0["write_bytes"]) / commits
        grouped = (io2["write_bytes"] - io1["write_bytes"]) / commits
        print(
            f"{name:>24}: {each / 1024:6.1f} kB per commit, "
            f"{grouped / 1024:6.2f} kB per update in one commit; "
            f"{'durable' if durable else 'NOT durable at a power cut'}"
        )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sensors", type=int, nargs="+", default=[20, 200])
    parser.add_argument("--interval", type=float, default=10.0, help="poll interval s")
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds")
    parser.add_argument("--seconds", type=float, default=60.0, help="measured window")
    parser.add_argument(
        "--scratch",
        type=Path,
        default=_ROOT / "var" / "bench-wear",
        help="where the data dirs go (a real disk)",
    )
    parser.add_argument(
        "--lmdb",
        type=int,
        metavar="COMMITS",
        help="instead: probe LMDB's sync modes with this many commits each",
    )
    args = parser.parse_args()
    if args.lmdb is not None:
        return lmdb_probe(args.scratch, min(args.lmdb, 5000))
    if args.seconds > 300 or args.warmup > 120:
        parser.error("keep it bounded: --seconds <= 300, --warmup <= 120")
    return run(args.sensors, args.interval, args.warmup, args.seconds, args.scratch)


if __name__ == "__main__":
    sys.exit(main())
