"""Benchmark: in-process publishes into raspyd's Clone server (issue 15).

A real CloneServerActor over a real Store in a temporary directory, in this process;
updates published from in-process ClonePublishers (as device services, the core and
the statistics actor do), each timed until a TCP subscriber on the server's publisher
has received them all (published once stored, docs/protocols.md §6.4). Cases:
`set` from one thread, `set` from 4 threads, `set_many` in batches of 100 (a poll
batch). Each case runs `--rounds` times, alternating; the best round counts. With
`--baseline FILE` (the --json of an earlier run, e.g. of the code before a change)
the ratio of each figure to it is printed.

    .venv/bin/python tools/bench_clone_inproc.py [--updates 20000] [--rounds 3]
                                                 [--json FILE] [--baseline FILE]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, cast

import zmq

from raspy.actors import messages as msgs
from raspy.actors.clone.server import ClonePublisher, CloneServerActor
from raspy.clock import SystemClock
from raspy.config import CloneConfig
from raspy.protocol import clone
from raspy.stats import Stats
from raspy.storage.store import Store

THREADS: Final = 4
BATCH: Final = 100
RECEIVE_TIMEOUT_MS: Final = 20_000  # per message: a lost update ends the run
ROUND_TIMEOUT_S: Final = 120.0
ANY_PORT: Final = clone.Endpoints(
    "tcp://127.0.0.1:*", "tcp://127.0.0.1:*", "tcp://127.0.0.1:*"
)

Context = zmq.Context[zmq.Socket[bytes]]
Publish = Callable[[Any, list[tuple[bytes, bytes]]], None]


def publisher_of(ref: Any, context: Context) -> Any:
    """A ClonePublisher on the server: on its outbox, or, in the code before issue 15,
    on its inproc endpoint (so that one script measures both)."""
    where = ref.ask(msgs.GetPublishOutbox(), timeout=5)
    if isinstance(where, str):
        return cast(Any, ClonePublisher)(context, where)
    return ClonePublisher(where)


def _one_by_one(publisher: Any, entries: list[tuple[bytes, bytes]]) -> None:
    for key, body in entries:
        publisher.set(key, body)


def _batches(publisher: Any, entries: list[tuple[bytes, bytes]]) -> None:
    for start in range(0, len(entries), BATCH):
        if publisher.set_many(entries[start : start + BATCH]):
            raise SystemExit("bench_clone_inproc: a key was refused")


CASES: Final[dict[str, tuple[int, Publish]]] = {
    "set_1_thread": (1, _one_by_one),
    f"set_{THREADS}_threads": (THREADS, _one_by_one),
    f"set_many_{BATCH}": (1, _batches),
}


def _subscriber(context: Context, endpoint: str) -> zmq.Socket[bytes]:
    sub = context.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.setsockopt(zmq.RCVHWM, 0)
    sub.setsockopt(zmq.SUBSCRIBE, b"/bench/")
    sub.setsockopt(zmq.SUBSCRIBE, clone.HUGZ)
    sub.connect(endpoint)
    if not sub.poll(10_000):  # a HUGZ: the subscription is live
        raise SystemExit("bench_clone_inproc: no HUGZ from the Clone server")
    return sub


def _round(
    publisher: Any, sub: zmq.Socket[bytes], name: str, count: int, tag: int
) -> tuple[float, float]:
    """(elapsed s, process CPU s) from the first publish until all `count` arrived."""
    threads, publish = CASES[name]
    per_thread = count // threads
    slices = [
        [(b"/bench/%s/%d/%d/%d" % (name.encode(), tag, t, i), b"%032d" % i)
         for i in range(per_thread)]
        for t in range(threads)
    ]  # fmt: skip
    expected = per_thread * threads
    workers = [
        threading.Thread(target=publish, args=(publisher, entries), daemon=True)
        for entries in slices
    ]
    cpu, started = time.process_time(), time.perf_counter()
    for worker in workers:
        worker.start()
    got, deadline = 0, time.monotonic() + ROUND_TIMEOUT_S
    while got < expected:  # HUGZ keep coming: the deadline is for the whole round
        if not sub.poll(RECEIVE_TIMEOUT_MS) or time.monotonic() > deadline:
            raise SystemExit(
                f"bench_clone_inproc: {name}: {got}/{expected} arrived (a subscriber "
                "the server cut off misses the rest)"
            )
        if sub.recv_multipart()[0] != clone.HUGZ:
            got += 1
    elapsed = time.perf_counter() - started
    for worker in workers:
        worker.join(timeout=10)
    return elapsed, time.process_time() - cpu


def run(count: int, rounds: int) -> dict[str, float]:
    """Every case `rounds` times, alternating; the best round of each."""
    best: dict[str, tuple[float, float]] = {}
    context: Context = zmq.Context()
    with tempfile.TemporaryDirectory(prefix="bench-clone-inproc-") as tmp:
        store = Store.open(Path(tmp) / "data")
        config = CloneConfig(hugz_interval_s=0.5)
        ref = CloneServerActor.start(
            context, store, config, ANY_PORT, clock=SystemClock(), stats=Stats()
        )
        try:
            bound = ref.ask(msgs.GetCloneEndpoints(), timeout=10)
            assert isinstance(bound, clone.Endpoints)
            publisher = publisher_of(ref, context)
            sub = _subscriber(context, bound.publisher)
            try:
                for tag in range(rounds):
                    for name in CASES:
                        figures = _round(publisher, sub, name, count, tag)
                        if name not in best or figures[0] < best[name][0]:
                            best[name] = figures
            finally:
                sub.close()
        finally:
            ref.stop(block=True, timeout=20)
            store.close()
            context.term()
    results: dict[str, float] = {}
    for name, (elapsed, cpu) in best.items():
        results[f"inproc_{name}_per_s"] = count / elapsed
        results[f"inproc_{name}_cpu_us_per_update"] = cpu / count * 1e6
    return results


def report(results: dict[str, float], baseline: dict[str, float] | None) -> None:
    for name, value in results.items():
        line = f"clone      {name}: {value:10.1f}"
        if baseline and baseline.get(name):
            line += f"   ({value / baseline[name]:.2f} x the baseline)"
        print(line, flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=20_000, help="per case")
    parser.add_argument("--rounds", type=int, default=3, help="per case; best counts")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--baseline", type=Path, help="a --json to compare with")
    args = parser.parse_args()
    if args.updates < THREADS or args.rounds < 1:
        parser.error(f"--updates must be >= {THREADS} and --rounds >= 1")
    baseline = json.loads(args.baseline.read_text()) if args.baseline else None
    results = run(args.updates, args.rounds)
    report(results, baseline)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
