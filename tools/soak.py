"""Soak: years of a household's churn on one raspyd, compressed into minutes.

raspyd runs for years on a Pi with 512 MB-1 GB and one SD card, so nothing in it may
grow with churn: memory, threads, file descriptors, the store's pages or its keys. This
starts a real raspyd (simulated devices, history, statistics, the web face; a data dir
in a temp dir; ports on 127.0.0.1) and drives it with what the years bring:

- MDP clients that connect, call and vanish, each with a new identity;
- workers that come and go under changing service names, some saying DISCONNECT,
  some just gone;
- Titanic requests, their replies and closes;
- Clone clients that connect, subscribe, set ephemeral keys (a TTL) and vanish;
- scenarios imported, run, replaced and deleted, each with keys of its own;
- events published under /event/ (a household's fixed set of names);
- web logins and live streams (/events) opened and dropped;
- device values changing (the simulated sensors, and commands to the actuators).

Every few seconds it samples raspyd's RSS, threads and open fds (/proc), the store's
used pages (last_pgno of data.mdb), the entries of every table and the Clone keys per
top-level subtree, and the log's size. The run is an idle baseline, then the churn in
equal phases, then a quiet end; growth is printed per phase, and a metric whose level
(the median of a phase's samples) still rises from phase to phase is called a leak.
Not judged, as they grow by design within bounds set by the config: the log (at most
[limits] log_events_per_s lines a second per event name; journald rotates it) and
the history table (its [history] tiers' spans).

    .venv/bin/python tools/soak.py                  # ~3 minutes
    .venv/bin/python tools/soak.py --minutes 10 --phases 5
    .venv/bin/python tools/soak.py --tracemalloc   # and what grew, by source line

Traffic goes to 127.0.0.1 only; every loop is bounded by a deadline.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchproc import (  # tools/ is not a package
    echo_ok,
    free_port,
    start_raspyd,
    stop,
    wait_for_echo,
)
from soak_churn import CHURNS, Counts, Target, churn_loop
from soak_report import phase_table, print_growth, verdict
from soak_sample import Sample, sample

from raspy.log import configure as configure_log
from raspy.protocol import clone


def _config() -> str:
    sensors = []
    for index, (oid, period) in enumerate(
        [("sensor.temperature", 20.0), ("sensor.humidity", 13.0)] * 3
    ):
        sensors += [
            "[[devices.fake]]",
            f'name = "s{index}"',
            f'oid = "{oid}"',
            "resolution = 0.01",
            f"period_s = {period + index}",
            "poll_interval_s = 0.5",
            f"log = {'true' if index < 3 else 'false'}",
            "",
        ]
    return "\n".join(
        [
            'log_level = "info"',
            "",
            "[stats]",
            "publish_interval_s = 5.0",
            "",
            "[store]",
            "coalesce_interval_s = 5.0",
            "",
            "[history]",
            "flush_interval_s = 10.0",
            "",
            "[http]",
            "enabled = true",
            "",
            "[devices]",
            "fake_enabled = true",
            "",
            *sensors,
            "[[devices.fake]]",
            'name = "lamp"',
            'oid = "switch"',
            "poll_interval_s = 2.0",
            "",
            "[[devices.fake]]",
            'name = "hall"',
            'oid = "dimmer"',
            "poll_interval_s = 2.0",
            "",
        ]
    )


# --- the run -------------------------------------------------------------------------


# --tracemalloc: raspyd runs under this wrapper, which writes a tracemalloc snapshot
# to the next numbered file in SOAK_SNAPSHOTS at each SIGUSR2 (raspyd leaves SIGUSR2
# alone); the soak sends one at the end of every churn phase and diffs the last two.
_TRACED = """\
import os, runpy, signal, sys, tracemalloc
folder, taken = os.environ["SOAK_SNAPSHOTS"], [0]
def snapshot(_signum, _frame):
    taken[0] += 1
    tracemalloc.take_snapshot().dump(os.path.join(folder, "%d.snap" % taken[0]))
signal.signal(signal.SIGUSR2, snapshot)
sys.argv = ["raspyd", *sys.argv[1:]]
runpy.run_module("raspy.cli.raspyd", run_name="__main__")
"""


def _start_traced(
    data_dir: Path, base: int, config: Path, log_path: Path, snapshots: Path
) -> subprocess.Popen[bytes]:
    snapshots.mkdir()
    command = [
        sys.executable, "-X", "tracemalloc=12", "-c", _TRACED,
        "--data-dir", str(data_dir), "--port-base", str(base), "--allow-root",
        "--config", str(config), "--log-format", "json",
    ]  # fmt: skip
    environment = {**os.environ, "SOAK_SNAPSHOTS": str(snapshots)}
    with log_path.open("wb") as log_file:
        return subprocess.Popen(
            command, stdout=log_file, stderr=subprocess.STDOUT, env=environment
        )


def _snapshot(process: subprocess.Popen[bytes], snapshots: Path) -> None:
    """Ask the traced raspyd for a snapshot; wait (at most 120 s) until written."""
    count = len(list(snapshots.glob("*.snap")))
    process.send_signal(signal.SIGUSR2)
    deadline = time.monotonic() + 120
    wanted = snapshots / f"{count + 1}.snap"
    while not wanted.exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    time.sleep(1.0)  # the dump finishes writing


def _web_token(data_dir: Path) -> str:
    command = [sys.executable, "-m", "raspy.cli.raspy", "web-token"]
    return subprocess.run(
        [*command, "--data-dir", str(data_dir)],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout.strip()


def _sampler(
    take: Callable[[], Sample], every_s: float, until: float, samples: list[Sample]
) -> None:
    while time.monotonic() < until:
        samples.append(take())
        time.sleep(max(0.0, min(every_s, until - time.monotonic())))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=3.0, help="churn, in all")
    parser.add_argument("--phases", type=int, default=3)
    parser.add_argument("--sample-s", type=float, default=3.0)
    parser.add_argument("--idle-s", type=float, default=15.0, help="before and after")
    parser.add_argument("--only", choices=sorted(CHURNS), action="append")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir")
    parser.add_argument(
        "--tracemalloc",
        action="store_true",
        help="trace raspyd's allocations; print what grew in the last churn phase",
    )
    args = parser.parse_args()
    configure_log("warning")  # this side's clients and workers: quiet
    churns = args.only or list(CHURNS)
    tmp = Path(tempfile.mkdtemp(prefix="raspy-soak-"))
    data_dir, log_path, config = tmp / "data", tmp / "raspyd.log", tmp / "raspyd.toml"
    config.write_text(_config(), encoding="utf-8")
    token = _web_token(data_dir)
    base = free_port(5)
    snapshots = tmp / "snapshots"
    if args.tracemalloc:
        process = _start_traced(data_dir, base, config, log_path, snapshots)
    else:
        process = start_raspyd(data_dir, base, config=config, log_path=log_path)
    target = Target(
        f"tcp://127.0.0.1:{base}",
        clone.Endpoints.from_port_base("127.0.0.1", base),
        base + 4,
        token,
    )
    counts = Counts()
    phases: list[tuple[str, list[Sample]]] = []
    try:
        wait_for_echo(process, target.mdp, log_path)
        time.sleep(3.0)  # every part started, the first readings in

        def take() -> Sample:
            return sample(process.pid, data_dir, log_path, target.mdp)

        print(f"raspyd pid {process.pid}, churn: {', '.join(churns)}", flush=True)
        idle: list[Sample] = []
        _sampler(
            take,
            args.sample_s,
            time.monotonic() + args.idle_s,
            idle,
        )
        phases.append(("idle", idle))
        phase_s = args.minutes * 60 / args.phases
        stop_at = time.monotonic() + args.minutes * 60
        threads = [
            threading.Thread(
                target=churn_loop,
                args=(name, CHURNS[name], target, stop_at, counts),
                name=f"churn-{name}",
                daemon=True,
            )
            for name in churns
        ]
        for thread in threads:
            thread.start()
        for index in range(args.phases):
            samples: list[Sample] = [phases[-1][1][-1]]
            _sampler(
                take,
                args.sample_s,
                min(stop_at, time.monotonic() + phase_s),
                samples,
            )
            samples.append(take())
            phases.append((f"churn {index + 1}", samples))
            if args.tracemalloc:
                _snapshot(process, snapshots)
            print(
                f"phase {index + 1}: rss {samples[-1].values['rss_mb']:.1f} MB, "
                f"threads {samples[-1].values['threads']:.0f}, "
                f"fds {samples[-1].values['fds']:.0f}, rounds {counts.done}",
                flush=True,
            )
        for thread in threads:
            thread.join(60)
        quiet: list[Sample] = [phases[-1][1][-1]]
        _sampler(
            take,
            args.sample_s,
            time.monotonic() + args.idle_s,
            quiet,
        )
        quiet.append(take())
        phases.append(("quiet", quiet))
        echo = echo_ok(target.mdp, 0.5)
    finally:
        stop(process, 10.0)
    print()
    print(f"rounds: {counts.done}")
    print(f"errors: {counts.errors or 'none'}; echo after: {echo}")
    print()
    phase_table(phases)
    if args.tracemalloc:
        print_growth(snapshots)
    findings = verdict([ss for name, ss in phases if name.startswith("churn")])
    print()
    if findings:
        print("verdict: GROWS with churn (its level rises in every phase):")
        for line in findings:
            print(f"  {line}")
    else:
        print("verdict: levels off (no level rises phase after phase past noise)")
    if args.keep:
        print(f"kept: {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if findings else 0


if __name__ == "__main__":
    raise SystemExit(main())
