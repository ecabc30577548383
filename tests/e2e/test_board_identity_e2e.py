"""Two boards, one house: who the second board is, at the real raspyd.

Its name (a copied SD card: a twin under the same hostname, met at start or later
while the hub was down; a board under the hub's own name), its keys (a CURVE board
with a wrong key, or at a plain hub) and its store (a rename kept across a kill, a
damaged store): the board that must not serve stops and says why, the one that may
goes on. The outages between a board and its hub are in test_two_boards_e2e.py.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import zmq.auth
from support.daemon import (
    Daemon,
    hostname,
    running_daemon,
    running_poller,
)
from support.two_boards import (
    ATTIC,
    BACK_WITHIN_S,
    BOARD,
    HUB,
    QUICK_BROKER,
    SERVICE,
    config_fixture,  # noqa: F401  # fixture `config`
)
from support.two_boards import answers as _answers
from support.two_boards import back as _back
from support.two_boards import hub_tree as _tree
from support.two_boards import poller as _poller
from support.two_boards import said as _said
from support.two_boards import wall as _wall
from support.two_boards import workers as _workers
from support.wait import wait_until

from raspy import packing
from raspy.client.clone import fetch_snapshot
from raspy.client.mdp import Client
from raspy.errors import ClientTimeout
from raspy.storage.store import Put, Store, Table
from raspy.storage.tables import SCHEMA_VERSION_KEY
from raspy.transport.sockets import CurveKeys


@pytest.mark.timeout(120)
def test_a_second_board_with_the_same_hostname_is_refused_and_says_why(
    tmp_path: Path, config: Path
) -> None:
    """A copied SD card: the board that comes second must not share the name in
    silence (the broker would share the service's requests between the two, and
    their readings would overwrite each other); it stops with a line saying why,
    and the first keeps working."""
    second_log = tmp_path / "second.log"
    with (
        running_daemon(tmp_path / "data", config_text=QUICK_BROKER + HUB) as daemon,
        _poller(daemon.endpoint, config, tmp_path / "first.log") as first,
    ):
        _back(daemon, 0.0)
        with _poller(daemon.endpoint, config, second_log) as second:
            assert second.wait(timeout=60) == 1
        said = _said(second_log)
        assert f"another board already serves {SERVICE}" in said, said
        assert f"'{BOARD}'" in said
        assert "--hostname" in said
        assert _workers(daemon.endpoint) == 1
        with _tree(daemon) as tree:
            _back(daemon, _wall(tree))
        assert first.poll() is None


@pytest.mark.timeout(120)
@pytest.mark.parametrize("hub_fake", ["true", "false"])
def test_a_board_under_the_hubs_own_name_is_told_so(
    tmp_path: Path, config: Path, hub_fake: str
) -> None:
    """raspy-poller started on the hub's own host (or named after it): it was told
    that "two boards run as" the hub's name and to rename a host that is no board;
    it is told the hub has that name and what to set on this board. At the hub's
    first answer: it waited ~10 s first, as for a worker of its name that a killed
    predecessor may have left (the hub's own device service is none).

    Whatever its service: one the hub does not run (`fake_enabled = false`) was
    let in, and the hub's reload deleted its readings as those of a service of its
    own turned off (`/device/<hub's name>.fake.*`); the board, still connected,
    never sent them again."""
    own = hostname()
    log_path = tmp_path / "board.log"
    with (
        running_daemon(
            tmp_path / "data",
            config_text=QUICK_BROKER + f"[devices]\nfake_enabled = {hub_fake}\n",
        ) as daemon,
        running_poller(
            daemon.endpoint,
            log_path,
            *("--service", "fake", "--hostname", own, "--config", str(config)),
        ) as board,
    ):
        # a config to change: 2, which raspy-poller.service does not restart
        assert board.wait(timeout=30) == 2
    said = _said(log_path)
    assert f"the hub itself runs under the host name '{own}'" in said, said
    assert f"cannot serve {own}.fake.devices" in said, said
    assert "--hostname NAME" in said, said
    assert "two boards" not in said, said
    assert "hub_has_our_service" not in said, said  # no wait for it to go


@pytest.mark.timeout(120)
def test_a_board_stopped_while_it_waits_at_start_starts_nothing(
    tmp_path: Path, config: Path
) -> None:
    """SIGTERM while the start check waits for the hub's other worker of this
    service to go: exit 0 at once, and nothing started only to be stopped (before,
    every part started, then stopped; and the wait was not said)."""
    second_log = tmp_path / "second.log"
    with (
        running_daemon(tmp_path / "data", config_text=QUICK_BROKER + HUB) as daemon,
        _poller(daemon.endpoint, config, tmp_path / "first.log"),
    ):
        _back(daemon, 0.0)
        with _poller(daemon.endpoint, config, second_log) as second:
            wait_until(
                lambda: "hub_has_our_service" in _said(second_log),
                what="the second board saying why it waits",
            )
            second.send_signal(signal.SIGTERM)
            assert second.wait(timeout=30) == 0
        said = _said(second_log)
        assert "poller_stopped_before_start" in said, said
        assert "device_service_started" not in said, said
        # the hub's 0.5 s x 10 of QUICK_LINK's hub_* keys, and a heartbeat more
        assert '"wait_s": 5.5' in said, said
        assert _workers(daemon.endpoint) == 1


@pytest.mark.timeout(180)
def test_twins_that_met_while_the_hub_was_down_end_with_one_left(
    tmp_path: Path, config: Path
) -> None:
    """Both boards of one name started before the hub: neither saw the other at
    start. Once both serve, one of them stops and says why; the other goes on."""
    hub = Daemon(tmp_path / "data", config_text=QUICK_BROKER + HUB)
    logs = (tmp_path / "a.log", tmp_path / "b.log")
    try:
        with (
            _poller(hub.endpoint, config, logs[0]) as first,
            _poller(hub.endpoint, config, logs[1]) as second,
        ):
            wait_until(
                lambda: all("poller_started" in _said(log) for log in logs),
                what="both pollers started",
                timeout_s=30,
            )
            hub.start()
            ended = wait_until(
                lambda: [p for p in (first, second) if p.poll() is not None],
                what="one twin to stop",
                timeout_s=90,
            )
            assert len(ended) == 1
            assert ended[0].returncode == 1
            left = second if ended[0] is first else first
            gone_log = logs[0] if ended[0] is first else logs[1]
            assert f"another board already serves {SERVICE}" in _said(gone_log)
            wait_until(
                lambda: _workers(hub.endpoint) == 1,
                what="one worker left",
                timeout_s=15,
            )
            assert left.poll() is None
    finally:
        hub.kill()


def _curve_hub(tmp_path: Path) -> tuple[str, dict[str, Path]]:
    """[security] text and the key files: the hub's, and boards a (authorized) and b."""
    made, allowed = tmp_path / "made", tmp_path / "authorized"
    made.mkdir()
    allowed.mkdir()
    files: dict[str, Path] = {}
    for name in ("server", "a", "b"):
        public, secret = zmq.auth.create_certificates(made, name)
        files[name], files[f"{name}_secret"] = Path(public), Path(secret)
    (allowed / "a.key").write_bytes(files["a"].read_bytes())
    text = (
        "[security]\n"
        f'curve_secret_key_file = "{files["server_secret"]}"\n'
        f'authorized_keys_dir = "{allowed}"\n'
    )
    return text, files


def _curve_keys(server: Path, secret: Path) -> CurveKeys:
    server_key, _ = zmq.auth.load_certificate(server)
    public, private = zmq.auth.load_certificate(secret)
    assert private is not None
    return CurveKeys(public, private, server_key=server_key)


def _curve_ready(server: Path, secret: Path) -> Callable[[str], bool]:
    """Readiness of a CURVE hub: board a's keys get an MMI answer."""
    keys = _curve_keys(server, secret)

    def ready(endpoint: str) -> bool:
        try:
            with Client(endpoint, timeout_s=0.5, retries=1, curve=keys) as client:
                return client.request("mmi.service", "x")[0] == b"404"
        except ClientTimeout:
            return False

    return ready


@pytest.mark.timeout(120)
def test_a_board_with_a_wrong_key_is_told_which_one(
    tmp_path: Path, config: Path
) -> None:
    text, files = _curve_hub(tmp_path)
    ready = _curve_ready(files["server"], files["a_secret"])
    cases = {
        "unlisted": (files["server"], files["b_secret"], "refused this board's key"),
        "server": (files["b"], files["a_secret"], "--server-key is not the public"),
        "plain": (None, None, "requires CURVE"),
    }
    with running_daemon(
        tmp_path / "data", config_text=QUICK_BROKER + HUB + text, ready=ready
    ) as hub:
        for name, (server, secret, words) in cases.items():
            keys: list[str] = []
            if server is not None:
                keys = ["--server-key", str(server), "--client-cert", str(secret)]
            log_path = tmp_path / f"{name}.log"
            with _poller(hub.endpoint, config, log_path, *keys) as process:
                assert process.wait(timeout=30) == 2, _said(log_path)
            assert words in _said(log_path), _said(log_path)
        # the right keys: in and publishing
        keys = ["--server-key", str(files["server"])]
        keys += ["--client-cert", str(files["a_secret"])]
        log_path = tmp_path / "right.log"
        curve = _curve_keys(files["server"], files["a_secret"])
        with _poller(hub.endpoint, config, log_path, *keys) as process:
            wait_until(
                lambda: (
                    f"/device/{ATTIC}/value".encode()
                    in fetch_snapshot(
                        hub.endpoint, f"/device/{BOARD}.".encode(), curve=curve
                    ).items
                ),
                what="the board's readings in the tree",
                timeout_s=20,
            )
            assert "hub_refused_board" not in _said(log_path)
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=15) == 0


@pytest.mark.timeout(60)
def test_a_curve_board_at_a_plain_hub_is_told(tmp_path: Path, config: Path) -> None:
    _, files = _curve_hub(tmp_path)
    keys = ["--server-key", str(files["server"])]
    keys += ["--client-cert", str(files["a_secret"])]
    log_path = tmp_path / "poller.log"
    with (
        running_daemon(tmp_path / "data", config_text=QUICK_BROKER + HUB) as hub,
        _poller(hub.endpoint, config, log_path, *keys) as process,
    ):
        assert process.wait(timeout=30) == 2
    assert "does not use CURVE" in _said(log_path)


def _command(endpoint: str, **document: Any) -> dict[str, Any]:
    with Client(endpoint, timeout_s=3, retries=2) as client:
        status, reply = client.request(SERVICE, json.dumps({"v": 1, **document}))
    assert status == b"200", reply
    result: dict[str, Any] = json.loads(reply)
    return result


@pytest.mark.timeout(120)
def test_a_rename_on_a_board_with_a_data_dir_outlives_a_kill(
    tmp_path: Path, config: Path
) -> None:
    """A board had no store: a device renamed over MDP took its file name again at
    the poller's next start, and Home Assistant showed the old name. With
    --data-dir the change is committed on the board before the reply, so even a
    SIGKILL right after the reply keeps it; a second poller on the same data dir is
    refused, naming the first."""
    board = str(tmp_path / "board")
    with running_daemon(tmp_path / "data", config_text=QUICK_BROKER + HUB) as daemon:
        with _poller(
            daemon.endpoint, config, tmp_path / "first.log", "--data-dir", board
        ) as first:
            _back(daemon, 0.0)
            renamed = {"friendly_name": "Attic shelf"}
            _command(daemon.endpoint, action="config", device="attic", value=renamed)
            twin_log = tmp_path / "twin.log"
            with _poller(
                daemon.endpoint, config, twin_log, "--data-dir", board
            ) as twin:
                assert twin.wait(timeout=30) == 2
            assert f"in use by another process (pid {first.pid})" in _said(twin_log)
            first.kill()
            first.wait(timeout=10)
        with _poller(
            daemon.endpoint, config, tmp_path / "second.log", "--data-dir", board
        ):
            wait_until(
                lambda: _answers(daemon.endpoint),
                what="the board's service answering again",
                timeout_s=BACK_WITHIN_S,
            )
            looked = _command(daemon.endpoint, action="config", device="attic")
            assert looked["config"]["friendly_name"] == "Attic shelf"


@pytest.mark.timeout(120)
@pytest.mark.parametrize("store", ["damaged", "newer"])
def test_a_board_with_a_damaged_store_serves_its_sensors_without_its_settings(
    tmp_path: Path, config: Path, store: str
) -> None:
    """A damaged `data.mdb` in --data-dir stopped the poller (exit 1): systemd gave
    up after five tries, and the board's sensors were gone from the hub for the sake
    of a rename. It now serves without its settings, and says so in its log, with
    what to do: check the store, or, for a newer raspy's (a downgrade), upgrade."""
    board = tmp_path / "board"
    if store == "damaged":
        board.mkdir(mode=0o700)
        (board / "data.mdb").write_bytes(bytes(range(256)) * 64)  # no LMDB file
        hint = f"raspy-kv check --data-dir {board}"
    else:
        with Store.open(board) as written:
            written.commit([Put(Table.META, SCHEMA_VERSION_KEY, packing.pack(7))])
        hint = "upgrade raspy on this board"
    log_path = tmp_path / "poller.log"
    with (
        running_daemon(tmp_path / "data", config_text=QUICK_BROKER + HUB) as daemon,
        _poller(daemon.endpoint, config, log_path, "--data-dir", str(board)) as process,
    ):
        _back(daemon, 0.0)
        assert process.poll() is None
        # a change is applied all the same, until the poller restarts (the log said
        # it was neither applied nor kept)
        renamed = {"friendly_name": "Attic shelf"}
        changed = _command(
            daemon.endpoint, action="config", device="attic", value=renamed
        )
        assert changed["config"]["friendly_name"] == "Attic shelf"
    said = _said(log_path)
    assert '"event": "board_store_unusable"' in said, said
    assert hint in said
    assert (
        "the settings it holds are not applied; one changed over MDP lasts until "
        "raspy-poller restarts"
    ) in said
