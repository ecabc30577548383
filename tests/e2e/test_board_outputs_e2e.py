"""A board's simulated outputs across its restart, at the real raspyd: a `fake`
switch turned on keeps its state, as the hub's own `fake` switch does (and a relay),
and the hub never sees it `false` in between, even when the board started while
the hub did not answer; a set it was sent before it had the hub's copy stays; a
board restarted after the hub marked it offline takes its outputs' state from its
own data dir; and a board with no such outputs (1-Wire) does not wait for that copy.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from support.board_link import SNAPSHOT, BoardLink
from support.daemon import Daemon, running_daemon, running_poller
from support.sysfs import FakeW1Tree, release_fifo
from support.two_boards import BACK_WITHIN_S, BOARD, POLLER, QUICK_EXPIRY, SERVICE
from support.two_boards import HUB as HUB_QUICK_MARK
from support.two_boards import answers as _answers
from support.two_boards import back as _back
from support.two_boards import hub_tree as _tree
from support.two_boards import poller as _poller
from support.two_boards import said as _said
from support.wait import wait_until

from raspy.client.clone import Change, CloneClient
from raspy.client.mdp import Client

# a restart well within the grace: the hub marks nothing offline meanwhile
HUB = "[devices]\noffline_after_s = 60.0\n"
LAMP = '[[devices.fake]]\nname = "lamp"\noid = "switch"\npoll_interval_s = 0.2\n'
LAMP_VALUE = f"/device/{BOARD}.fake.lamp/value".encode()
LAMP_TIMESTAMP = f"/device/{BOARD}.fake.lamp/timestamp".encode()
LAMP_STATUS = f"/device/{BOARD}.fake.lamp/status".encode()
HALL = '[[devices.fake]]\nname = "hall"\noid = "dimmer"\npoll_interval_s = 0.2\n'
HALL_VALUE = f"/device/{BOARD}.fake.hall/value".encode()


def _lamp(endpoint: str, action: str) -> Any:
    """The lamp's reading in the board's reply to `action` (`on`, `get`): None
    before it has one, else {"value": ...}."""
    with Client(endpoint, timeout_s=5, retries=1) as client:
        status, body = client.request(
            SERVICE, json.dumps({"v": 1, "action": action, "device": "lamp"})
        )
    assert status == b"200", body
    return json.loads(body)["reading"]


def _lamp_on_then_board_stopped(daemon: Daemon, config: Path, log: Path) -> float:
    """The board's lamp turned on, the board stopped (SIGTERM); the wall time then
    (a reading taken later is the next board's)."""
    with _poller(daemon.endpoint, config, log) as board:
        _back(daemon, 0.0)
        assert _lamp(daemon.endpoint, "on")["value"] is True
        with _tree(daemon) as tree:
            wait_until(lambda: tree.get(LAMP_VALUE) == b"true", what="the lamp on")
        board.send_signal(signal.SIGTERM)
        assert board.wait(timeout=30) == 0
    return time.time()


def _lamp_on_again(daemon: Daemon, tree: CloneClient, before: float) -> None:
    """The board back: its readings taken after `before` at the hub (none goes
    before it has the hub's copy), its lamp on."""
    _back(daemon, before)
    reading = wait_until(lambda: _lamp(daemon.endpoint, "get"), what="the lamp read")
    assert reading["value"] is True, reading
    # the board's answer is no mark of its lamp's keys in this client's tree (back
    # waits for the attic's, in another): waited for, not read at once
    wait_until(lambda: tree.get(LAMP_VALUE) == b"true", what="the lamp on in the tree")


def _lamp_values(tree: CloneClient) -> list[bytes]:
    """Every value of the lamp the hub publishes from now on."""
    seen: list[bytes] = []

    def lamp_changed(change: Change) -> None:
        if change.key == LAMP_VALUE:
            seen.append(change.body)

    tree.on_change(lamp_changed)
    return seen


@pytest.fixture(name="config")
def config_fixture(tmp_path: Path) -> Path:
    path = tmp_path / "poller.toml"
    path.write_text(POLLER + LAMP, encoding="utf-8")
    return path


@pytest.mark.timeout(120)
def test_a_boards_switch_that_was_on_is_on_again_after_the_board_restarts(
    tmp_path: Path, config: Path
) -> None:
    """raspy-poller took nothing from the hub's copy but the readings of devices
    gone: its switch came back `false` (the hub's tree too), where raspyd's own
    `fake` switch takes its value again. Now it takes it from the hub's first
    copy."""
    with running_daemon(tmp_path / "data", config_text=HUB) as daemon:
        before = _lamp_on_then_board_stopped(daemon, config, tmp_path / "first.log")
        with _tree(daemon) as tree:
            seen = _lamp_values(tree)
            with _poller(daemon.endpoint, config, tmp_path / "second.log"):
                _lamp_on_again(daemon, tree, before)
    assert b"false" not in seen, seen


@pytest.mark.timeout(120)
def test_a_switch_read_before_the_hub_answers_does_not_reach_it_as_false(
    tmp_path: Path, config: Path
) -> None:
    """The board starts while the hub does not answer (the link stalled): its lamp
    is read `false` and held. Sent as the hub came back, before the board had the
    hub's copy, the hub saw the lamp go off and on again (a rule on it would have
    run twice); now nothing goes before the copy is taken."""
    with running_daemon(tmp_path / "data", config_text=HUB) as daemon:
        before = _lamp_on_then_board_stopped(daemon, config, tmp_path / "first.log")
        log = tmp_path / "second.log"
        with (
            _tree(daemon) as tree,
            BoardLink(daemon.port_base) as link,
        ):
            seen = _lamp_values(tree)
            link.stall()
            with _poller(link.endpoint, config, log):
                # 5 s after its start without the hub: the lamp was read long before
                wait_until(
                    lambda: "clone_server_reconnected" in _said(log),
                    what="the board's Clone client giving the silent hub up",
                    timeout_s=30,
                )
                link.heal()
                _lamp_on_again(daemon, tree, before)
    assert b"false" not in seen, seen


@pytest.mark.timeout(120)
def test_a_switch_turned_off_before_the_board_has_the_hubs_copy_stays_off(
    tmp_path: Path, config: Path
) -> None:
    """The board's worker answers as soon as it is connected, its Clone client's
    first copy may come seconds later (held up here: only the snapshot port
    stalls). An `off` in between was answered 200, and then the copy set the lamp
    back to the hub's older `true`: a rule told OK, the lamp on again. Now a
    device a request changed keeps what the request set."""
    with running_daemon(tmp_path / "data", config_text=HUB) as daemon:
        _lamp_on_then_board_stopped(daemon, config, tmp_path / "first.log")
        with (
            _tree(daemon) as tree,
            BoardLink(daemon.port_base) as link,
        ):
            link.stall(SNAPSHOT)
            with _poller(link.endpoint, config, tmp_path / "second.log"):
                wait_until(
                    lambda: _answers(daemon.endpoint),
                    what="the board's service answering",
                    timeout_s=BACK_WITHIN_S,
                )
                off_at = time.time()
                assert _lamp(daemon.endpoint, "off")["value"] is False
                assert tree.get(LAMP_VALUE) == b"true"  # held until the copy came
                link.heal()

                def sent_since_off() -> bool:
                    body = tree.get(LAMP_TIMESTAMP)
                    return body is not None and float(body) >= off_at

                wait_until(sent_since_off, what="the board's lamp at the hub")
                assert tree.get(LAMP_VALUE) == b"false"
                assert _lamp(daemon.endpoint, "get")["value"] is False


@pytest.mark.timeout(150)
def test_a_board_restarted_after_its_offline_mark_keeps_its_outputs(
    tmp_path: Path, config: Path
) -> None:
    """The board stopped, the hub marked its readings offline (value null) after its
    grace, the board started again: its outputs took their value from the hub's
    copy, which the mark had emptied, and came back off (the lamp `false`, the
    dimmer 0), though nothing had switched them. The board now keeps its outputs'
    state in its own data dir and takes it where the hub's copy has none."""
    config.write_text(POLLER + LAMP + HALL, encoding="utf-8")
    data_dir = ("--data-dir", str(tmp_path / "board"))
    with running_daemon(tmp_path / "data", config_text=HUB_QUICK_MARK) as daemon:
        with _poller(
            daemon.endpoint, config, tmp_path / "first.log", *data_dir
        ) as board:
            _back(daemon, 0.0)
            assert _lamp(daemon.endpoint, "on")["value"] is True
            with Client(daemon.endpoint, timeout_s=5, retries=1) as client:
                dim = {"v": 1, "action": "set", "device": "hall", "value": 40}
                status, body = client.request(SERVICE, json.dumps(dim))
            assert status == b"200", body
            board.send_signal(signal.SIGTERM)
            assert board.wait(timeout=30) == 0
        before = time.time()
        with _tree(daemon) as tree:
            wait_until(
                lambda: tree.get(LAMP_STATUS) == b'"offline"',
                what="the hub's offline mark of the lamp",
                timeout_s=BACK_WITHIN_S,
            )
            assert tree.get(LAMP_VALUE) == b"null"
            assert tree.get(HALL_VALUE) == b"null"
            seen = _lamp_values(tree)
            with _poller(daemon.endpoint, config, tmp_path / "second.log", *data_dir):
                _lamp_on_again(daemon, tree, before)
                wait_until(
                    lambda: tree.get(HALL_VALUE) == b"40", what="the dimmer at 40"
                )
                wait_until(lambda: tree.get(LAMP_STATUS) == b'"ok"', what="the lamp ok")
    assert b"false" not in seen, seen


@pytest.mark.timeout(150)
def test_a_board_frozen_past_its_offline_mark_sends_its_outputs_again(
    tmp_path: Path, config: Path
) -> None:
    """A board frozen (SIGSTOP) longer than the hub's grace, its readings marked
    offline (the lamp's value null): it knows its outputs still, and sends them
    as it is back, the lamp `true` and `ok`, and so after its next readings; the
    mark is never taken as a command to the lamp."""
    hub = QUICK_EXPIRY + HUB_QUICK_MARK
    with (
        running_daemon(tmp_path / "data", config_text=hub) as daemon,
        _poller(daemon.endpoint, config, tmp_path / "poller.log") as board,
        _tree(daemon) as tree,
    ):
        _back(daemon, 0.0)
        assert _lamp(daemon.endpoint, "on")["value"] is True
        wait_until(lambda: tree.get(LAMP_VALUE) == b"true", what="the lamp on")
        board.send_signal(signal.SIGSTOP)
        try:
            wait_until(
                lambda: tree.get(LAMP_STATUS) == b'"offline"',
                what="the hub's offline mark of the lamp",
                timeout_s=BACK_WITHIN_S,
            )
            assert tree.get(LAMP_VALUE) == b"null"
            seen = _lamp_values(tree)
        finally:
            board.send_signal(signal.SIGCONT)
        back_at = time.time()
        wait_until(lambda: tree.get(LAMP_STATUS) == b'"ok"', what="the lamp ok again")
        assert tree.get(LAMP_VALUE) == b"true"

        def read_since_back() -> bool:
            body = tree.get(LAMP_TIMESTAMP)
            return body is not None and float(body) > back_at

        wait_until(read_since_back, what="the lamp read since the board is back")
        assert tree.get(LAMP_VALUE) == b"true"
        assert _lamp(daemon.endpoint, "get")["value"] is True
    assert b"false" not in seen, seen


@pytest.mark.timeout(120)
def test_a_onewire_board_does_not_wait_for_the_hubs_first_copy(
    tmp_path: Path,
) -> None:
    """Only `fake` has outputs to resume, yet every board's main loop asked its
    device service to take the hub's first copy, for up to 5 s, its readings held
    meanwhile: a 1-Wire board whose start is slow (ten family-3b parts that do
    not answer: 13 s to tell them, longer than the hub's first request and the
    copy waited for, 5 s each) gave up on it (`first_copy_not_taken`) with its
    loop stuck. Now such a board hands the copy over and goes on."""
    w1 = FakeW1Tree(tmp_path / "sys")
    w1.add_celsius("28-00000000000a", 20.0)
    fifos = []
    for n in range(10):
        silent = f"3b-0000000000{n:02d}"
        w1.add(silent, "")
        fifo = w1.base_dir / silent / "w1_slave"
        fifo.unlink()
        os.mkfifo(fifo)
        fifos.append(fifo)
    config = tmp_path / "poller.toml"
    config.write_text(f'[devices]\nonewire_base_dir = "{w1.base_dir}"\n')
    service = f"{BOARD}.onewire.devices"
    log = tmp_path / "poller.log"
    keys = json.dumps({"v": 1, "action": "list_keys"})
    try:
        with (
            running_daemon(tmp_path / "data", config_text=HUB) as daemon,
            running_poller(
                daemon.endpoint,
                log,
                *("--service", "onewire", "--hostname", BOARD, "--config", str(config)),
            ),
            Client(daemon.endpoint, timeout_s=20, retries=1) as client,
        ):
            wait_until(
                lambda: "device_service_started" in _said(log),
                what="the board's device service started",
                timeout_s=30,
            )
            status, body = client.request(service, keys)  # through the main loop
            assert status == b"200", body
    finally:
        for fifo in fifos:
            release_fifo(fifo)
    assert "first_copy_not_taken" not in _said(log)
