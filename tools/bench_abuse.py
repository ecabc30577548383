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
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import zmq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_abuse_probes import PROBES, Context, Probe, Target, ThreadStuck
from benchproc import (  # tools/ is not a package
    echo_ok,
    free_port,
    start_raspyd,
    stop,
    wait_for_echo,
)

from raspy.client import Client, ClientTimeout
from raspy.names import short_hostname
from raspy.protocol import clone

TARGET_RSS_MB = 256


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
