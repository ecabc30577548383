"""Benchmark: the scenario engine (issue 11) against a bare Clone subscriber.

Run:  .venv/bin/python tools/bench_core.py [--scenarios 200] [--devices 1000]
                                          [--crossings 600] [--rate 20] [--idle 10]

Starts one raspyd (127.0.0.1 only) with N simulated devices: one dimmer per scenario,
the rest temperature sensors polled every --sensor-interval s. Each scenario is the
rule "when dimmer dNNN goes above 50, write its level to /bench/scn/dNNN". In the
same run a bare Clone subscriber (its own process: a SUB on the publisher, a PUB to
the collector) applies the same rule and writes /bench/bare/dNNN with a KVSET.

- Latency: a driver moves each dimmer low, then to a fresh level above 50 (MDP
  `level`); an observer (SUB on the publisher) times, per crossing, the reading's
  arrival to the arrival of each rule's write. p50/p99 of both, and the ratio.
- Idle: raspyd's CPU share of one core over --idle s with the scenarios enabled and
  quiet devices, then again with all of them disabled (from /proc/PID/stat).

Targets: engine p99 <= 20 ms and <= 2x the bare subscriber's p99; the enabled
scenarios cost < 1 % of a core. Every loop is bounded; what is started is stopped.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Final

import zmq
from bench_core_hub import (
    HOST,
    THRESHOLD,
    ask,
    dimmer,
    hub_config,
    raspyd,
    scenario,
    wait_for_service,
)
from benchproc import cpu_seconds, free_port, stop

from raspy.client.mdp import Client
from raspy.errors import MalformedMessage
from raspy.protocol import clone

LOW: Final = 10
TARGET_P99_MS: Final = 20.0
TARGET_RATIO: Final = 2.0
TARGET_IDLE_PCT: Final = 1.0
Socket = zmq.Socket[bytes]


# --- the bare subscriber (its own process) -----------------------------------------------
def bare_rule(base: int, seconds: float) -> int:
    """The reference: the same rule on a plain SUB + PUB pair, for at most `seconds`."""
    context: zmq.Context[Socket] = zmq.Context()
    sub, pub = context.socket(zmq.SUB), context.socket(zmq.PUB)
    for sock in (sub, pub):
        sock.setsockopt(zmq.LINGER, 0)
    sub.setsockopt(zmq.RCVHWM, 0)
    sub.setsockopt(zmq.SUBSCRIBE, f"/device/{HOST}.fake.d".encode())
    sub.connect(f"tcp://127.0.0.1:{base + 2}")
    pub.connect(f"tcp://127.0.0.1:{base + 3}")
    above: dict[bytes, bool] = {}
    prefix = len(f"/device/{HOST}.fake.")
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            if not sub.poll(200):
                continue
            frames = sub.recv_multipart()
            if len(frames) != 5 or not frames[0].endswith(b"/value"):
                continue
            try:
                value = json.loads(frames[4])
            except ValueError:
                continue
            is_above = isinstance(value, int | float) and value > THRESHOLD
            if is_above and not above.get(frames[0], False):
                name = frames[0][prefix:-6]
                body = json.dumps(value).encode()  # as the scenario's set writes it
                pub.send_multipart(
                    clone.kvset(b"/bench/bare/" + name, body, uuid.uuid4().bytes)
                )
            above[frames[0]] = is_above
    finally:
        sub.close()
        pub.close()
        context.term()
    return 0


# --- the observer ------------------------------------------------------------------------
class Observer:
    """Arrival times (monotonic s) of dimmer readings and of both rules' writes.

    Its thread owns its SUB (made, read and closed there); others only signal it.
    """

    def __init__(self, context: zmq.Context[Socket], base: int) -> None:
        self.readings: dict[tuple[str, str], float] = {}
        self.writes: dict[str, dict[tuple[str, str], float]] = {"scn": {}, "bare": {}}
        self._context = context
        self._endpoint = f"tcp://127.0.0.1:{base + 2}"
        self._subscribed = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="observer", daemon=True)

    def start(self) -> None:
        self._thread.start()
        if not self._subscribed.wait(10):
            raise SystemExit("bench_core: the observer did not start")

    def close(self, timeout_s: float = 10.0) -> bool:
        """Stop the thread (it closes its socket); False if it did not end in time,
        its socket then left open and the context not to be terminated."""
        self._stop.set()
        self._thread.join(timeout=timeout_s)
        if self._thread.is_alive():
            print(
                f"bench_core: the observer did not stop within {timeout_s} s; "
                "its socket is left open",
                file=sys.stderr,
            )
            return False
        return True

    def _run(self) -> None:
        sub = self._context.socket(zmq.SUB)
        try:
            sub.setsockopt(zmq.LINGER, 0)
            sub.setsockopt(zmq.RCVHWM, 0)
            for prefix in (f"/device/{HOST}.fake.d", "/bench/"):
                sub.setsockopt(zmq.SUBSCRIBE, prefix.encode())
            sub.connect(self._endpoint)
            self._subscribed.set()
            while not self._stop.is_set():
                if sub.poll(100):
                    self._record(sub.recv_multipart())
        finally:
            sub.close()

    def _record(self, frames: list[bytes]) -> None:
        arrived = time.monotonic()
        device_prefix = len(f"/device/{HOST}.fake.")
        try:
            msg = clone.decode_kvmsg(frames)
            value = json.loads(msg.body) if msg.body else None
        except (MalformedMessage, ValueError):
            return
        key = msg.key.decode()
        if key.startswith("/device/") and key.endswith("/value"):
            self.readings.setdefault((key[device_prefix:-6], str(value)), arrived)
        elif key.startswith("/bench/"):
            _, _, rule, name = key.split("/", 3)
            self.writes.get(rule, {}).setdefault((name, str(value)), arrived)

    def latencies_ms(self, rule: str) -> tuple[list[float], int]:
        """Reading → write delays of one rule, and how many crossings it missed."""
        delays, missed = [], 0
        for crossing, seen in self.readings.items():
            if int(float(crossing[1])) <= THRESHOLD:
                continue
            written = self.writes[rule].get(crossing)
            if written is None:
                missed += 1
            else:
                delays.append((written - seen) * 1000.0)
        return sorted(delays), missed


def _cpu_pct(pid: int, seconds: float) -> float:
    cpu0, wall0 = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    return (cpu_seconds(pid) - cpu0) / (time.monotonic() - wall0) * 100.0


def _drive(client: Client, dimmers: int, crossings: int, rate: float) -> float:
    """Move dimmers low then high, `rate` crossings a second; returns the seconds."""
    started = time.monotonic()
    for step in range(crossings):
        index = step % dimmers
        high = THRESHOLD + 1 + (step // dimmers) % (99 - THRESHOLD)
        for level in (LOW, high):
            document = {"v": 1, "action": "level", "device": dimmer(index)}
            status, *_ = client.request(
                f"{HOST}.fake.devices", json.dumps({**document, "value": level})
            )
            if status != b"200":
                raise SystemExit(f"bench_core: level {level}: status {status!r}")
        pause = started + (step + 1) / rate - time.monotonic()
        if pause > 0:
            time.sleep(pause)
    return time.monotonic() - started


def _percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, round(fraction * (len(values) - 1)))]


def _settle(observer: Observer, client: Client, dimmers: int) -> None:
    """Cross a few times until both rules answer: every subscription is live."""
    for _ in range(50):
        _drive(client, dimmers, 1, 1000.0)
        crossing = (dimmer(0), str(THRESHOLD + 1))
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            if all(crossing in observer.writes[rule] for rule in ("scn", "bare")):
                return
            time.sleep(0.05)
        for table in (observer.readings, *observer.writes.values()):
            table.clear()
    raise SystemExit("bench_core: the rules never answered a crossing")


def _latency(
    base: int, client: Client, dimmers: int, crossings: int, rate: float
) -> dict[str, object]:
    context: zmq.Context[Socket] = zmq.Context()
    observer = Observer(context, base)
    observer.start()
    observer_stopped = False
    bare_seconds = 60.0 + 2.0 * crossings / rate
    bare = subprocess.Popen(
        [sys.executable, __file__, "--bare", str(base), "--seconds", str(bare_seconds)]
    )
    try:
        _settle(observer, client, dimmers)
        for table in (observer.readings, *observer.writes.values()):
            table.clear()
        elapsed = _drive(client, dimmers, crossings, rate)
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline and (
            observer.latencies_ms("scn")[1] or observer.latencies_ms("bare")[1]
        ):
            time.sleep(0.05)
    finally:
        observer_stopped = observer.close()
        if observer_stopped:  # else its socket is open: term() would hang
            context.term()
        stop(bare, wait_s=5)
    if not observer_stopped:
        raise SystemExit("bench_core: the observer thread is stuck")
    results: dict[str, object] = {
        "crossings": crossings,
        "rate_per_s": round(crossings / elapsed, 1),
    }
    p99s = {}
    for rule, label in (("scn", "engine"), ("bare", "bare_subscriber")):
        delays, missed = observer.latencies_ms(rule)
        p99s[label] = _percentile(delays, 0.99)
        results[label] = {
            "samples": len(delays),
            "missed": missed,
            "p50_ms": round(_percentile(delays, 0.50), 2),
            "p99_ms": round(p99s[label], 2),
            "max_ms": round(delays[-1], 2) if delays else None,
        }
    results["p99_ratio_engine_to_bare"] = round(
        p99s["engine"] / p99s["bare_subscriber"], 2
    )
    return results


def run(args: argparse.Namespace) -> int:
    base = free_port(4)
    dimmers = args.scenarios
    sensors = max(0, args.devices - dimmers)
    with tempfile.TemporaryDirectory(prefix="raspy-bench-core-") as scratch_dir:
        scratch = Path(scratch_dir)
        config = hub_config(dimmers, sensors, args.sensor_interval)
        with (
            raspyd(scratch, base, config) as daemon,
            Client(f"tcp://127.0.0.1:{base}", timeout_s=10.0, retries=1) as client,
        ):
            with Client(f"tcp://127.0.0.1:{base}", timeout_s=1.0, retries=1) as probe:
                wait_for_service(probe, 60.0)
            started = time.monotonic()
            for index in range(dimmers):
                ask(client, "import", document=scenario(index),
                    source=f"bench-{index}.yaml", replace=True)  # fmt: skip
            import_s = time.monotonic() - started
            listing = ask(client, "list")
            assert isinstance(listing, list)
            enabled = sum(1 for entry in listing if entry.get("enabled"))
            time.sleep(args.idle / 2)  # let start-up work settle
            idle_with = _cpu_pct(daemon.pid, args.idle)
            latency = _latency(base, client, dimmers, args.crossings, args.rate)
            for index in range(dimmers):
                ask(client, "disable", name=f"bench-{dimmer(index)}")
            time.sleep(args.idle / 2)
            idle_without = _cpu_pct(daemon.pid, args.idle)
    results = {
        "scenarios": dimmers,
        "enabled": enabled,
        "devices": dimmers + sensors,
        "sensor_poll_interval_s": args.sensor_interval,
        "import_all_s": round(import_s, 2),
        **latency,
        "idle_window_s": args.idle,
        "idle_cpu_pct_with_scenarios": round(idle_with, 2),
        "idle_cpu_pct_all_disabled": round(idle_without, 2),
        "idle_cpu_pct_of_the_scenarios": round(idle_with - idle_without, 2),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}",
        "load_average_1min_at_end": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(results, indent=2))
    engine = latency["engine"]
    assert isinstance(engine, dict)
    ratio = latency["p99_ratio_engine_to_bare"]
    assert isinstance(ratio, float)
    verdicts = {
        "engine p99": engine["p99_ms"] <= TARGET_P99_MS,
        "p99 vs bare subscriber": ratio <= TARGET_RATIO,
        "idle cost of the scenarios": idle_with - idle_without < TARGET_IDLE_PCT,
    }
    for name, ok in verdicts.items():
        print(f"{name}: {'met' if ok else 'MISSED'}")
    return 0  # a benchmark reports; it is not a timed test


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenarios", type=int, default=200)
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--crossings", type=int, default=600)
    parser.add_argument("--rate", type=float, default=20.0, help="crossings per s")
    parser.add_argument("--idle", type=float, default=10.0, help="idle window s")
    parser.add_argument(
        "--sensor-interval", type=float, default=30.0, help="sensor poll interval s"
    )
    parser.add_argument("--bare", type=int, metavar="BASE", help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=60.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare is not None:
        return bare_rule(args.bare, args.seconds)
    if not 1 <= args.scenarios <= min(args.devices, 9999) or args.rate <= 0:
        parser.error("need 1 <= --scenarios <= --devices, <= 9999, and --rate > 0")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
