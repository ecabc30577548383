"""Readings of a remote board that outlive it: the real raspyd and real raspy-poller
processes.

A device removed from the poller's config leaves the hub's tree at the poller's
restart; a poller killed for good has its readings marked offline after the hub's
grace (`[devices] offline_after_s`); one that comes back, or wakes up after the hub
gave it up, heals them. The hub's own device services are never marked.
"""

from __future__ import annotations

import json
import signal
import subprocess
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
from support.daemon import Daemon, hostname, running_daemon, running_poller
from support.wait import wait_until

from raspy.client.clone import CloneClient

BOARD = "stale-board"
# the broker drops a silent worker after 1 s x 5 (the least the config allows: two of
# the poller's 2.5 s heartbeats), busy or not: raspy's worker shows at its first
# request that it heartbeats while busy, so a request outstanding at it (the history
# recorder asks every devices service for its list every 5 s) does not keep it for
# busy_timeout_s (docs/protocols.md §2.6), left at its default of 900 s here
GONE_WITHIN_S = 25.0
HUB = (
    "[broker]\nheartbeat_interval_s = 1.0\nheartbeat_liveness = 5\n"
    "[devices]\noffline_after_s = 1.0\nfake_enabled = true\n"
    '[[devices.fake]]\nname = "porch"\noid = "sensor.temperature"\n'
    "poll_interval_s = 0.2\n"
)
ATTIC = (
    '[[devices.fake]]\nname = "attic"\noid = "sensor.temperature"\n'
    "poll_interval_s = 0.2\n"
)
CELLAR = '[[devices.fake]]\nname = "cellar"\noid = "sensor.humidity"\n'


def _poller(
    daemon: Daemon, config: Path, log_path: Path
) -> AbstractContextManager[subprocess.Popen[bytes]]:
    """raspy-poller `--service fake` as the board BOARD, with `config`."""
    return running_poller(
        daemon.endpoint,
        log_path,
        *("--service", "fake", "--hostname", BOARD, "--config", str(config)),
    )


def _field(tree: CloneClient, fullname: str, field: str) -> Any:
    body = tree.get(f"/device/{fullname}/{field}".encode())
    return None if body is None else json.loads(body)


def _status(tree: CloneClient, fullname: str) -> Any:
    return _field(tree, fullname, "status")


def _board(tree: CloneClient, board: str = f"{BOARD}.fake") -> Any:
    """The board's status key, `/board/<host>.<svc>/status` (None: absent)."""
    body = tree.get(f"/board/{board}/status".encode())
    return None if body is None else json.loads(body)


@pytest.mark.timeout(120)
def test_a_remote_boards_readings_leave_go_offline_and_heal(tmp_path: Path) -> None:
    attic, cellar = f"{BOARD}.fake.attic", f"{BOARD}.fake.cellar"
    porch = f"{hostname()}.fake.porch"
    config = tmp_path / "poller.toml"
    config.write_text("[devices]\n" + ATTIC + CELLAR, encoding="utf-8")
    log_path = tmp_path / "poller.log"
    with (
        running_daemon(tmp_path / "data", config_text=HUB) as daemon,
        CloneClient(daemon.endpoint, b"/") as tree,
    ):
        tree.wait_synced(10)
        with _poller(daemon, config, log_path) as process:
            wait_until(
                lambda: _status(tree, attic) == "ok" and _status(tree, cellar) == "ok",
                what="both remote readings",
                timeout_s=15,
            )
            wait_until(lambda: _board(tree) == "online", what="the board online")
            config.write_text("[devices]\n" + ATTIC, encoding="utf-8")
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=15) == 0

        # 1. restarted without the cellar: its keys leave the hub's tree
        with _poller(daemon, config, log_path) as process:
            wait_until(
                lambda: not tree.items(f"/device/{cellar}/".encode()),
                what="the cellar's keys deleted",
                timeout_s=15,
            )
            wait_until(
                lambda: _status(tree, attic) == "ok", what="the attic ok", timeout_s=15
            )

            # 2. killed for good: offline after the broker's expiry and the grace
            process.kill()
            process.wait(timeout=10)
            wait_until(
                lambda: _status(tree, attic) == "offline",
                what="the attic offline",
                timeout_s=GONE_WITHIN_S,
            )
            assert _field(tree, attic, "value") is None
            assert _field(tree, attic, "unit") == "°C"
            assert _status(tree, porch) == "ok"  # the hub's own: never marked
            # the board's one key, written with the marks
            wait_until(lambda: _board(tree) == "offline", what="the board offline")
            assert _board(tree, f"{hostname()}.fake") is None  # the hub's own: none
        wait_until(  # logged after the marks are published
            lambda: "device_service_offline" in daemon.log_text(),
            what="the offline marks logged",
        )

        # 3. started again: ok again
        with _poller(daemon, config, log_path) as process:
            wait_until(
                lambda: _status(tree, attic) == "ok",
                what="the attic ok again",
                timeout_s=15,
            )
            wait_until(lambda: _board(tree) == "online", what="the board back")
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=15) == 0


@pytest.mark.timeout(120)
def test_a_board_that_was_away_sends_its_readings_again_in_full(
    tmp_path: Path,
) -> None:
    """A poller frozen (as a cut network would leave it) until the hub marked it
    offline: back, its readings change but status "ok" had been sent already, so
    it must send all of them again."""
    attic = f"{BOARD}.fake.attic"
    config = tmp_path / "poller.toml"
    config.write_text("[devices]\n" + ATTIC, encoding="utf-8")
    with (
        running_daemon(tmp_path / "data", config_text=HUB) as daemon,
        CloneClient(daemon.endpoint, b"/device/") as tree,
        _poller(daemon, config, tmp_path / "poller.log") as process,
    ):
        tree.wait_synced(10)
        wait_until(
            lambda: _status(tree, attic) == "ok", what="the attic ok", timeout_s=15
        )
        process.send_signal(signal.SIGSTOP)
        try:
            wait_until(
                lambda: _status(tree, attic) == "offline",
                what="the attic offline",
                timeout_s=GONE_WITHIN_S,
            )
        finally:
            process.send_signal(signal.SIGCONT)
        wait_until(
            lambda: _status(tree, attic) == "ok",
            what="the attic ok again",
            timeout_s=GONE_WITHIN_S,
        )
        assert _field(tree, attic, "value") is not None
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0


@pytest.mark.timeout(120)
def test_a_board_that_died_while_the_hub_was_down_is_marked_after_its_start(
    tmp_path: Path,
) -> None:
    """No worker ever registers to lose: the hub finds the board's readings in its
    tree at start and gives the board the grace from then."""
    attic = f"{BOARD}.fake.attic"
    config = tmp_path / "poller.toml"
    config.write_text("[devices]\n" + ATTIC, encoding="utf-8")
    with running_daemon(tmp_path / "data", config_text=HUB) as daemon:
        with (
            CloneClient(daemon.endpoint, b"/") as tree,
            _poller(daemon, config, tmp_path / "poller.log") as process,
        ):
            tree.wait_synced(10)
            wait_until(
                lambda: _status(tree, attic) == "ok", what="the attic ok", timeout_s=15
            )
            wait_until(lambda: _board(tree) == "online", what="the board online")
            daemon.kill()  # a power cut of the house: the hub first, then the board
            process.kill()
        daemon.start()
        with CloneClient(daemon.endpoint, b"/") as tree:
            tree.wait_synced(10)
            wait_until(
                lambda: _status(tree, attic) == "offline",
                what="the attic offline",
                timeout_s=15,
            )
            # its `online` was on disk before the power cut (durable); the start
            # finds it, and the board's key follows its readings
            wait_until(lambda: _board(tree) == "offline", what="the board offline")
