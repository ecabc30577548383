"""A board (raspy-poller with a data dir) SIGKILLed after it answered a command whose
reading had not reached the hub yet: at its restart its output has what the command
set, not the hub's older value. The real raspyd and raspy-poller processes; the window
is held open by a stalled Clone snapshot port, which keeps the board's readings in its
publisher (they go only once it has the hub's first copy) while MDP goes on."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from support.board_link import SNAPSHOT, BoardLink
from support.daemon import running_daemon
from support.two_boards import BACK_WITHIN_S, BOARD, POLLER, SERVICE
from support.two_boards import answers as _answers
from support.two_boards import back as _back
from support.two_boards import hub_tree as _tree
from support.two_boards import poller as _poller
from support.wait import wait_until

from raspy.client.clone import CloneClient
from raspy.client.mdp import Client
from raspy.storage.device_settings import DeviceSettings
from raspy.storage.store import Store

# a restart well within the grace: the hub marks nothing offline meanwhile
HUB = "[devices]\noffline_after_s = 60.0\n"
LAMP = '[[devices.fake]]\nname = "lamp"\noid = "switch"\npoll_interval_s = 0.2\n'
LAMP_NAME = f"{BOARD}.fake.lamp"
LAMP_VALUE = f"/device/{LAMP_NAME}/value".encode()
LAMP_TIMESTAMP = f"/device/{LAMP_NAME}/timestamp".encode()


def _lamp(endpoint: str, action: str) -> Any:
    """The lamp's value in the board's reply to `action`."""
    with Client(endpoint, timeout_s=5, retries=1) as client:
        status, body = client.request(
            SERVICE, json.dumps({"v": 1, "action": action, "device": "lamp"})
        )
    assert status == b"200", body
    return json.loads(body)["reading"]["value"]


def _kept(data_dir: Path) -> Any:
    """The lamp's value the board kept in its data dir."""
    store = Store.open(data_dir)
    try:
        return DeviceSettings(store).load(f"{BOARD}.fake.").states.get(LAMP_NAME)
    finally:
        store.close()


def _read_since(tree: CloneClient, since: float) -> bool:
    """The hub has a reading of the lamp taken after `since` (wall s)."""
    body = tree.get(LAMP_TIMESTAMP)
    return body is not None and float(body) > since


@pytest.mark.timeout(150)
def test_a_board_killed_after_it_answered_an_off_keeps_it_off(tmp_path: Path) -> None:
    """The lamp on at the hub; the board started again, its `off` answered 200 and
    kept in its data dir, its reading still held (the hub's copy not come), and the
    board killed. At the next start the hub's copy (`true`, not marked offline:
    the board was back within the grace) won over what the board kept, and the
    lamp came back on: an `off` the household was told was done, undone."""
    config = tmp_path / "poller.toml"
    config.write_text(POLLER + LAMP, encoding="utf-8")
    data_dir = ("--data-dir", str(tmp_path / "board"))
    with running_daemon(tmp_path / "data", config_text=HUB) as daemon:
        with _poller(daemon.endpoint, config, tmp_path / "first.log", *data_dir) as b:
            _back(daemon, 0.0)
            assert _lamp(daemon.endpoint, "on") is True
            with _tree(daemon) as tree:
                wait_until(lambda: tree.get(LAMP_VALUE) == b"true", what="lamp on")
            b.send_signal(signal.SIGTERM)
            assert b.wait(timeout=30) == 0
        with _tree(daemon) as tree, BoardLink(daemon.port_base) as link:
            link.stall(SNAPSHOT)
            log = tmp_path / "second.log"
            with _poller(link.endpoint, config, log, *data_dir) as board:
                wait_until(
                    lambda: _answers(daemon.endpoint),
                    what="the board's service answering",
                    timeout_s=BACK_WITHIN_S,
                )
                assert _lamp(daemon.endpoint, "off") is False
                board.send_signal(signal.SIGKILL)
                board.wait(timeout=30)
            assert tree.get(LAMP_VALUE) == b"true"  # the off never reached the hub
            assert _kept(tmp_path / "board") is False  # stored before the reply
            started = time.time()
            with _poller(daemon.endpoint, config, tmp_path / "third.log", *data_dir):
                wait_until(
                    lambda: _read_since(tree, started),
                    what="the restarted board's lamp at the hub",
                    timeout_s=BACK_WITHIN_S,
                )
                assert tree.get(LAMP_VALUE) == b"false"
