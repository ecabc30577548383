"""A second board against the real raspyd, for the two-board end-to-end tests
(tests/e2e/test_two_boards_e2e.py, tests/e2e/test_board_identity_e2e.py): the board
BOARD runs raspy-poller with a simulated attic sensor, and these helpers start it and
look at what the hub's tree and broker say of it. A test module imports
`config_fixture` with the helpers it needs (the fixture is found by its name, config).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest
import zmq

from raspy.client.clone import CloneClient
from raspy.client.mdp import Client
from raspy.errors import ClientTimeout
from support.daemon import Daemon, running_poller
from support.wait import wait_until

BOARD = "garage"
SERVICE = f"{BOARD}.fake.devices"
ATTIC = f"{BOARD}.fake.attic"
# a silent worker is dropped after 3 x 2.5 s, a silent broker after the same; the
# worker then waits 2.5 s before it connects again; the Clone client re-snapshots
# after 5 s without the server
BACK_WITHIN_S = 40.0
HUB = "[devices]\noffline_after_s = 1.0\n"
# longer than a worker takes to come back to a restarted hub (its next heartbeat)
HUB_SLOW = "[devices]\noffline_after_s = 6.0\n"
# for a test whose board is killed, or frozen past the board's own 7.5 s: the hub
# gives the silent worker up after 1 s x 5 (the least the config allows: two of the
# board's 2.5 s heartbeats), 2.5 s sooner than by default, the way it did before
QUICK_EXPIRY = "[broker]\nheartbeat_interval_s = 1.0\nheartbeat_liveness = 5\n"
POLLER = (
    '[devices]\n[[devices.fake]]\nname = "attic"\noid = "sensor.temperature"\n'
    "poll_interval_s = 0.2\n"
)
# test_two_boards_e2e's and test_board_identity_e2e's link, which they wait out:
# a heartbeat every 0.5 s each way (not 2.5 s), each side giving the other up after
# 5 s of silence (not 7.5 s: the least a hub's [broker] allows, two of raspyd's own
# workers' 2.5 s heartbeats), a new connection 0.5 s after a loss (not 2.5 s), and a
# worker of the board's service counted by the hub 5.5 s after it went silent (not
# 10 s). The looks at the hub stay 15 s apart: two twins that look every 3 s both
# stopped at times (each saw the other before it had gone). The board's, at the
# start of its config (QUICK_LINK + POLLER + ...):
QUICK_LINK = (
    "[link]\nheartbeat_interval_s = 0.5\nheartbeat_liveness = 10\n"
    "reconnect_initial_s = 0.5\nreconnect_max_s = 2.0\n"
    "hub_heartbeat_interval_s = 0.5\nhub_heartbeat_liveness = 10\n"
)
# the hub's, the keys its hub_* say; a test adds [broker] keys after it
QUICK_BROKER = "[broker]\nheartbeat_interval_s = 0.5\nheartbeat_liveness = 10\n"


def poller(
    endpoint: str, config: Path, log_path: Path, *extra: str
) -> AbstractContextManager[subprocess.Popen[bytes]]:
    return running_poller(
        endpoint,
        log_path,
        *("--service", "fake", "--hostname", BOARD, "--config", str(config), *extra),
    )


def attic_field(tree: CloneClient, field: str) -> Any:
    body = tree.get(f"/device/{ATTIC}/{field}".encode())
    return None if body is None else json.loads(body)


def fresh_ok(tree: CloneClient, since: float) -> bool:
    """The attic ok, with a reading taken after `since` (wall s)."""
    ts = attic_field(tree, "timestamp")
    return attic_field(tree, "status") == "ok" and isinstance(ts, float) and ts > since


def answers(endpoint: str) -> bool:
    """The board's service answers a `list` through the hub."""
    try:
        with Client(endpoint, timeout_s=2, retries=1) as client:
            status, _ = client.request(SERVICE, json.dumps({"v": 1, "action": "list"}))
    except ClientTimeout:  # the board is not back yet
        return False
    return status == b"200"


def wall(tree: CloneClient) -> float:
    ts = attic_field(tree, "timestamp")
    assert isinstance(ts, float)
    return ts


@pytest.fixture(name="config")
def config_fixture(tmp_path: Path) -> Path:
    path = tmp_path / "poller.toml"
    path.write_text(QUICK_LINK + POLLER, encoding="utf-8")
    return path


def hub_tree(daemon: Daemon) -> CloneClient:
    tree = CloneClient(daemon.endpoint, b"/device/")
    tree.wait_synced(10)
    return tree


def back(daemon: Daemon, since: float) -> None:
    """The board's readings fresh and ok in a new tree client, its service answering."""
    with hub_tree(daemon) as tree:
        wait_until(
            lambda: fresh_ok(tree, since),
            what="the board's readings ok again",
            timeout_s=BACK_WITHIN_S,
        )
    wait_until(
        lambda: answers(daemon.endpoint),
        what="the board's service answering",
        timeout_s=BACK_WITHIN_S,
    )


def workers(endpoint: str) -> int:
    """Live workers of the board's service, as the hub's broker counts them."""
    counts = _worker_counts(endpoint)
    return int(counts.get("idle", 0)) + int(counts.get("busy", 0))


def busy_workers(endpoint: str) -> int:
    """Workers of the board's service that the hub has given a request to."""
    return int(_worker_counts(endpoint).get("busy", 0))


def _worker_counts(endpoint: str) -> dict[str, Any]:
    with Client(endpoint, timeout_s=2, retries=2) as client:
        status, table = client.request("mmi.workers", SERVICE)
    assert status == b"200"
    counts: dict[str, Any] = json.loads(table).get(SERVICE, {})
    return counts


@contextmanager
def request_in_flight(endpoint: str, body: str) -> Iterator[None]:
    """One request to the board's service on a client socket that stays open (and
    is read by nobody) until the block ends: a Client that gives up closes its
    socket at once, and a request not yet through to a hub slowed by load is
    dropped with it."""
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    sock = context.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    try:
        sock.connect(endpoint)
        sock.send_multipart([b"MDPC02", b"\x01", SERVICE.encode(), body.encode()])
        yield
    finally:
        sock.close(linger=0)
        context.term()


def said(log_path: Path) -> str:
    return log_path.read_text(encoding="utf-8", errors="replace")
