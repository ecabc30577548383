"""Benchmark: how often an idle raspyd's threads wake up (a Pi pays for each).

Run:  .venv/bin/python tools/bench_idle.py [--seconds 20] [--tree DIR ...] [--mqtt]

Starts raspyd with a few `fake` sensors read once a minute (so the device poller runs
and is idle), lets it settle, then counts each thread's voluntary context switches
(/proc/PID/task/*/status: a thread that blocks and is woken again) over the window and
reports wake-ups per minute, in all and for the busiest threads (by their kernel name
and id: Python does not name its threads for the kernel). Each `--tree` (a source tree
of raspy with its own .venv, e.g. a detached worktree of an older commit) is run in
turn, on a raspyd started by that tree's .venv; without one, this tree. Everything
binds 127.0.0.1; the raspyd started here is stopped here (SIGTERM, then SIGKILL).
`--mqtt` also starts a Mosquitto (Debian's `mosquitto`, from PATH) on a free port and
turns the MQTT bridge on, so that its link idles connected; it is stopped here too.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from benchproc import cpu_seconds, free_port, start_raspyd, stop, wait_for_readings

HERE = Path(__file__).resolve().parent.parent
SETTLE_S = 5.0


def _config(devices: int, mqtt_port: int | None) -> str:
    lines = ['log_level = "warning"', "", "[devices]", "fake_enabled = true"]
    for index in range(devices):
        lines += [
            "",
            "[[devices.fake]]",
            f'name = "s{index}"',
            'oid = "sensor.temperature"',
            "poll_interval_s = 60.0",
        ]
    if mqtt_port is not None:
        lines += ["", "[mqtt]", "enabled = true", 'host = "127.0.0.1"']
        lines += [f"port = {mqtt_port}"]
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def _mosquitto(scratch: Path, wanted: bool) -> Iterator[int | None]:
    """A Mosquitto on 127.0.0.1 for the run (its port), or None when not wanted."""
    if not wanted:
        yield None
        return
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    port = free_port(1)
    conf = scratch / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n",
        encoding="utf-8",
    )
    broker = subprocess.Popen(
        [binary, "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield port
    finally:
        stop(broker, 5.0)


def _switches(pid: int) -> dict[str, int]:
    """Voluntary context switches per thread, keyed `<kernel name>:<wait>/<tid>`
    (the kernel function it sleeps in: futex_* for a lock or Condition, poll or epoll
    for a zmq.Poller)."""
    counts: dict[str, int] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            name += ":" + (task / "wchan").read_text().strip()  # what it waits in
            status = (task / "status").read_text()
        except OSError:  # the thread ended meanwhile
            continue
        for line in status.splitlines():
            if line.startswith("voluntary_ctxt_switches:"):
                counts[f"{name}/{task.name}"] = int(line.split()[1])
    return counts


def _measure(tree: Path, seconds: float, devices: int, top: int, mqtt: bool) -> None:
    with (
        tempfile.TemporaryDirectory(prefix="raspy-bench-idle-") as scratch,
        _mosquitto(Path(scratch), mqtt) as mqtt_port,
    ):
        config = Path(scratch) / "bench.toml"
        config.write_text(_config(devices, mqtt_port), encoding="utf-8")
        base = free_port(8)
        python = tree / ".venv" / "bin" / "python"  # its editable install of raspy
        if not python.exists():
            raise SystemExit(f"{tree}: no .venv (make .venv/.stamp there first)")
        process = start_raspyd(
            Path(scratch) / "data", base, config=config, python=str(python)
        )
        try:
            if not wait_for_readings(base, 30.0):
                raise SystemExit(f"{tree}: raspyd published no reading in 30 s")
            time.sleep(SETTLE_S)  # start-up work done (a benchmark, not a test)
            before, cpu_before = _switches(process.pid), cpu_seconds(process.pid)
            time.sleep(seconds)
            after, cpu_after = _switches(process.pid), cpu_seconds(process.pid)
        finally:
            stop(process, 10.0)
    per_min = {
        k: (after[k] - before.get(k, 0)) * 60.0 / seconds for k in after
    }  # a thread born in the window counts from 0
    total = sum(per_min.values())
    commit = subprocess.run(
        ["git", "-C", str(tree), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    print(f"{tree} ({commit or 'no git'}): {len(after)} threads, idle {seconds:.0f} s")
    print(f"  wake-ups/min, all threads: {total:.0f}")
    print(f"  CPU: {(cpu_after - cpu_before) / seconds * 100:.2f} % of one core")
    for key, rate in sorted(per_min.items(), key=lambda kv: -kv[1])[:top]:
        print(f"  {rate:8.1f}/min  {key}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--devices", type=int, default=3)
    parser.add_argument("--top", type=int, default=8, help="busiest threads shown")
    parser.add_argument("--tree", type=Path, action="append", default=[])
    parser.add_argument("--mqtt", action="store_true", help="the bridge on, connected")
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, load {os.getloadavg()[0]:.1f}")
    for tree in args.tree or [HERE]:
        _measure(tree.resolve(), args.seconds, args.devices, args.top, args.mqtt)


if __name__ == "__main__":
    main()
