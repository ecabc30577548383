"""A command to a board that is away fails, and is not carried out when it is back:
the real raspyd and a real raspy-poller board with a simulated switch.

The board is frozen (SIGSTOP) until the broker gives its worker up; a toggle sent
then, from the web face, a scenario or the MQTT bridge, waits in the broker's queue
until its sender stops waiting and reports the failure. The board is let go
(SIGCONT) and comes back: the toggle the house was told had failed must not run
then (before, the broker dispatched it up to `broker.request_ttl_s` later). A second
toggle that is answered shows it: the switch goes from off to on once, not back to
off, as the board itself says. A toggle sent just as the board froze, before the
broker gave it up, waits on the board's socket instead: the board drops it too.
"""

from __future__ import annotations

import http.client
import json
import re
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from support.daemon import Daemon, hostname, mmi_service, running_poller
from support.mosquitto import BASE, running_mosquitto
from support.net import free_port_base
from support.wait import wait_until
from support.web_browser import Browser, allow_login

from raspy.actors.web import WEB_PORT_OFFSET
from raspy.client.clone import CloneClient
from raspy.client.mdp import Client

BOARD = "away-board"
SERVICE = f"{BOARD}.fake.devices"
LAMP = f"/device/{BOARD}.fake.lamp/value"
# the broker gives a silent worker up after 1 s x 5 (the least the config allows:
# two of a worker's 2.5 s heartbeats); the board's readings are marked offline only
# after a minute, so the lamp's value stays in the tree while the board is away
HUB = (
    "[broker]\nheartbeat_interval_s = 1.0\nheartbeat_liveness = 5\n"
    "[core]\nenabled = true\n"
    "[http]\nenabled = true\n"
)
POLLER = (
    '[devices]\n[[devices.fake]]\nname = "lamp"\noid = "switch"\n'
    "poll_interval_s = 0.5\n"
)
GONE_WITHIN_S = 15.0  # the broker's 5 s, and its next look
# the board's reconnect after it hears of its loss, then its Clone link's: 15 s ran
# out once on a loaded two-core machine (a deadline, not a wait: a pass is as quick)
BACK_WITHIN_S = 30.0
SCENARIO = """\
name: away-toggle
triggers:
  - event: /event/away-toggle
actions:
  - device: "{board}.fake.lamp"
    action: toggle
    timeout: 2s
"""


@contextmanager
def _house(
    tmp_path: Path, extra: str = ""
) -> Iterator[tuple[Daemon, subprocess.Popen[bytes]]]:
    """The hub (web face and scenarios on, and `extra`) and the board serving."""
    data_dir = tmp_path / "data"
    allow_login(data_dir)
    config = tmp_path / "poller.toml"
    config.write_text(POLLER, encoding="utf-8")
    daemon = Daemon(data_dir, port_base=free_port_base(5), config_text=HUB + extra)
    try:
        daemon.start(timeout_s=30)
        args = ("--service", "fake", "--hostname", BOARD, "--config", str(config))
        with running_poller(daemon.endpoint, tmp_path / "poller.log", *args) as board:
            wait_until(_board_serves(daemon), what="the board's service", timeout_s=15)
            yield daemon, board
    finally:
        daemon.kill()


def _board_serves(daemon: Daemon) -> Any:
    return lambda: mmi_service(daemon.endpoint, SERVICE.encode()) == b"200"


def _board_gone(daemon: Daemon) -> Any:
    return lambda: mmi_service(daemon.endpoint, SERVICE.encode()) == b"404"


def _lamp(tree: CloneClient) -> Any:
    body = tree.get(LAMP.encode())
    return None if body is None else json.loads(body)


@contextmanager
def _frozen(daemon: Daemon, board: subprocess.Popen[bytes]) -> Iterator[None]:
    """The board stopped until the broker has given it up; let go at the end."""
    board.send_signal(signal.SIGSTOP)
    try:
        wait_until(
            _board_gone(daemon),
            what="the broker to give the frozen board up",
            timeout_s=GONE_WITHIN_S,
        )
        yield
    finally:
        board.send_signal(signal.SIGCONT)


def _board_lamp(daemon: Daemon) -> Any:
    """The lamp's state as the board itself reads it (a network client's request)."""
    with Client(daemon.endpoint, timeout_s=3, retries=2) as client:
        status, body = client.request(
            SERVICE, json.dumps({"v": 1, "action": "state", "device": "lamp"})
        )
    assert status == b"200", body
    return json.loads(body)["reading"]["value"]


def _abandoned(daemon: Daemon) -> float:
    """The hub's count of requests dropped because their sender stopped waiting."""
    with Client(daemon.endpoint, timeout_s=3, retries=2) as client:
        status, counters = client.request(f"{hostname()}.stats", b"")
    assert status == b"200"
    return float(json.loads(counters).get("broker.dropped.abandoned", 0))


def _only_the_second_toggle_ran(
    daemon: Daemon,
    tree: CloneClient,
    board: subprocess.Popen[bytes],
    *,
    dropped: bool = True,
) -> None:
    """After the answered toggle: the lamp on in the tree and on the board (had the
    failed one run too, this one would have turned it off), the hub's word that it
    dropped a request (`dropped`), and the board still up."""
    wait_until(  # the board's reading goes through its Clone link, which the freeze
        # broke and which it makes again after its MDP reconnect: a while under load
        lambda: _lamp(tree) is True,
        what="the lamp on in the tree",
        timeout_s=BACK_WITHIN_S,
    )
    assert _board_lamp(daemon) is True
    if dropped:
        assert _abandoned(daemon) >= 1  # dropped, never dispatched
    assert board.poll() is None


class _Page:
    """app.js's switch: a logged-in session and its CSRF token."""

    def __init__(self, daemon: Daemon) -> None:
        self.port = daemon.port_base + WEB_PORT_OFFSET
        browser = Browser(self.port)
        browser.log_in()
        self.cookie = browser.cookie
        found = re.search(
            r'<meta name="csrf-token" content="([^"]+)"',
            browser.exchange("GET", "/").body,
        )
        assert found is not None
        self.csrf = found.group(1)

    def toggle(self) -> tuple[int, Any]:
        """POST /api/device as app.js sends it: (HTTP status, JSON answer)."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        command = {"service": SERVICE, "device": "lamp", "action": "toggle"}
        try:
            connection.request(
                "POST",
                "/api/device",
                body=json.dumps(command),
                headers={
                    "Cookie": self.cookie,
                    "Content-Type": "application/json",
                    "X-CSRF-Token": self.csrf,
                },
            )
            response = connection.getresponse()
            return response.status, json.loads(response.read())
        finally:
            connection.close()


@pytest.mark.timeout(90)
def test_a_toggle_the_page_reported_failed_is_not_run_when_the_board_is_back(
    tmp_path: Path,
) -> None:
    """The web face asks the broker first: with the board given up, the page is
    told at once that no worker serves it (503) and the toggle is not sent at all
    (it used to wait in the broker's queue for the page's 5 s, 504)."""
    with (
        _house(tmp_path) as (daemon, board),
        CloneClient(daemon.endpoint, b"/device/") as tree,
    ):
        tree.wait_synced(10)
        wait_until(lambda: _lamp(tree) is False, what="the lamp off in the tree")
        page = _Page(daemon)
        with _frozen(daemon, board):
            status, answer = page.toggle()
            assert (status, answer) == (
                503,
                {"error": f"lamp: no worker serves {SERVICE} now: nothing was sent"},
            )
            assert _lamp(tree) is False
        wait_until(
            _board_serves(daemon), what="the board back", timeout_s=BACK_WITHIN_S
        )
        status, answer = page.toggle()  # answered: the lamp's one toggle
        assert (status, answer["reply"]["reading"]["value"]) == (200, True), answer
        _only_the_second_toggle_ran(daemon, tree, board, dropped=False)


@pytest.mark.timeout(90)
def test_a_toggle_sent_as_the_board_froze_is_not_run_when_it_is_back(
    tmp_path: Path,
) -> None:
    """The broker had not yet given the frozen board up: the toggle went to the
    board's socket, and waited there, unread. The page said 504; the broker gave the
    board up, put the toggle back in the queue and dropped it when the page stopped
    waiting. The board, back, read it from its socket and switched the lamp: its own
    check (no word from the broker for 3 x 2.5 s) missed it, as the broker may give a
    worker up after 5 s of its silence. It now drops what it reads after going 5 s
    without sending anything, and connects again."""
    with (
        _house(tmp_path) as (daemon, board),
        CloneClient(daemon.endpoint, b"/device/") as tree,
    ):
        tree.wait_synced(10)
        wait_until(lambda: _lamp(tree) is False, what="the lamp off in the tree")
        page = _Page(daemon)
        board.send_signal(signal.SIGSTOP)
        try:
            status, answer = page.toggle()
            assert (status, answer) == (
                504,
                {"error": f"{SERVICE}: no reply within a few seconds"},
            )
            wait_until(
                _board_gone(daemon),
                what="the broker to give the frozen board up",
                timeout_s=GONE_WITHIN_S,
            )
        finally:
            board.send_signal(signal.SIGCONT)
        wait_until(
            _board_serves(daemon), what="the board back", timeout_s=BACK_WITHIN_S
        )
        status, answer = page.toggle()  # answered: the lamp's one toggle
        assert (status, answer["reply"]["reading"]["value"]) == (200, True), answer
        _only_the_second_toggle_ran(daemon, tree, board, dropped=False)


def _scenario(daemon: Daemon, action: str, **fields: Any) -> dict[str, Any]:
    with Client(daemon.endpoint, timeout_s=10, retries=1) as client:
        status, body = client.request(
            f"{hostname()}.core.scenario",
            json.dumps({"v": 1, "action": action, **fields}),
        )
    answer: dict[str, Any] = json.loads(body)
    assert status == b"200", answer
    return answer


@pytest.mark.timeout(90)
def test_a_toggle_a_scenario_gave_up_is_not_run_when_the_board_is_back(
    tmp_path: Path,
) -> None:
    state, last_error = (
        "/scenario/away-toggle/state",
        "/scenario/away-toggle/last_error",
    )
    with (
        _house(tmp_path) as (daemon, board),
        CloneClient(daemon.endpoint) as tree,
    ):
        tree.wait_synced(10)
        wait_until(lambda: _lamp(tree) is False, what="the lamp off in the tree")
        wait_until(
            lambda: (
                mmi_service(daemon.endpoint, f"{hostname()}.core.scenario".encode())
                == b"200"
            ),
            what="the scenario service",
        )
        _scenario(
            daemon,
            "import",
            document=SCENARIO.format(board=BOARD),
            source="away.yaml",
            replace=False,
        )
        with _frozen(daemon, board):
            _scenario(daemon, "run", name="away-toggle")
            wait_until(
                lambda: tree.get(state.encode()) == b'"error"',
                what="the run to fail",
                timeout_s=10,
            )
            said = (
                f'"device {BOARD}.fake.lamp: toggle: {SERVICE} did not answer '
                'within 2s"'
            ).encode()
            wait_until(  # it may land a commit after the state
                lambda: tree.get(last_error.encode()) == said, what="the reason"
            )
            assert _lamp(tree) is False
        wait_until(
            _board_serves(daemon), what="the board back", timeout_s=BACK_WITHIN_S
        )
        _scenario(daemon, "run", name="away-toggle")  # answered: the lamp's one toggle
        wait_until(
            lambda: tree.get(state.encode()) == b'"idle"',
            what="the second run to end",
            timeout_s=10,
        )
        _only_the_second_toggle_ran(daemon, tree, board)


@pytest.mark.timeout(90)
def test_a_toggle_the_mqtt_bridge_answered_504_is_not_run_when_the_board_is_back(
    tmp_path: Path,
) -> None:
    lamp = f"{BASE}/{BOARD}/fake/lamp"
    with running_mosquitto(tmp_path / "mosquitto") as mqtt:
        bridge = (
            f'[mqtt]\nenabled = true\nhost = "127.0.0.1"\nport = {mqtt.port}\n'
            f'base_topic = "{BASE}"\n'
        )
        with _house(tmp_path, bridge) as (daemon, board):
            watcher = mqtt.watcher(f"{lamp}/#")
            try:
                watcher.wait_for(f"{lamp}/value", b"false")
                with _frozen(daemon, board):
                    watcher.publish(f"{lamp}/toggle", b"")
                    result = wait_until(
                        lambda: watcher.get(f"{lamp}/result") or b"",
                        what="the bridge's result",
                        timeout_s=15,
                    )
                    assert json.loads(result) == {
                        "v": 1,
                        "action": "toggle",
                        "status": 504,
                        "reply": {"error": "timeout", "detail": SERVICE},
                    }
                    assert watcher.get(f"{lamp}/value") == b"false"
                wait_until(
                    _board_serves(daemon),
                    what="the board back",
                    timeout_s=BACK_WITHIN_S,
                )
                watcher.latest.pop(f"{lamp}/result")
                watcher.publish(f"{lamp}/toggle", b"")  # answered: the one toggle
                result = wait_until(
                    lambda: watcher.get(f"{lamp}/result") or b"",
                    what="the bridge's second result",
                )
                assert json.loads(result)["status"] == 200, result
                watcher.wait_for(f"{lamp}/value", b"true")
                assert _board_lamp(daemon) is True
                assert _abandoned(daemon) >= 1
            finally:
                watcher.close()
            assert board.poll() is None
