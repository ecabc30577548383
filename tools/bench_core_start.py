"""Benchmark: how long the scenario engine's start takes with N stored scenarios.

Run:  .venv/bin/python tools/bench_core_start.py [--scenarios 200 500] [--runs 3]

For each N: one raspyd (127.0.0.1 only) is given N scenarios through
`<host>.core.scenario` (bench_core.py's rule, one per dimmer key), stopped, and
started again --runs times on the same data. Each start's figure is the time from
`component_started component=core` (the supervisor starts watching the start) to
`core_started` (its on_start done: every stored scenario compiled and its actor
started): what supervisor.start_hung_after_s must cover on the hub's machine. Every
loop is bounded; what is started is stopped.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from bench_core_hub import HOST, ask, scenario, wait_for_service
from benchproc import free_port, start_raspyd, stop

from raspy.client.mdp import Client

_CONFIG = f"""hostname = "{HOST}"
log_level = "info"

[core]
enabled = true
timezone = "UTC"
"""


def _event_time(log_path: Path, event: str, component: str | None = None) -> float:
    """The timestamp (s) of the first `event` line in raspyd's JSON log."""
    for line in log_path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("event") == event and (
            component is None or entry.get("component") == component
        ):
            return datetime.fromisoformat(entry["timestamp"]).timestamp()
    raise SystemExit(f"bench_core_start: no {event} in {log_path}")


def _start(scratch: Path, base: int, name: str) -> tuple[float, Path]:
    """Start raspyd on the scratch data, wait for the core's service, stop it;
    return the core's start in seconds and the log."""
    log_path = scratch / f"{name}.log"
    process = start_raspyd(
        scratch / "data", base, config=scratch / "bench.toml", log_path=log_path
    )
    try:
        with Client(f"tcp://127.0.0.1:{base}", timeout_s=1.0, retries=1) as probe:
            wait_for_service(probe, 600.0)
        _event_time(log_path, "core_started")  # said before the service's READY
    finally:
        stop(process, wait_s=30)
    began = _event_time(log_path, "component_started", "core")
    return _event_time(log_path, "core_started") - began, log_path


def measure(count: int, runs: int) -> dict[str, object]:
    base = free_port(4)
    with tempfile.TemporaryDirectory(prefix="raspy-bench-core-start-") as scratch_dir:
        scratch = Path(scratch_dir)
        (scratch / "bench.toml").write_text(_CONFIG, encoding="utf-8")
        log_path = scratch / "import.log"
        process = start_raspyd(
            scratch / "data", base, config=scratch / "bench.toml", log_path=log_path
        )
        try:
            with Client(f"tcp://127.0.0.1:{base}", timeout_s=10.0, retries=1) as c:
                wait_for_service(c, 60.0)
                began = time.monotonic()
                for index in range(count):
                    ask(c, "import", document=scenario(index),
                        source=f"bench-{index}.yaml", replace=True)  # fmt: skip
                import_s = time.monotonic() - began
        finally:
            stop(process, wait_s=30)
        starts = [_start(scratch, base, f"start{run}")[0] for run in range(runs)]
    return {
        "scenarios": count,
        "import_all_s": round(import_s, 2),
        "core_start_s": [round(each, 2) for each in starts],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", type=int, nargs="+", default=[200, 500])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    results = [measure(count, max(1, args.runs)) for count in args.scenarios]
    print(
        json.dumps(
            {
                "results": results,
                "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, "
                f"Python {platform.python_version()}",
                "load_average_1min_at_end": round(os.getloadavg()[0], 2),
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
