"""kill -9 during imports (issue 11: "An import is one durable transaction: after a
kill -9 the old or the new version is there, never a mix").

A thread imports new versions of a few scenarios one after another while the test
SIGKILLs raspyd after a random number of acknowledged imports (seeded). After each
restart every name holds, byte for byte, the last acknowledged version or the one
that was in flight, and the service still answers.
"""

from __future__ import annotations

import json
import random
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from support.daemon import Daemon, hostname
from support.wait import wait_until

from raspy.client.mdp import Client
from raspy.errors import ClientTimeout

CONFIG = '[devices]\nfake_enabled = false\n\n[core]\nenabled = true\ntimezone = "UTC"\n'
NAMES = ("k-alpha", "k-beta", "k-gamma")
ROUNDS = 3
PADDING = "".join(
    f"# padding line {i:03d}: the stored text is the whole document\n"
    for i in range(40)
)


def document(name: str, version: int) -> str:
    """A ~2.6 KB document whose every line says which version it is."""
    return (
        f"# {name} version {version}\n"
        f"name: {name}\n"
        f"description: version {version}\n"
        "triggers:\n"
        "  - event: /event/kill-test\n"
        "actions:\n"
        f"  - log: version {version}\n"
        f"{PADDING}# end of version {version}\n"
    )


@dataclass
class Importer:
    """Imports NAMES round-robin with increasing versions until a request fails."""

    endpoint: str
    first_version: int
    acked: dict[str, int] = field(default_factory=dict)
    in_flight: dict[str, int] = field(default_factory=dict)
    count: int = 0
    stopped: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        service = f"{hostname()}.core.scenario"
        version = self.first_version
        with Client(self.endpoint, timeout_s=2, retries=1) as client:
            while not self.stopped.is_set() and self.count < 10_000:
                name = NAMES[version % len(NAMES)]
                self.in_flight[name] = version
                body = {
                    "v": 1,
                    "action": "import",
                    "replace": True,
                    "document": document(name, version),
                    "source": f"{name}.yaml",
                }
                try:
                    status, _ = client.request(service, json.dumps(body))
                except ClientTimeout:
                    return  # the daemon is gone
                if status != b"200":
                    return
                self.acked[name] = version
                self.count += 1
                version += 1


def _service_up(daemon: Daemon) -> bool:
    with Client(daemon.endpoint, timeout_s=2, retries=1) as client:
        return client.request("mmi.service", f"{hostname()}.core.scenario") == [b"200"]


def _stored(daemon: Daemon) -> dict[str, str]:
    service = f"{hostname()}.core.scenario"
    found = {}
    with Client(daemon.endpoint, timeout_s=10, retries=1) as client:
        for name in NAMES:
            request = json.dumps({"v": 1, "action": "get", "name": name})
            status, body = client.request(service, request)
            if status == b"200":
                found[name] = json.loads(body)["document"]
    return found


def _allowed(name: str, before: dict[str, str], importer: Importer) -> set[str | None]:
    """The last acknowledged document (or the one stored before the round), or the
    one in flight when the daemon died."""
    acked = importer.acked.get(name)
    allowed: set[str | None] = {
        before.get(name) if acked is None else document(name, acked)
    }
    if (in_flight := importer.in_flight.get(name)) is not None:
        allowed.add(document(name, in_flight))
    return allowed


def _start(data_dir: Path) -> Daemon:
    daemon = Daemon(data_dir, config_text=CONFIG).start()
    wait_until(lambda: _service_up(daemon), what="the scenario service")
    return daemon


def _import_until_killed(
    daemon: Daemon, first_version: int, kill_after: int
) -> Importer:
    """Imports in a thread; SIGKILL once `kill_after` were acknowledged."""
    importer = Importer(daemon.endpoint, first_version)
    thread = threading.Thread(target=importer.run, name="importer")
    thread.start()
    try:
        wait_until(
            lambda: importer.count >= kill_after or not thread.is_alive(),
            what=f"{kill_after} imports",
            timeout_s=60,
        )
    finally:
        daemon.kill()
        importer.stopped.set()
        thread.join(timeout=10)
    assert importer.count >= kill_after
    return importer


@pytest.mark.timeout(180)
def test_kill_9_during_imports_leaves_the_old_or_the_new_document(
    tmp_path: Path,
) -> None:
    chance = random.Random(11)
    data_dir = tmp_path / "data"
    daemon = _start(data_dir)
    version = 0
    try:
        for _ in range(ROUNDS):
            before = _stored(daemon)
            importer = _import_until_killed(daemon, version, chance.randint(3, 40))
            daemon = _start(data_dir)
            after = _stored(daemon)
            for name in NAMES:
                assert after.get(name) in _allowed(name, before, importer), name
            version = max(importer.in_flight.values()) + 1
    finally:
        daemon.kill()
