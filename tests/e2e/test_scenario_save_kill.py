"""kill -9 during Saves that only add or drop an `enabled: true` line while a run
waits: the text and the record of that run (which names the text's fingerprint) are
one transaction, so every restart takes the run up. As two commits, a kill between
them left a record naming the other text, and the run was named lost.

A thread saves the two texts in turn while the test SIGKILLs raspyd after a random
number of acknowledged Saves (seeded); after each restart the run still waits, with
no error, and its record names the stored text. The same holds for an import of
several documents (`raspy scenario import` of a file of several) that restates it:
its record is in the one commit of their texts.
"""

from __future__ import annotations

import json
import random
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from support.daemon import Daemon, hostname
from support.scenario_daemon import CONFIG, ask, scenarios_up, value
from support.wait import wait_until

from raspy.client.clone import CloneClient
from raspy.client.mdp import Client
from raspy.errors import ClientTimeout
from raspy.rules.resume_record import fingerprint

ROUNDS = 4
WAITS = """\
name: k-waits
triggers: [{event: /event/k-waits}]
actions:
  - wait: 1h
  - set: /house/k-waits/done
    value: true
"""
SAID = WAITS.replace("triggers:", "enabled: true\ntriggers:")
RECORD = "/scenario/k-waits/resume"
OTHER = "name: k-other\ntriggers: [{event: /event/k-other}]\nactions: [{log: x}]\n"


@dataclass
class Saver:
    """Saves WAITS and SAID in turn until a request fails (the daemon is gone)."""

    endpoint: str
    several: bool = False  # each Save an import of documents, OTHER among them
    count: int = 0
    stopped: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        service = f"{hostname()}.core.scenario"
        with Client(self.endpoint, timeout_s=2, retries=1) as client:
            while not self.stopped.is_set() and self.count < 10_000:
                text = SAID if self.count % 2 == 0 else WAITS
                body: dict[str, object] = {"v": 1, "action": "import", "replace": True}
                if self.several:
                    body["documents"] = [
                        {"document": text, "source": "k-waits.yaml"},
                        {"document": OTHER, "source": "k-other.yaml"},
                    ]
                else:
                    body["document"] = text
                try:
                    status, _ = client.request(service, json.dumps(body))
                except ClientTimeout:
                    return
                if status != b"200":
                    return
                self.count += 1


def _start(data_dir: Path) -> Daemon:
    daemon = Daemon(data_dir, config_text=CONFIG).start()
    wait_until(lambda: scenarios_up(daemon), what="the scenario service")
    return daemon


def _save_until_killed(daemon: Daemon, kill_after: int, *, several: bool) -> None:
    saver = Saver(daemon.endpoint, several)
    thread = threading.Thread(target=saver.run, name="saver")
    thread.start()
    try:
        wait_until(
            lambda: saver.count >= kill_after or not thread.is_alive(),
            what=f"{kill_after} saves",
            timeout_s=60,
        )
    finally:
        daemon.kill()
        saver.stopped.set()
        thread.join(timeout=10)
    assert saver.count >= kill_after


def _waiting_run_kept(daemon: Daemon) -> None:
    """The run was taken up: running, no error, its record naming the stored text."""
    status, got = ask(daemon, "get", name="k-waits")
    assert status == b"200"
    assert (got["state"], got["last_error"]) == ("running", None)
    with CloneClient(daemon.endpoint) as tree:
        tree.wait_synced()
        record = value(tree, RECORD)
        assert record is not None
        assert record["version"] == fingerprint(got["document"])


@pytest.mark.timeout(240)
@pytest.mark.parametrize(
    ("several", "rounds"),
    [
        pytest.param(False, ROUNDS, id="one-document"),
        # a kill between the two writes of before lost the run in one of two
        # tries of three rounds (a window just after the commit)
        pytest.param(True, 3, id="documents"),
    ],
)
def test_kill_9_during_saves_of_the_enabled_line_keeps_the_waiting_run(
    tmp_path: Path, several: bool, rounds: int
) -> None:
    chance = random.Random(23)
    data_dir = tmp_path / "data"
    daemon = _start(data_dir)
    try:
        assert ask(daemon, "import", document=WAITS)[0] == b"200"
        assert ask(daemon, "run", name="k-waits")[0] == b"200"
        with CloneClient(daemon.endpoint) as tree:
            tree.wait_synced()
            wait_until(lambda: value(tree, RECORD) is not None, what="the record")
        for _ in range(rounds):
            _save_until_killed(daemon, chance.randint(2, 30), several=several)
            daemon = _start(data_dir)
            _waiting_run_kept(daemon)
    finally:
        daemon.kill()
