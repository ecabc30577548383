"""A developer's own worker and clients, written from the README alone, against the
real raspyd (simulated devices of `make run`) while it is stopped and killed.

A "weather" worker answers `get`; a Client asks it with a timeout and retries; a
TitanicClient's request sent before the worker exists is answered once it does; a
CloneClient follows /device/ and another writes a key. raspyd is then stopped
(SIGTERM) and killed (SIGKILL) and started again on the same data dir and ports: the
worker must come back by itself, the client raise ClientTimeout within its own
budget while nobody answers, the Clone reader take a new snapshot and apply no
update twice, and a write made while raspyd was away reach it.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.daemon import Daemon, hostname
from support.wait import wait_until

import raspy
from raspy.client import Change, Client, ClientTimeout, CloneClient, Worker
from raspy.client.clone import fetch_snapshot
from raspy.client.titanic import TitanicClient

RUN_TOML = Path(raspy.__file__).parent / "defaults" / "run.toml"
TIMEOUT_S = 1.0
RETRIES = 2


class WeatherStation:
    """The developer's worker, in a thread of its own (a Worker is used by the
    thread that made it)."""

    def __init__(self, endpoint: str, service: str) -> None:
        self.served = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(endpoint, service), name="weather-station"
        )
        self._thread.start()

    def _answer(self, body: list[bytes]) -> list[bytes]:
        self.served += 1
        if body == [b"get"]:
            return [b"200", json.dumps({"temperature": 12.5}).encode()]
        return [b"400", b"unknown command"]

    def _run(self, endpoint: str, service: str) -> None:
        with Worker(endpoint, service) as worker:
            worker.serve(self._answer, stop=self._stop)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        assert not self._thread.is_alive()


class Follower:
    """Every change a CloneClient reports, checked as it comes: a key's updates
    (not snapshot differences) must have ever higher sequence numbers."""

    def __init__(self) -> None:
        self.last_seq: dict[bytes, int] = {}
        self.repeated: list[tuple[bytes, int, int]] = []

    def __call__(self, change: Change) -> None:
        last = self.last_seq.get(change.key)
        if last is not None and not change.from_snapshot and change.seq <= last:
            self.repeated.append((change.key, last, change.seq))
        self.last_seq[change.key] = change.seq


def _weather(client: Client, service: str) -> bool:
    try:
        return client.request(service, "get")[0] == b"200"
    except ClientTimeout:
        return False


def _in_step(reader: CloneClient, daemon: Daemon) -> bool:
    """The reader holds the keys the server holds, the steady ones with its values."""
    snapshot = fetch_snapshot(daemon.endpoint, b"/device/", timeout_s=2)
    mine = dict(reader.items())
    lamp = f"/device/{hostname()}.fake.lamp/value".encode()
    return mine.keys() == snapshot.items.keys() and mine[lamp] == snapshot.items[lamp]


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    running = Daemon(tmp_path / "data", extra_args=("--config", str(RUN_TOML)))
    try:
        yield running.start()
    finally:
        running.kill()


def _stop(daemon: Daemon, how: str) -> None:
    if how == "SIGTERM":
        assert daemon.terminate(timeout_s=10) == 0
    else:
        daemon.kill()


@pytest.mark.timeout(90)
def test_a_developers_worker_and_clients_ride_out_a_stop_and_a_kill(
    daemon: Daemon,
) -> None:
    service = f"{hostname()}.weather"
    with TitanicClient(daemon.endpoint, timeout_s=TIMEOUT_S, retries=RETRIES) as tc:
        uuid = tc.submit(service, "get")  # no worker yet: stored, pending
        assert tc.reply(uuid)[0] == b"300"
        station = WeatherStation(daemon.endpoint, service)
        try:
            assert tc.wait(uuid, timeout_s=20)[0] == b"200"
            tc.close(uuid)
            _ride_out(daemon, service, station)
        finally:
            station.stop()


def _ride_out(daemon: Daemon, service: str, station: WeatherStation) -> None:
    follower = Follower()
    with (
        Client(daemon.endpoint, timeout_s=TIMEOUT_S, retries=RETRIES) as client,
        CloneClient(daemon.endpoint, b"/device/") as reader,
        CloneClient(daemon.endpoint, b"/trial/") as writer,
    ):
        reader.on_change(follower)
        reader.wait_synced(10)
        writer.wait_synced(10)
        assert _weather(client, service)
        writer.set(b"/trial/window", b"closed", confirm_timeout_s=5)
        for how in ("SIGTERM", "SIGKILL"):
            syncs, served = reader.syncs, station.served
            _stop(daemon, how)
            started = time.monotonic()
            with pytest.raises(ClientTimeout):
                client.request(service, "get")
            # its budget, not a hang (a margin for a loaded machine)
            assert time.monotonic() - started < TIMEOUT_S * RETRIES + 5.0
            # written while raspyd is away: resent until it is there
            writer.set(b"/trial/window", how.encode())
            daemon.start()
            wait_until(
                lambda: _weather(client, service),
                what=f"the worker back by itself after {how}",
                timeout_s=15,
            )
            assert station.served > served
            wait_until(
                lambda s=syncs: reader.syncs > s,  # type: ignore[misc]
                what=f"a new snapshot after {how}",
                timeout_s=15,
            )
            wait_until(
                lambda: _in_step(reader, daemon),
                what=f"the reader in step with the server after {how}",
                timeout_s=10,
            )
            wait_until(
                lambda h=how: (
                    fetch_snapshot(daemon.endpoint, b"/trial/").items  # type: ignore[misc]
                    == {b"/trial/window": h.encode()}
                ),
                what=f"the write made during the {how} outage stored",
                timeout_s=15,
            )
        assert follower.repeated == []
