"""Benchmark: durable writes through the Store API, 1 KiB values, one run.

Run:  .venv/bin/python tools/bench_store.py [--quick] [--rounds N] [--dir DIR]

Scenarios, each on a fresh data dir (default: a temp dir under /tmp):
  per-write   one synced transaction per write: commit() in a loop, one thread
  group       group commit: THREADS threads, each calling commit() in a loop
  async       group commit: THREADS writers with one write in flight each, chained
              through submit(on_done) as raspy's actors write (no thread per writer)
  unsynced    the ceiling: commit() in a loop on a store opened durable=False
Keys come from one shared counter (append order, like kv.meta sequences and the
Titanic queue). Each round runs every scenario once; the table shows each scenario's
median round, and the ratios are medians of per-round ratios (a round's scenarios run
within seconds of each other, so a shared machine's changing load cancels out best).
Prints writes/s, transactions, writes per transaction, the ratios to per-write (issue
#4 target: group >= 10x) and the load average. Every loop is bounded by a write count.
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from raspy import log
from raspy.config import StoreConfig
from raspy.storage.store import Put, Store, Table

VALUE = bytes(range(256)) * 4  # 1 KiB
THREADS = 32
DONE_TIMEOUT_S = 300.0

Body = Callable[[Store, Callable[[], bytes]], None]


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    writes: int
    body: Body
    durable: bool = True


@dataclass(frozen=True, slots=True)
class Result:
    writes: int
    elapsed_s: float
    commits: int

    @property
    def rate(self) -> float:
        return self.writes / self.elapsed_s


def per_write(store: Store, key: Callable[[], bytes], writes: int) -> None:
    for _ in range(writes):
        store.commit([Put(Table.KV, key(), VALUE)])


def threads(store: Store, key: Callable[[], bytes], writes: int) -> None:
    workers = [
        threading.Thread(target=per_write, args=(store, key, writes // THREADS))
        for _ in range(THREADS)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


def chained(store: Store, key: Callable[[], bytes], writes: int) -> None:
    finished = threading.Event()
    lock = threading.Lock()
    left = [writes]

    def write(remaining: int) -> None:
        store.submit(
            [Put(Table.KV, key(), VALUE)], lambda error: acked(remaining, error)
        )

    def acked(remaining: int, error: BaseException | None) -> None:
        assert error is None, error
        with lock:
            left[0] -= 1
            if left[0] == 0:
                finished.set()
        if remaining > 1:
            write(remaining - 1)  # on the writer thread: submit() never blocks

    for _ in range(THREADS):
        write(writes // THREADS)
    assert finished.wait(DONE_TIMEOUT_S), "writes never finished"


def run_once(root: Path, scenario: Scenario) -> Result:
    data_dir = root / "data"
    counter = itertools.count()

    def key() -> bytes:
        return b"/bench/%010d" % next(counter)

    store = Store.open(data_dir, StoreConfig(), durable=scenario.durable)
    try:
        started = time.perf_counter()
        scenario.body(store, key)
        elapsed = time.perf_counter() - started
        stats = store.stats()
        assert stats["ops"] == scenario.writes, (scenario.name, stats)
        return Result(scenario.writes, elapsed, int(stats["commits"]))
    finally:
        store.close()
        shutil.rmtree(data_dir)


def scenarios(scale: int) -> list[Scenario]:
    one, many = 600 // scale, 16_000 // scale

    def fixed(body: Callable[[Store, Callable[[], bytes], int], None], n: int) -> Body:
        return lambda store, key: body(store, key, n)

    return [
        Scenario("per-write", one, fixed(per_write, one)),
        Scenario(f"group x{THREADS}", many, fixed(threads, many)),
        Scenario(f"async x{THREADS}", many, fixed(chained, many)),
        Scenario("unsynced", many, fixed(per_write, many), durable=False),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a fifth of the writes")
    parser.add_argument("--rounds", type=int, default=3, help="runs per scenario")
    parser.add_argument("--dir", help="where to create the data dirs")
    args = parser.parse_args(argv)
    log.configure("warning")
    load_before = os.getloadavg()[0]
    plan = scenarios(5 if args.quick else 1)
    results: dict[str, list[Result]] = {s.name: [] for s in plan}
    root = Path(tempfile.mkdtemp(prefix="bench-store-", dir=args.dir))
    try:
        for _ in range(args.rounds):
            for scenario in plan:
                results[scenario.name].append(run_once(root, scenario))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(
        f"# raspy store: 1 KiB values, median of {args.rounds} rounds, python "
        f"{platform.python_version()}, {os.cpu_count()} cpus, data dir under "
        f"{root.parent}, load average {load_before:.1f} -> {os.getloadavg()[0]:.1f}"
    )
    print(
        f"{'scenario':<12}{'writes':>8}{'writes/s':>11}{'txns':>8}{'writes/txn':>12}"
        f"{'x per-write':>13}   (all rounds, writes/s)"
    )
    bases = [r.rate for r in results[plan[0].name]]
    ratios: dict[str, float] = {}
    for scenario in plan:
        runs = results[scenario.name]
        middle = sorted(runs, key=lambda r: r.rate)[len(runs) // 2]
        every = ", ".join(f"{r.rate:,.0f}" for r in runs)
        ratios[scenario.name] = statistics.median(
            r.rate / base for r, base in zip(runs, bases, strict=True)
        )
        print(
            f"{scenario.name:<12}{middle.writes:>8}{middle.rate:>11,.0f}"
            f"{middle.commits:>8}{middle.writes / middle.commits:>12.1f}"
            f"{ratios[scenario.name]:>12.1f}x   ({every})"
        )
    group = ratios[plan[1].name]
    print(
        f"target group >= 10x per-write: {'met' if group >= 10 else 'NOT met'} "
        f"({group:.1f}x)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
