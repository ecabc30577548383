"""Two boards, one house: a real raspy-poller against the real raspyd under failures.

The hub killed and started again (on its data dir, or on a new one restored from a
dump), the board frozen and retired, the network between them stalled and cut: the
board's readings come back in the hub's tree and its service answers again without
anyone restarting the poller, and offline marks clear.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
import zmq.auth
from support.board_link import BoardLink
from support.daemon import (
    Daemon,
    hostname,
    mmi_service,
    running_daemon,
    running_poller,
)
from support.sysfs import FakeW1Tree, release_fifo
from support.wait import wait_until

from raspy import packing
from raspy.cli import poller as poller_cli
from raspy.client.clone import CloneClient, fetch_snapshot
from raspy.client.mdp import Client
from raspy.errors import ClientTimeout
from raspy.storage.store import Put, Store, Table
from raspy.storage.tables import SCHEMA_VERSION_KEY
from raspy.transport.sockets import CurveKeys

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
POLLER = (
    '[devices]\n[[devices.fake]]\nname = "attic"\noid = "sensor.temperature"\n'
    "poll_interval_s = 0.2\n"
)


def _poller(
    endpoint: str, config: Path, log_path: Path, *extra: str
) -> AbstractContextManager[subprocess.Popen[bytes]]:
    return running_poller(
        endpoint,
        log_path,
        *("--service", "fake", "--hostname", BOARD, "--config", str(config), *extra),
    )


def _field(tree: CloneClient, field: str) -> Any:
    body = tree.get(f"/device/{ATTIC}/{field}".encode())
    return None if body is None else json.loads(body)


def _fresh_ok(tree: CloneClient, since: float) -> bool:
    """The attic ok, with a reading taken after `since` (wall s)."""
    ts = _field(tree, "timestamp")
    return _field(tree, "status") == "ok" and isinstance(ts, float) and ts > since


def _answers(endpoint: str) -> bool:
    """The board's service answers a `list` through the hub."""
    try:
        with Client(endpoint, timeout_s=2, retries=1) as client:
            status, _ = client.request(SERVICE, json.dumps({"v": 1, "action": "list"}))
    except ClientTimeout:  # the board is not back yet
        return False
    return status == b"200"


def _wall(tree: CloneClient) -> float:
    ts = _field(tree, "timestamp")
    assert isinstance(ts, float)
    return ts


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "poller.toml"
    path.write_text(POLLER, encoding="utf-8")
    return path


def _tree(daemon: Daemon) -> CloneClient:
    tree = CloneClient(daemon.endpoint, b"/device/")
    tree.wait_synced(10)
    return tree


def _back(daemon: Daemon, since: float) -> None:
    """The board's readings fresh and ok in a new tree client, its service answering."""
    with _tree(daemon) as tree:
        wait_until(
            lambda: _fresh_ok(tree, since),
            what="the board's readings ok again",
            timeout_s=BACK_WITHIN_S,
        )
    wait_until(
        lambda: _answers(daemon.endpoint),
        what="the board's service answering",
        timeout_s=BACK_WITHIN_S,
    )


@pytest.mark.timeout(180)
def test_the_board_comes_back_after_the_hub_is_killed_and_started_again(
    tmp_path: Path, config: Path
) -> None:
    with (
        running_daemon(tmp_path / "data", config_text=HUB_SLOW) as daemon,
        _poller(daemon.endpoint, config, tmp_path / "poller.log") as process,
    ):
        _back(daemon, 0.0)
        for _ in range(2):
            with _tree(daemon) as tree:
                before = _wall(tree)
            daemon.kill()
            daemon.start()
            _back(daemon, before)
        with _tree(daemon) as tree:  # and it stays so
            since = _wall(tree)
            wait_until(lambda: _fresh_ok(tree, since + 1.0), what="fresher readings")
        assert process.poll() is None
    assert "device_service_offline" not in daemon.log_text()


@pytest.mark.timeout(120)
def test_a_board_finds_a_hub_that_was_away_for_long_within_seconds(
    tmp_path: Path, config: Path
) -> None:
    """Its sockets' connect attempts back off to one every 2 s while the hub is
    away (RECONNECT_IVL_MAX): a hub back after long enough for that back-off still
    has the board's readings within a few seconds."""
    log_path = tmp_path / "poller.log"
    with (
        running_daemon(tmp_path / "data", config_text=HUB_SLOW) as daemon,
        _poller(daemon.endpoint, config, log_path) as process,
    ):
        _back(daemon, 0.0)
        daemon.kill()
        wait_until(  # the Clone client gave the hub up: 5 s of silence
            lambda: "clone_server_reconnected" in _said(log_path),
            what="the board missing its hub",
            timeout_s=20,
        )
        wait_until(  # its worker too: 3 x 2.5 s; the back-off is at 2 s by now
            lambda: "broker_lost" in _said(log_path),
            what="the board's worker missing the broker",
            timeout_s=20,
        )
        since = time.time()
        daemon.start()
        with _tree(daemon) as tree:
            wait_until(
                lambda: _fresh_ok(tree, since),
                what="the board's readings back",
                timeout_s=10,
            )
        assert process.poll() is None


@pytest.mark.timeout(120)
def test_an_offline_mark_that_lands_after_the_board_is_back_is_healed(
    tmp_path: Path, config: Path
) -> None:
    """The hub decides to mark a board offline when its grace ends; a mark decided
    just before the board came back can land after the board sent its readings
    again, and the board wrote only what changed after that: a status `ok` that
    does not change again stayed `offline` for good. The board now sends its
    readings again when it sees one of its own marked offline while it is there."""
    with (
        running_daemon(tmp_path / "data", config_text=HUB_SLOW) as daemon,
        _poller(daemon.endpoint, config, tmp_path / "poller.log"),
    ):
        _back(daemon, 0.0)
        with _tree(daemon) as tree:
            # the late mark, as the hub's marker writes it (value null, offline)
            tree.set(f"/device/{ATTIC}/value".encode(), b"null")
            tree.set(f"/device/{ATTIC}/status".encode(), b'"offline"')
            with _tree(daemon) as other:  # the mark is in the hub's tree
                wait_until(
                    lambda: _field(other, "status") == "offline", what="the mark"
                )
            wait_until(
                lambda: _field(tree, "status") == "ok",
                what="the board's status ok again after a late offline mark",
                timeout_s=15.0,
            )


@pytest.mark.timeout(120)
def test_a_board_started_after_its_offline_mark_heals_it_without_alarm(
    tmp_path: Path, config: Path
) -> None:
    """Killed, marked offline, started again: the mark the board finds in the hub's
    tree is from before it started, and its first readings heal it. It took that
    mark for one decided while it was there: a warning at every such start
    (`readings_marked_offline_while_here`) and every reading sent twice."""
    with running_daemon(tmp_path / "data", config_text=HUB) as daemon:
        with _poller(daemon.endpoint, config, tmp_path / "first.log") as first:
            _back(daemon, 0.0)
            first.kill()
            first.wait(timeout=10)
        with _tree(daemon) as tree:
            wait_until(
                lambda: _field(tree, "status") == "offline",
                what="the hub's offline mark",
                timeout_s=BACK_WITHIN_S,
            )
        log = tmp_path / "second.log"
        with _poller(daemon.endpoint, config, log):
            started = time.time()
            _back(daemon, started)
            # readings taken well after the board's look at a mark (MARK_SETTLE_S)
            _back(daemon, started + 2 * poller_cli.MARK_SETTLE_S)
        text = log.read_text(encoding="utf-8")
        assert "readings_marked_offline_while_here" not in text
        assert "device_readings_republished" not in text


@pytest.mark.timeout(180)
def test_the_board_comes_back_to_a_hub_restored_from_a_dump(
    tmp_path: Path, config: Path
) -> None:
    kv = [sys.executable, "-m", "raspy.cli.kv"]
    dump = tmp_path / "hub.dump"
    with (
        running_daemon(tmp_path / "data", config_text=HUB) as daemon,
        _poller(daemon.endpoint, config, tmp_path / "poller.log") as process,
    ):
        _back(daemon, 0.0)
        with _tree(daemon) as tree:
            since = _wall(tree)
        subprocess.run(
            [*kv, "dump", "--data-dir", str(daemon.data_dir), "-o", str(dump)],
            check=True,
            timeout=30,
        )
        daemon.kill()
        fresh = tmp_path / "restored"
        subprocess.run(
            [*kv, "restore", "--data-dir", str(fresh), str(dump)],
            check=True,
            timeout=30,
        )
        daemon.data_dir = fresh
        daemon.start()
        _back(daemon, since)
        assert process.poll() is None


_MARKER_DONE = frozenset(
    {
        "device_service_offline",  # marked
        "device_offline_mark_skipped",  # written or deleted between read and write
        "device_service_offline_nothing_to_mark",  # nothing left when the grace ended
    }
)


def _graces_ended(daemon: Daemon) -> int:
    """How many times the hub's offline marker handled the board's outage."""
    count = 0
    for line in daemon.log_text().splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("event") in _MARKER_DONE and event.get("service") == SERVICE:
            count += 1
    return count


@pytest.mark.timeout(180)
def test_a_hung_board_goes_offline_leaves_mmi_heals_and_can_be_retired(
    tmp_path: Path, config: Path
) -> None:
    # a grace that the retiring `raspy-kv del` surely falls within
    with running_daemon(tmp_path / "data", config_text=HUB_SLOW) as daemon:
        with (
            _poller(daemon.endpoint, config, tmp_path / "poller.log") as process,
            _tree(daemon) as tree,
        ):
            _back(daemon, 0.0)
            process.send_signal(signal.SIGSTOP)
            try:
                wait_until(
                    lambda: _field(tree, "status") == "offline",
                    what="the attic offline",
                    timeout_s=BACK_WITHIN_S,
                )
                assert mmi_service(daemon.endpoint, SERVICE.encode()) == b"404"
            finally:
                process.send_signal(signal.SIGCONT)
            _back(daemon, 0.0)
            assert mmi_service(daemon.endpoint, SERVICE.encode()) == b"200"
            graces = _graces_ended(daemon)
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=15) == 0
            # retired at once, within the hub's grace: the mark that comes at its
            # end finds nothing, or (deleted between its read and its write) leaves
            # the keys deleted; it never writes them back
            retired = subprocess.run(
                [
                    *(sys.executable, "-m", "raspy.cli.kv", "del", "--subtree"),
                    f"/device/{BOARD}.fake.",
                    *("--server", f"127.0.0.1:{daemon.port_base}"),
                ],
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
            assert retired.returncode == 0, retired.stderr
            wait_until(
                lambda: not tree.items(f"/device/{BOARD}.".encode()),
                what="the board's keys gone",
            )
            wait_until(
                lambda: _graces_ended(daemon) > graces,
                what="the hub's grace over",
                timeout_s=BACK_WITHIN_S,
            )
            # published in order: once this comes back, so has any mark before it
            tree.delete(b"/device/probe", confirm_timeout_s=10)
            assert not tree.items(f"/device/{BOARD}.".encode())
        # and they stay gone
        daemon.kill()
        daemon.start()
        with _tree(daemon) as tree:
            assert not tree.items(f"/device/{BOARD}.".encode())


@pytest.mark.timeout(180)
def test_a_toggle_sent_while_the_board_was_frozen_runs_once(
    tmp_path: Path, config: Path
) -> None:
    """The hub gives the frozen board's request to its next worker (the board
    itself, back within `request_ttl_s`); the copy left on the board's old
    connection must not run as well: a toggle that ran twice would not toggle."""
    config.write_text(POLLER + '[[devices.fake]]\nname = "pump"\noid = "switch"\n')
    with (
        running_daemon(tmp_path / "data", config_text=HUB) as daemon,
        _poller(daemon.endpoint, config, tmp_path / "poller.log") as process,
        _tree(daemon) as tree,
    ):
        _back(daemon, 0.0)
        process.send_signal(signal.SIGSTOP)
        try:
            # the hub still has the board's worker: the request goes to it
            toggle = json.dumps({"v": 1, "action": "toggle", "device": "pump"})
            with (
                Client(daemon.endpoint, timeout_s=1, retries=1) as client,
                pytest.raises(ClientTimeout),
            ):
                client.request(SERVICE, toggle)
            wait_until(
                lambda: _field(tree, "status") == "offline",
                what="the attic offline",
                timeout_s=BACK_WITHIN_S,
            )
        finally:
            process.send_signal(signal.SIGCONT)
        _back(daemon, _wall(tree))  # the hub's copy of the request ran first
        get = json.dumps({"v": 1, "action": "get", "device": "pump"})
        with Client(daemon.endpoint, timeout_s=2, retries=3) as client:
            status, body = client.request(SERVICE, get)
        assert status == b"200"
        assert json.loads(body)["reading"]["value"] is True


@pytest.mark.timeout(120)
def test_a_request_the_board_answers_late_leaves_its_service_answering(
    tmp_path: Path,
) -> None:
    """A rescan that finds three family-3b parts that do not answer holds the device
    service 6 s (3 s, and 1 s a part), past raspy-poller's 5 s for an answer. It
    sent none: the broker kept the worker busy with that request for as long as it
    heartbeat, and every later request to the board waited in vain until it was
    restarted. It now answers 500, and the next request is served."""
    w1 = FakeW1Tree(tmp_path / "sys")
    w1.add_celsius("28-00000000000a", 20.0)
    config = tmp_path / "poller.toml"
    config.write_text(f'[devices]\nonewire_base_dir = "{w1.base_dir}"\n')
    service = f"{BOARD}.onewire.devices"

    def ask(action: str, timeout_s: float) -> tuple[bytes, Any]:
        body = json.dumps({"v": 1, "action": action})
        with Client(daemon.endpoint, timeout_s=timeout_s, retries=1) as client:
            status, reply = client.request(service, body)
        return status, json.loads(reply)

    fifos = []
    with (
        running_daemon(tmp_path / "data", config_text=HUB) as daemon,
        running_poller(
            daemon.endpoint,
            tmp_path / "poller.log",
            *("--service", "onewire", "--hostname", BOARD, "--config", str(config)),
        ),
    ):
        try:
            wait_until(
                lambda: mmi_service(daemon.endpoint, service.encode()) == b"200",
                what="the board's service",
                timeout_s=BACK_WITHIN_S,
            )
            for n in range(3):
                silent = f"3b-00000000000{n}"
                w1.add(silent, "")
                fifo = w1.base_dir / silent / "w1_slave"
                fifo.unlink()
                os.mkfifo(fifo)
                fifos.append(fifo)
            status, reply = ask("rescan", 15)
            assert (status, reply["error"]) == (b"500", "device_error"), reply
            status, reply = ask("list_keys", 5)
            assert status == b"200", reply
        finally:
            for fifo in fifos:
                release_fifo(fifo)


@pytest.fixture
def link_hub(tmp_path: Path) -> Iterator[tuple[Daemon, BoardLink]]:
    with (
        running_daemon(tmp_path / "data", config_text=HUB) as daemon,
        BoardLink(daemon.port_base) as link,
    ):
        yield daemon, link


@pytest.mark.timeout(240)
def test_the_board_rides_out_a_flapping_network(
    tmp_path: Path, config: Path, link_hub: tuple[Daemon, BoardLink]
) -> None:
    daemon, link = link_hub
    with (
        _poller(link.endpoint, config, tmp_path / "poller.log") as process,
        _tree(daemon) as tree,
    ):
        _back(daemon, 0.0)
        # short stalls (3 s: a heartbeat or two lost) ended by cuts: back each time
        for _ in range(3):
            link.stall()
            stalled = _wall(tree)
            until = stalled + 3
            wait_until(lambda: time.time() >= until, what="3 s of stall", timeout_s=10)  # noqa: B023  # called at once
            link.cut()
            link.heal()
            _back(daemon, stalled)
        # a long stall: the hub gives the board up and marks it; healed, it is back
        link.stall()
        wait_until(
            lambda: _field(tree, "status") == "offline",
            what="the attic offline",
            timeout_s=BACK_WITHIN_S,
        )
        since = _wall(tree)
        link.heal()
        _back(daemon, since)
        # a long stall ended by a cut (the router rebooted)
        link.stall()
        wait_until(
            lambda: _field(tree, "status") == "offline",
            what="the attic offline again",
            timeout_s=BACK_WITHIN_S,
        )
        since = _wall(tree)
        link.cut()
        link.heal()
        _back(daemon, since)
        assert process.poll() is None


def _workers(endpoint: str) -> int:
    """Live workers of the board's service, as the hub's broker counts them."""
    with Client(endpoint, timeout_s=2, retries=2) as client:
        status, table = client.request("mmi.workers", SERVICE)
    assert status == b"200"
    counts = json.loads(table).get(SERVICE, {})
    return int(counts.get("idle", 0)) + int(counts.get("busy", 0))


def _said(log_path: Path) -> str:
    return log_path.read_text(encoding="utf-8", errors="replace")


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
        running_daemon(tmp_path / "data", config_text=HUB) as daemon,
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
def test_a_board_under_the_hubs_own_name_is_told_so(
    tmp_path: Path, config: Path
) -> None:
    """raspy-poller started on the hub's own host (or named after it) with a service
    the hub serves itself: it was told that "two boards run as" the hub's name and
    to rename a host that is no board; it is told the hub has that name and what to
    set on this board."""
    own = hostname()
    log_path = tmp_path / "board.log"
    with (
        running_daemon(
            tmp_path / "data", config_text="[devices]\nfake_enabled = true\n"
        ) as daemon,
        running_poller(
            daemon.endpoint,
            log_path,
            *("--service", "fake", "--hostname", own, "--config", str(config)),
        ) as board,
    ):
        # a config to change: 2, which raspy-poller.service does not restart
        assert board.wait(timeout=60) == 2
    said = _said(log_path)
    assert f"the hub itself serves {own}.fake.devices" in said, said
    assert f"the host name '{own}'" in said, said
    assert "--hostname NAME" in said, said
    assert "two boards" not in said, said


@pytest.mark.timeout(120)
def test_a_board_stopped_while_it_waits_at_start_starts_nothing(
    tmp_path: Path, config: Path
) -> None:
    """SIGTERM while the start check waits for the hub's other worker of this
    service to go: exit 0 at once, and nothing started only to be stopped (before,
    every part started, then stopped; and the wait was not said)."""
    second_log = tmp_path / "second.log"
    with (
        running_daemon(tmp_path / "data", config_text=HUB) as daemon,
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
        assert _workers(daemon.endpoint) == 1


@pytest.mark.timeout(180)
def test_twins_that_met_while_the_hub_was_down_end_with_one_left(
    tmp_path: Path, config: Path
) -> None:
    """Both boards of one name started before the hub: neither saw the other at
    start. Once both serve, one of them stops and says why; the other goes on."""
    hub = Daemon(tmp_path / "data", config_text=HUB)
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


# a 1-Wire board's interval: its next poll is far beyond every wait below
SLOW_POLLER = (
    '[devices]\n[[devices.fake]]\nname = "attic"\noid = "sensor.temperature"\n'
    "poll_interval_s = 600\n"
)


@pytest.mark.timeout(120)
def test_readings_held_while_the_hub_was_away_go_once_it_is_back(
    tmp_path: Path,
) -> None:
    """The board read its sensors while its hub was down and held the readings;
    they went out only with the board's next poll, minutes later for a 1-Wire
    board, and the hub showed nothing of the board until then. They go as soon
    as the board's Clone client has the hub again."""
    config = tmp_path / "slow.toml"
    config.write_text(SLOW_POLLER, encoding="utf-8")
    log_path = tmp_path / "poller.log"
    hub = Daemon(tmp_path / "data", config_text=HUB)
    try:
        with _poller(hub.endpoint, config, log_path) as process:
            wait_until(
                lambda: "device_service_started" in _said(log_path),
                what="the board polling (and holding: no hub)",
                timeout_s=30,
            )
            hub.start()
            up = time.time()  # a reading taken before this was held
            with _tree(hub) as tree:
                wait_until(
                    lambda: _field(tree, "status") == "ok",
                    what="the held reading at the hub",
                    timeout_s=20,  # the board's next poll: in 600 s
                )
                assert _wall(tree) < up  # the one taken while the hub was away
            assert process.poll() is None
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
    with running_daemon(tmp_path / "data", config_text=HUB + text, ready=ready) as hub:
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
        running_daemon(tmp_path / "data", config_text=HUB) as hub,
        _poller(hub.endpoint, config, log_path, *keys) as process,
    ):
        assert process.wait(timeout=30) == 2
    assert "does not use CURVE" in _said(log_path)


CELLAR = '[[devices.fake]]\nname = "cellar"\noid = "sensor.humidity"\n'


@pytest.mark.timeout(240)
def test_a_device_gone_from_the_board_stays_gone_after_an_old_dump_is_restored(
    tmp_path: Path, config: Path
) -> None:
    """The hub restored from a dump older than the board's last restart gets back
    readings of a device the board no longer has, "ok" and looking fresh: the
    running board deletes them again, as it did at its own start."""
    cellar = f"/device/{BOARD}.fake.cellar/"
    kv = [sys.executable, "-m", "raspy.cli.kv"]
    dump = tmp_path / "hub.dump"
    config.write_text(POLLER + CELLAR, encoding="utf-8")
    hub = Daemon(tmp_path / "data", config_text=HUB_SLOW)
    try:
        hub.start()
        with (
            _poller(hub.endpoint, config, tmp_path / "old.log") as process,
            _tree(hub) as tree,
        ):
            wait_until(
                lambda: tree.get(f"{cellar}status".encode()) == b'"ok"',
                what="the cellar ok",
                timeout_s=20,
            )
            _back(hub, 0.0)
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=15) == 0
        assert hub.terminate(timeout_s=15) == 0  # its readings written at the stop
        subprocess.run(
            [*kv, "dump", "--data-dir", str(hub.data_dir), "-o", str(dump)],
            check=True,
            timeout=30,
        )
        hub.start()
        config.write_text(POLLER, encoding="utf-8")  # the cellar sensor taken away
        with (
            _poller(hub.endpoint, config, tmp_path / "poller.log") as process,
            _tree(hub) as tree,
        ):
            wait_until(
                lambda: not tree.items(cellar.encode()),
                what="the cellar forgotten at the board's start",
                timeout_s=20,
            )
            _back(hub, 0.0)
            hub.kill()
            fresh = tmp_path / "restored"
            subprocess.run(
                [*kv, "restore", "--data-dir", str(fresh), str(dump)],
                check=True,
                timeout=30,
            )
            hub.data_dir = fresh
            hub.start()
            _back(hub, 0.0)
            with _tree(hub) as restored:
                wait_until(
                    lambda: not restored.items(cellar.encode()),
                    what="the cellar forgotten again",
                    timeout_s=BACK_WITHIN_S,
                )
            assert process.poll() is None
    finally:
        hub.kill()


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
    with running_daemon(tmp_path / "data", config_text=HUB) as daemon:
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
        running_daemon(tmp_path / "data", config_text=HUB) as daemon,
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
