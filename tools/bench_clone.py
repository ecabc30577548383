"""Benchmark: raspyd's Clone server against Mosquitto with retained messages.

One run, same machine, same client language (Python): updates/s at 10k and 100k keys
(each update to its own key, end to end: sent, accepted, stored, published and
received by a subscriber; at most WINDOW updates in flight), the time to read a full
100k-key snapshot (Clone ICANHAZ? vs an MQTT subscribe to 100k retained topics), and
each server's RSS before and after. Installs Mosquitto (Debian package) and paho-mqtt
(into this venv) when missing; starts both servers on 127.0.0.1 and stops them.
`--no-mqtt` measures raspyd alone. The two loads are bench_clone_load.py's.

Then how long one confirmed write takes on an idle hub, median of `--sets` runs: a raw
KVSET round trip on connected sockets (sent, stored, published, seen), `raspy-kv set`
run in-process (connect, wait until the hub hears us, write, see it published, close)
and as a new process (the same plus starting Python).

Last, in-process publishes (ClonePublisher) into a Clone server in this process,
`--inproc` updates per case (bench_clone_inproc.py; 0 skips them).

    .venv/bin/python tools/bench_clone.py [--keys 10000 100000] [--no-mqtt]
                                          [--sets 20] [--inproc 20000] [--json FILE]
                                          [--config RASPYD_TOML]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final

import bench_clone_inproc
import zmq
from bench_clone_load import CloneLoad, MqttLoad
from benchproc import cpu_seconds, free_port, is_free, rss_mb, stop

from raspy.cli import kv
from raspy.client.clone import fetch_snapshot
from raspy.errors import ClientTimeout
from raspy.protocol import clone

_MB: Final = 1024 * 1024


# --- set-up ---------------------------------------------------------------------------


def ensure_mosquitto() -> str:
    path = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin")
    if path is None:
        print("installing mosquitto (apt-get)...", flush=True)
        env = {"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/bin"}
        install = ["apt-get", "install", "-y", "--no-install-recommends", "mosquitto"]
        if subprocess.run(install, env=env, check=False).returncode != 0:
            subprocess.run(["apt-get", "update"], env=env, check=True)
            subprocess.run(install, env=env, check=True)
        path = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin")
    if path is None:
        raise SystemExit("bench_clone: mosquitto is not installed")
    return path


def ensure_paho() -> Any:
    try:
        return importlib.import_module("paho.mqtt.client")
    except ModuleNotFoundError:
        print("installing paho-mqtt (pip)...", flush=True)
        pip = [sys.executable, "-m", "pip", "install", "--quiet", "paho-mqtt>=2,<3"]
        subprocess.run(pip, check=True)
        return importlib.import_module("paho.mqtt.client")


@contextlib.contextmanager
def started(args: list[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A server process that is always stopped (SIGTERM, then SIGKILL) at the end."""
    with log.open("wb") as out:
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        if process.poll() is None:
            stop(process, wait_s=15)


def wait_for(check: Callable[[], bool], what: str, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"bench_clone: {what} did not come up")
        threading.Event().wait(0.1)


# --- the run --------------------------------------------------------------------------------


def run(
    key_counts: list[int],
    snapshots: int,
    *,
    with_mqtt: bool,
    sets: int,
    config_file: Path | None = None,
) -> dict[str, Any]:
    mosquitto = ensure_mosquitto() if with_mqtt else ""
    mqtt = ensure_paho() if with_mqtt else None
    results: dict[str, Any] = {"clone": {}}
    if with_mqtt:
        results["mosquitto"] = {}
    with tempfile.TemporaryDirectory(prefix="bench-clone-") as tmp:
        tmpdir = Path(tmp)
        mqtt_port = free_port()
        config = tmpdir / "mosquitto.conf"
        # no limits on what is queued for a slow reader, so that Mosquitto, like
        # Clone, never drops part of a snapshot (its defaults drop QoS 0 messages)
        config.write_text(
            f"listener {mqtt_port} 127.0.0.1\nallow_anonymous true\n"
            "persistence false\nmax_inflight_messages 0\nmax_queued_messages 0\n"
            "queue_qos0_messages true\n"
        )
        base = free_port(4)
        raspyd = [
            sys.executable, "-m", "raspy.cli.raspyd", "--data-dir", str(tmpdir / "data"),
            "--port-base", str(base), "--log-format", "json", "--log-level", "warning",
            "--allow-root",
        ]  # fmt: skip
        if config_file is not None:  # e.g. [clone] max_value_bytes: a smaller SNDHWM
            raspyd += ["--config", str(config_file.resolve())]
        mosquitto_args = [mosquitto, "-c", str(config)]
        with contextlib.ExitStack() as stack:
            clone_proc = stack.enter_context(started(raspyd, tmpdir / "raspyd.log"))
            endpoints = clone.Endpoints.from_port_base("127.0.0.1", base)
            wait_for(lambda: _clone_up(endpoints), "raspyd's Clone server")
            pids = {"clone": clone_proc.pid}
            context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
            stack.callback(context.term)
            clone_load = CloneLoad(context, base)
            stack.callback(clone_load.close)
            loads: dict[str, Any] = {"clone": clone_load}
            if with_mqtt:
                log = tmpdir / "mosquitto.log"
                pids["mosquitto"] = stack.enter_context(
                    started(mosquitto_args, log)
                ).pid
                wait_for(lambda: not is_free(mqtt_port), "mosquitto")
                loads["mosquitto"] = MqttLoad(mqtt, mqtt_port)
                stack.callback(loads["mosquitto"].close)
            _measure(results, pids, loads, key_counts, snapshots)
            if sets:
                results["clone"].update(_set_latency(base, clone_load, sets))
    return results


def _set_latency(base: int, load: CloneLoad, count: int) -> dict[str, float]:
    """Median ms of a confirmed write: raw round trip, raspy-kv in-process and as a
    new process, one after another on an otherwise idle hub."""
    server = ["--server", f"127.0.0.1:{base}"]
    raw, inproc, process = [], [], []
    for i in range(count):
        started_at = time.perf_counter()
        load.round_trip(b"/bench/rtt/%d" % i)
        raw.append(time.perf_counter() - started_at)
        started_at = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            status = kv.main(["set", *server, f"/bench/cli/{i}", "on"])
        inproc.append(time.perf_counter() - started_at)
        if status != 0:
            raise SystemExit(f"bench_clone: raspy-kv set exited {status}")
        cli = [
            sys.executable,
            "-m",
            "raspy.cli.kv",
            "set",
            *server,
            f"/bench/p/{i}",
            "1",
        ]
        started_at = time.perf_counter()
        subprocess.run(cli, check=True, capture_output=True, timeout=30)
        process.append(time.perf_counter() - started_at)
    figures = {
        "set_raw_round_trip_ms": statistics.median(raw) * 1000,
        "set_raspy_kv_inprocess_ms": statistics.median(inproc) * 1000,
        "set_raspy_kv_process_ms": statistics.median(process) * 1000,
    }
    for name, value in figures.items():
        print(f"clone      {name}: {value:8.1f} (median of {count})", flush=True)
    ratio = figures["set_raspy_kv_inprocess_ms"] / figures["set_raw_round_trip_ms"]
    print(f"clone      raspy-kv set in-process / raw round trip: {ratio:.1f} x")
    return figures


def _clone_up(endpoints: clone.Endpoints) -> bool:
    try:
        fetch_snapshot(endpoints, timeout_s=0.5)
    except ClientTimeout:
        return False
    return True


def _measure(
    results: dict[str, Any],
    pids: dict[str, int],
    loads: dict[str, Any],
    key_counts: list[int],
    snapshots: int,
) -> None:
    for server, pid in pids.items():
        results[server]["rss_before_mb"] = rss_mb(pid)
    for count in key_counts:
        name = f"{count // 1000}k"
        for server, load in loads.items():
            used = cpu_seconds(pids[server])
            elapsed = load.updates(_prefix(server, name), count)
            used = cpu_seconds(pids[server]) - used
            results[server][f"updates_per_s_{name}"] = count / elapsed
            results[server][f"server_cpu_us_per_update_{name}"] = used / count * 1e6
            print(
                f"{server:<10} {count:>7} updates: {count / elapsed:8.0f} /s, "
                f"server CPU {used / count * 1e6:6.1f} µs/update",
                flush=True,
            )
    biggest = max(key_counts)
    name = f"{biggest // 1000}k"
    for server, load in loads.items():
        times, used = [], cpu_seconds(pids[server])
        for _ in range(snapshots):
            times.append(load.snapshot(_prefix(server, name), biggest))
        used = (cpu_seconds(pids[server]) - used) / snapshots
        results[server][f"snapshot_s_{name}"] = min(times)
        results[server][f"snapshot_server_cpu_s_{name}"] = used
        shown = ", ".join(f"{t:.2f}" for t in times)
        print(
            f"{server:<10} snapshot of {biggest}: best {min(times):.2f} s ({shown}), "
            f"server CPU {used:.2f} s each",
            flush=True,
        )
    for server, pid in pids.items():
        results[server]["rss_after_mb"] = rss_mb(pid)
    for server in pids:
        row = results[server]
        row["rss_growth_mb"] = row["rss_after_mb"] - row["rss_before_mb"]
        print(
            f"{server:<10} RSS {row['rss_before_mb']:.1f} -> {row['rss_after_mb']:.1f} MB"
            f" (+{row['rss_growth_mb']:.1f})"
        )


def _prefix(server: str, name: str) -> Any:
    return name.encode() if server == "clone" else name


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--snapshots", type=int, default=3, help="runs; best counts")
    parser.add_argument("--no-mqtt", action="store_true", help="raspyd alone")
    parser.add_argument("--sets", type=int, default=20, help="confirmed writes timed")
    parser.add_argument("--inproc", type=int, default=20_000, help="updates a case")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--config", type=Path, help="raspyd's config file (TOML)")
    args = parser.parse_args()
    results = run(
        args.keys,
        args.snapshots,
        with_mqtt=not args.no_mqtt,
        sets=args.sets,
        config_file=args.config,
    )
    if args.inproc > 0:
        inproc = bench_clone_inproc.run(args.inproc, rounds=3)
        bench_clone_inproc.report(inproc, None)
        results["clone"].update(inproc)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
