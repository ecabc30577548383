"""Titanic in the real raspyd through SIGKILL (issue 5; docs/protocols.md §5.5, §5.6).

Bursts from several clients are cut by SIGKILL at random moments, twenty times. After
every restart each UUID answered 200 must still be known, and each reply seen before
a kill must still be there. At the end a worker that connects only after the last
restart answers every acknowledged request.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from support.daemon import Daemon, mmi_service
from support.net import free_port_base
from support.wait import wait_until

from raspy.client.mdp import Worker
from raspy.client.titanic import TitanicClient
from raspy.errors import ClientTimeout, TitanicError

SVC = b"e2e.titanic.echo"
CYCLES = 20
CLIENTS = 4


@dataclass
class Ledger:
    """What Titanic acknowledged, recorded by the client threads."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    acked: dict[str, bytes] = field(default_factory=dict)  # uuid -> request body
    replies: dict[str, list[bytes]] = field(default_factory=dict)  # seen with 200

    def ack(self, uuid: str, body: bytes) -> None:
        with self.lock:
            self.acked[uuid] = body

    def count(self) -> int:
        with self.lock:
            return len(self.acked)

    def snapshot(self) -> dict[str, bytes]:
        with self.lock:
            return dict(self.acked)


def titanic_ready(endpoint: str) -> bool:
    services = (b"titanic.request", b"titanic.reply", b"titanic.close")
    return all(mmi_service(endpoint, service) == b"200" for service in services)


def submit_burst(
    endpoint: str, ledger: Ledger, prefix: str, stop: threading.Event
) -> None:
    """Submit until stopped or the daemon is gone; record every 200 + UUID. The
    timeout is how long a submit in flight at the kill keeps the cycle waiting."""
    with TitanicClient(endpoint, timeout_s=0.5, retries=1) as client:
        for n in range(20_000):
            if stop.is_set():
                return
            body = f"{prefix}-{n}".encode()
            try:
                uuid = client.submit(SVC, body)
            except (ClientTimeout, TitanicError):
                return
            ledger.ack(uuid, body)


def serve_echo(endpoint: str, stop: threading.Event) -> None:
    with Worker(endpoint, SVC, linger_ms=0) as worker:
        worker.serve(lambda body: body, stop=stop)


def start_daemon(data_dir: Path, port_base: int) -> Daemon:
    daemon = Daemon(data_dir, port_base=port_base).start()
    try:
        wait_until(
            lambda: titanic_ready(daemon.endpoint),
            what="titanic services",
            timeout_s=20,
        )
    except AssertionError:
        daemon.kill()
        raise
    return daemon


def check_nothing_lost(endpoint: str, ledger: Ledger) -> None:
    """Every acknowledged UUID is known; every reply seen is still there (§5.6)."""
    with TitanicClient(endpoint, timeout_s=3.0, retries=2) as client:
        for uuid, body in ledger.snapshot().items():
            status, frames = client.reply(uuid)
            assert status in (b"200", b"300"), (
                f"acknowledged {uuid} answered {status!r}"
            )
            if status == b"200":
                assert frames == [body]
        for uuid, reply in ledger.replies.items():
            assert client.reply(uuid) == (b"200", reply)


def record_replies(endpoint: str, ledger: Ledger, rng: random.Random) -> None:
    """Remember some replies that are available now, to check them after the kill."""
    acked = ledger.snapshot()
    sample = rng.sample(sorted(acked), min(len(acked), 30))
    with TitanicClient(endpoint, timeout_s=1.0, retries=1) as client:
        for uuid in sample:
            try:
                status, frames = client.reply(uuid)
            except ClientTimeout:
                return
            if status == b"200":
                ledger.replies[uuid] = frames


def run_cycle(daemon: Daemon, ledger: Ledger, cycle: int, rng: random.Random) -> None:
    """One burst, with a worker in odd cycles, cut by SIGKILL at a random moment."""
    stop = threading.Event()
    threads = [
        threading.Thread(
            target=submit_burst,
            args=(daemon.endpoint, ledger, f"c{cycle}t{n}", stop),
            name=f"titanic-client-{n}",
        )
        for n in range(CLIENTS)
    ]
    if cycle % 2:
        threads.append(
            threading.Thread(
                target=serve_echo, args=(daemon.endpoint, stop), name="titanic-worker"
            )
        )
    for thread in threads:
        thread.start()
    try:
        target = ledger.count() + rng.randint(1, 40)
        wait_until(
            lambda: (
                ledger.count() >= target
                or not any(t.is_alive() for t in threads[:CLIENTS])
            ),
            what="acknowledged requests before the kill",
            timeout_s=15,
        )
        if cycle % 2:
            record_replies(daemon.endpoint, ledger, rng)
    finally:
        daemon.kill()
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
    assert not any(t.is_alive() for t in threads)


@pytest.mark.timeout(240)
def test_no_acknowledged_request_or_reply_is_lost_across_twenty_kills(
    tmp_path: Path,
) -> None:
    """Issue 5: accepted means stored; replies stored survive; at-least-once."""
    data_dir = tmp_path / "data"
    port_base = free_port_base()
    ledger = Ledger()
    rng = random.Random(5)
    for cycle in range(CYCLES):
        daemon = start_daemon(data_dir, port_base)
        try:
            check_nothing_lost(daemon.endpoint, ledger)
            run_cycle(daemon, ledger, cycle, rng)
        finally:
            daemon.kill()
    assert ledger.count() > 50
    assert ledger.replies
    daemon = start_daemon(data_dir, port_base)
    stop = threading.Event()
    worker = threading.Thread(
        target=serve_echo, args=(daemon.endpoint, stop), name="titanic-worker"
    )
    worker.start()
    try:
        check_nothing_lost(daemon.endpoint, ledger)
        with TitanicClient(daemon.endpoint, timeout_s=3.0, retries=2) as client:
            for uuid, body in ledger.snapshot().items():
                assert client.wait(uuid, timeout_s=60, poll_initial_s=0.01) == [body]
            closed = rng.sample(sorted(ledger.acked), 50)
            for uuid in closed:
                client.close(uuid)
            for uuid in closed:
                assert client.reply(uuid) == (b"400", [])
    finally:
        stop.set()
        worker.join(timeout=10)
        daemon.kill()
