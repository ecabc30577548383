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
import contextlib
import itertools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import lmdb
import zmq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchproc import (  # tools/ is not a package
    free_port,
    http_exchange,
    rss_mb,
    start_raspyd,
    stop,
)

from raspy.client import Client, ClientTimeout, CloneClient, Worker
from raspy.client.titanic import TitanicClient
from raspy.errors import RaspyError
from raspy.log import configure as configure_log
from raspy.names import short_hostname
from raspy.protocol import clone

HOST = short_hostname()
EVENT_NAMES = ("doorbell/front", "motion/hall", "door/garage", "alarm/armed", "tv/off")


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


# --- sampling ------------------------------------------------------------------------


@dataclass
class Sample:
    at: float
    values: dict[str, float]


def _threads_and_fds(pid: int) -> tuple[int, int]:
    threads = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            threads = int(line.split()[1])
    return threads, len(list(Path(f"/proc/{pid}/fd").iterdir()))


def _sockets(pid: int) -> int:
    count = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            count += "socket:" in str(fd.readlink())
        except OSError:
            continue
    return count


def _store(data_dir: Path) -> dict[str, float]:
    """Used pages, entries per table and Clone keys per top-level subtree, read
    through a reader of its own (LMDB readers work beside the writer)."""
    env = lmdb.open(
        str(data_dir), readonly=True, lock=True, max_dbs=16, subdir=True, create=False
    )
    try:
        values: dict[str, float] = {"store.pages": env.info()["last_pgno"] + 1}
        with env.begin() as txn:
            names = [bytes(key) for key, _ in txn.cursor()]
            for name in names:
                table = env.open_db(name, txn=txn, create=False)
                values[f"table.{name.decode()}"] = txn.stat(table)["entries"]
                if name == b"kv":
                    for key in txn.cursor(db=table).iternext(values=False):
                        top = bytes(key).split(b"/")[1].decode(errors="replace")
                        values[f"kv./{top}/"] = values.get(f"kv./{top}/", 0) + 1
        return values
    finally:
        env.close()


# gauges of raspyd's own statistics services worth following: what the broker and
# the Clone server hold in memory right now (Titanic's in-memory state shows in its
# tables: a request is in memory while it is stored)
GAUGES = {
    "edge": ("workers", "services", "queued"),
    "clone": ("ephemeral_keys",),
}


def _gauges(endpoint: str) -> dict[str, float]:
    found: dict[str, float] = {}
    for part, names in GAUGES.items():
        try:
            with Client(endpoint, timeout_s=2.0, retries=1) as client:
                reply = client.request(f"{HOST}.{part}.statistics", "all")
        except ClientTimeout:
            continue
        values = json.loads(reply[-1]) if reply[0] == b"200" else {}
        for name in names:
            if isinstance(values.get(name), dict):
                found[f"{part}.{name}"] = float(values[name]["value"])
    return found


def sample(pid: int, data_dir: Path, log_path: Path, endpoint: str) -> Sample:
    threads, fds = _threads_and_fds(pid)
    values = {
        "rss_mb": rss_mb(pid),
        "threads": threads,
        "fds": fds,
        "sockets": _sockets(pid),
        "log_kb": log_path.stat().st_size / 1024,
        **_store(data_dir),
        **_gauges(endpoint),
    }
    return Sample(time.monotonic(), values)


# --- churn ---------------------------------------------------------------------------


@dataclass
class Target:
    mdp: str
    clone: clone.Endpoints
    web_port: int
    token: str


@dataclass
class Counts:
    done: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, what: str, error: bool = False) -> None:
        with self.lock:
            book = self.errors if error else self.done
            book[what] = book.get(what, 0) + 1


Churn = Callable[[Target, int], None]  # one round; the int counts the rounds


def mdp_client(target: Target, n: int) -> None:
    """A new client (a new identity) calls the echo and MMI, then vanishes."""
    with Client(target.mdp, timeout_s=3.0, retries=1) as client:
        client.request(f"{HOST}.echo", f"ping {n}")
        client.request("mmi.service", f"soak.gone.{n}")  # a name nobody serves


def worker(target: Target, n: int) -> None:
    """A worker under a new service name serves one request, then goes: every other
    one with the library's Worker, which says DISCONNECT, the rest as a bare socket
    that just vanishes (no goodbye: the broker must give it up by heartbeat)."""
    service = f"soak.svc.{n}"
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    try:
        with Client(target.mdp, timeout_s=5.0, retries=1, context=context) as client:
            answer: list[list[bytes]] = []

            def call() -> None:
                with contextlib.suppress(ClientTimeout):
                    answer.append(client.request(service, b"hello"))

            if n % 2 == 0:
                with Worker(
                    target.mdp, service, heartbeat_interval_s=0.5, context=context
                ) as work:
                    caller = threading.Thread(target=call, daemon=True)
                    caller.start()
                    request = work.recv(timeout_s=5.0)
                    if request is not None:
                        work.reply(request[0], [b"hi"])
                    caller.join(6.0)
            else:
                sock = context.socket(zmq.DEALER)
                sock.setsockopt(zmq.LINGER, 0)
                sock.connect(target.mdp)
                sock.send_multipart([b"MDPW02", b"\x01", service.encode()])
                caller = threading.Thread(target=call, daemon=True)
                caller.start()
                end = time.monotonic() + 5.0
                while time.monotonic() < end:
                    if not sock.poll(200):
                        continue
                    frames = sock.recv_multipart()
                    if frames[:2] == [b"MDPW02", b"\x02"]:
                        sock.send_multipart([b"MDPW02", b"\x04", *frames[2:4], b"hi"])
                        break
                caller.join(6.0)
                sock.close(linger=0)  # gone without DISCONNECT
        if not answer:
            raise RaspyError(f"no reply through {service}")
    finally:
        context.destroy(linger=0)


def titanic(target: Target, n: int) -> None:
    """A durable request to the echo, its reply, its close; and one to a service
    whose worker is gone (the worker churn's names), given up and closed."""
    with TitanicClient(target.mdp, timeout_s=5.0, retries=1) as client:
        uuid_text = client.submit(f"{HOST}.echo", f"durable {n}")
        client.wait(uuid_text, timeout_s=20.0, poll_initial_s=0.05)
        client.close(uuid_text)
        uuid_text = client.submit(f"soak.svc.{n}", f"durable {n}")
        client.reply(uuid_text)
        client.close(uuid_text)


def clone_client(target: Target, n: int) -> None:
    """Connects, takes a snapshot, sets an ephemeral key (2 s TTL) and vanishes."""
    with CloneClient(target.clone, b"/soak/") as client:
        client.wait_synced(10.0)
        client.set(
            f"/soak/visitor/{uuid.uuid4().hex}".encode(),
            b'"here"',
            ttl_s=2.0,
            confirm_timeout_s=10.0,
        )


_SCENARIO = """\
name: {name}
description: soak round {n}
mode: parallel
triggers:
  - event: /event/soak/{name}
actions:
  - set: /scenario/{name}/note
    value: {n}
  - device: "{host}.fake.lamp"
    action: "{command}"
  - event: /event/{event}
    value: {n}
"""


def scenario(target: Target, n: int) -> None:
    """Imported under a new name, run, replaced, run again, deleted."""
    name = f"soak-{n}"

    def ask(action: str, **fields: object) -> None:
        body = json.dumps({"v": 1, "action": action, **fields})
        with Client(target.mdp, timeout_s=10.0, retries=1) as client:
            status = client.request(f"{HOST}.core.scenario", body)[0]
        if status != b"200":
            raise RaspyError(f"scenario {action}: {status!r}")

    def document(command: str) -> str:
        event = EVENT_NAMES[n % len(EVENT_NAMES)]
        return _SCENARIO.format(name=name, n=n, host=HOST, command=command, event=event)

    ask("import", document=document("on"))
    ask("run", name=name)
    ask("import", document=document("off"), replace=True)
    ask("run", name=name)
    time.sleep(0.2)  # let the run end before the delete (a running one is stopped)
    ask("delete", name=name)


def events(target: Target, n: int) -> None:
    """A burst of a household's events (a fixed set of names), and commands that
    change the actuators' values."""
    with CloneClient(target.clone, b"/event/") as client:
        client.wait_synced(10.0)
        for index in range(10):
            key = f"/event/{EVENT_NAMES[(n + index) % len(EVENT_NAMES)]}"
            client.set(key.encode(), json.dumps({"n": n, "i": index}).encode())
        client.set(b"/event/soak/last", b"true", confirm_timeout_s=10.0)
    with Client(target.mdp, timeout_s=5.0, retries=1) as mdp:
        body = {"v": 1, "action": "level", "device": "hall", "value": n % 100}
        mdp.request(f"{HOST}.fake.devices", json.dumps(body))


def _http(
    port: int, method: str, path: str, body: str = "", cookie: str = ""
) -> tuple[int, list[str], bytes]:
    return http_exchange(port, method, path, body, cookie, timeout_s=10.0)


def web(target: Target, n: int) -> None:
    """A login, a page, a live stream read for a moment then dropped; every other
    round logs out, the rest just leave (the session stays until it expires)."""
    _, cookies, page = _http(target.web_port, "GET", "/login")
    login_cookie = cookies[0].split(";")[0]
    match = re.search(rb'name="csrf" value="([^"]+)"', page)
    if match is None:
        raise RaspyError("no csrf field on /login")
    form = f"csrf={match.group(1).decode()}&secret={target.token}"
    status, cookies, _ = _http(target.web_port, "POST", "/login", form, login_cookie)
    session = next((c for c in cookies if c.startswith("raspy_session=")), "")
    if status != 303 or not session:
        raise RaspyError(f"login: {status}")
    cookie = session.split(";")[0]
    _http(target.web_port, "GET", "/", cookie=cookie)
    with socket.create_connection(("127.0.0.1", target.web_port), timeout=2) as sock:
        request = f"GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {cookie}\r\n\r\n"
        sock.sendall(request.encode())
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            try:
                if not sock.recv(65536):
                    break
            except TimeoutError:
                break
    if n % 2 == 0:
        page = _http(target.web_port, "GET", "/", cookie=cookie)[2]
        match = re.search(rb'name="csrf" value="([^"]+)"', page)
        if match is not None:
            _http(
                target.web_port,
                "POST",
                "/logout",
                f"csrf={match.group(1).decode()}",
                cookie,
            )


CHURNS: dict[str, Churn] = {
    "mdp_client": mdp_client,
    "worker": worker,
    "titanic": titanic,
    "clone_client": clone_client,
    "scenario": scenario,
    "events": events,
    "web": web,
}


def churn_loop(
    name: str, round_: Churn, target: Target, stop_at: float, counts: Counts
) -> None:
    n = 0
    while time.monotonic() < stop_at:
        n += 1
        try:
            round_(target, n)
            counts.add(name)
        except (RaspyError, ClientTimeout, OSError, zmq.ZMQError) as exc:
            counts.add(name, error=True)
            if counts.errors.get(name, 0) <= 3:
                print(f"  {name} round {n}: {type(exc).__name__}: {exc}", flush=True)
            time.sleep(0.5)


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


def _print_growth(snapshots: Path, top: int = 15) -> None:
    files = sorted(snapshots.glob("*.snap"), key=lambda path: int(path.stem))
    if len(files) < 2:
        return
    before = tracemalloc.Snapshot.load(str(files[-2]))
    after = tracemalloc.Snapshot.load(str(files[-1]))
    print()
    print(f"tracemalloc, allocations grown over the last churn phase (top {top}):")
    for stat in after.compare_to(before, "lineno")[:top]:
        frame = stat.traceback[0]
        print(
            f"  {stat.size_diff / 1024:+9.1f} KiB {stat.count_diff:+7d} blocks  "
            f"{frame.filename.rsplit('/raspy/', 1)[-1]}:{frame.lineno}"
        )


def _web_token(data_dir: Path) -> str:
    command = [sys.executable, "-m", "raspy.cli.raspy", "web-token"]
    return subprocess.run(
        [*command, "--data-dir", str(data_dir)],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout.strip()


def _echo_ok(endpoint: str) -> bool:
    try:
        with Client(endpoint, timeout_s=0.5, retries=1) as client:
            return client.request(f"{HOST}.echo", "ping") == [b"ping"]
    except ClientTimeout:
        return False


def _sampler(
    take: Callable[[], Sample], every_s: float, until: float, samples: list[Sample]
) -> None:
    while time.monotonic() < until:
        samples.append(take())
        time.sleep(max(0.0, min(every_s, until - time.monotonic())))


def _phase_table(
    phases: list[tuple[str, list[Sample]]], only: list[str] | None = None
) -> None:
    names = sorted({k for _, ss in phases for s in ss for k in s.values})
    if only is not None:
        names = [n for n in names if n in only]
    print("| metric | start | " + " | ".join(p for p, _ in phases) + " | end |")
    print("| --- | ---: | " + " | ".join("---:" for _ in phases) + " | ---: |")
    for metric in names:
        cells = []
        first = phases[0][1][0].values.get(metric, 0.0)
        for _, ss in phases:
            start, end = ss[0].values.get(metric, 0.0), ss[-1].values.get(metric, 0.0)
            cells.append(f"{end - start:+.1f}")
        last = phases[-1][1][-1].values.get(metric, 0.0)
        print(f"| {metric} | {first:.1f} | " + " | ".join(cells) + f" | {last:.1f} |")


# A phase's level of a metric is the median of its samples (one connection being
# made or a collection running moves a single sample). A metric grows with churn when
# its level rises past the noise floor from each churn phase to the next, the last
# rise at least half the one before: a structure that fills up and stays levels off.
# Workers that vanish without DISCONNECT stay registered until the broker gives them
# up (heartbeat_liveness x heartbeat_interval_s, 7.5 s): edge.workers is the churn's
# pace times that, capped by [limits] max_workers.
NOISE = {
    "rss_mb": 3.0,
    "threads": 2,
    "fds": 6,
    "sockets": 6,
    "store.pages": 64,
    "edge.workers": 50,
    "edge.services": 50,
}
NOT_JUDGED = ("log_kb", "table.history")  # grow by design, see the docstring


def level(samples: list[Sample], metric: str) -> float:
    values = sorted(s.values.get(metric, 0.0) for s in samples[1:] or samples)
    return values[len(values) // 2]


def verdict(churn_phases: list[list[Sample]]) -> list[str]:
    findings = []
    names = sorted({k for s in churn_phases[-1] for k in s.values})
    for metric in names:
        if metric.startswith(NOT_JUDGED):
            continue
        levels = [level(samples, metric) for samples in churn_phases]
        rises = [after - before for before, after in itertools.pairwise(levels)]
        # what is in flight at a sample (ephemeral keys, workers not yet expired)
        # moves with the churn's pace: a tenth of the level is noise too
        floor = max(NOISE.get(metric, 5), 0.1 * abs(levels[0]))
        if (
            rises
            and all(rise > floor for rise in rises)
            and (len(rises) == 1 or rises[-1] >= 0.5 * rises[-2])
        ):
            shown = ", ".join(f"{value:.1f}" for value in levels)
            findings.append(f"{metric}: level per churn phase {shown}")
    return findings


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
        deadline = time.monotonic() + 30
        while not _echo_ok(target.mdp):
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"raspyd did not start: see {log_path}")
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
        echo = _echo_ok(target.mdp)
    finally:
        stop(process, 10.0)
    print()
    print(f"rounds: {counts.done}")
    print(f"errors: {counts.errors or 'none'}; echo after: {echo}")
    print()
    _phase_table(phases)
    if args.tracemalloc:
        _print_growth(snapshots)
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
