"""Devices in the real raspyd on its `make run` defaults, and raspy-poller (issue 7).

One raspyd (raspy/defaults/run.toml) serves the whole module; every check reads the
tree with raspy.client.clone.CloneClient and talks MDP with raspy.client.mdp.Client.
"""

from __future__ import annotations

import functools
import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.daemon import Daemon, hostname, running_daemon, running_poller
from support.net import free_port_base
from support.sysfs import FakeW1Tree
from support.wait import wait_until

import raspy
from raspy.client.clone import CloneClient
from raspy.client.mdp import Client

RUN_TOML = Path(raspy.__file__).parent / "defaults" / "run.toml"
REMOTE = "e2e-remote"


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    data_dir = tmp_path_factory.mktemp("devices") / "data"
    with running_daemon(data_dir, extra_args=("--config", str(RUN_TOML))) as running:
        yield running


@pytest.fixture
def tree(daemon: Daemon) -> Iterator[CloneClient]:
    with CloneClient(daemon.endpoint, b"/device/") as client:
        client.wait_synced()
        yield client


def _value(tree: CloneClient, fullname: str, entry: str = "value") -> Any:
    body = tree.get(f"/device/{fullname}/{entry}".encode())
    return None if body is None else json.loads(body)


def _is_ok(tree: CloneClient, fullname: str) -> bool:
    return bool(_value(tree, fullname, "status") == "ok")


def _request(daemon: Daemon, service: str, *body: str) -> list[bytes]:
    with Client(daemon.endpoint, timeout_s=3, retries=2) as client:
        return client.request(service, *body)


def _command(daemon: Daemon, service: str, **document: Any) -> dict[str, Any]:
    status, reply = _request(daemon, service, json.dumps({"v": 1, **document}))
    assert status == b"200", reply
    result: dict[str, Any] = json.loads(reply)
    return result


def test_values_under_device_appear_and_change(tree: CloneClient) -> None:
    """Issue 7: `make run` shows simulated sensors changing live under /device/."""
    host = hostname()
    for name in ("outdoor", "living", "bathroom", "roof", "rtc"):
        wait_until(
            functools.partial(_is_ok, tree, f"{host}.fake.{name}"),
            what=f"{name} in the tree",
        )
    first = _value(tree, f"{host}.fake.roof")
    wait_until(
        lambda: _value(tree, f"{host}.fake.roof") != first,
        what="the simulated wind to change",
    )
    assert _value(tree, f"{host}.fake.roof", "unit") == "m/s"


def test_a_command_to_the_simulated_dimmer_is_reflected_in_the_tree(
    daemon: Daemon, tree: CloneClient
) -> None:
    """Issue 7: commands to a simulated dimmer through MDP show in the tree."""
    hall = f"{hostname()}.fake.hall"
    reply = _command(
        daemon, f"{hostname()}.fake.devices", action="level", device="hall", value=35
    )
    assert reply["reading"]["value"] == 35
    wait_until(lambda: _value(tree, hall) == 35, what="the dimmer at 35 %")


def test_device_services_are_found_with_mmi_services_and_a_glob(
    daemon: Daemon,
) -> None:
    assert _request(daemon, "mmi.services", "*.devices") == [
        b"200",
        f"{hostname()}.fake.devices".encode(),
        f"{hostname()}.gpio.devices".encode(),
    ]


def test_raspy_poller_in_a_second_process_publishes_into_the_same_tree(
    daemon: Daemon, tree: CloneClient, tmp_path: Path
) -> None:
    """Issue 7: `raspy-poller --connect tcp://HUB:PORT-BASE --service fake` runs the
    device service and pollers as an external MDP worker and Clone publisher; it
    ends cleanly on SIGTERM."""
    rtc, hall = f"{REMOTE}.fake.rtc", f"{REMOTE}.fake.hall"
    args = ("--service", "fake", "--hostname", REMOTE)
    with running_poller(daemon.endpoint, tmp_path / "poller.log", *args) as process:
        seen = wait_until(lambda: _value(tree, rtc), what="the remote rtc in the tree")
        wait_until(lambda: _value(tree, rtc) != seen, what="the remote rtc to change")
        wait_until(
            lambda: (
                f"{REMOTE}.fake.devices".encode()
                in _request(daemon, "mmi.services", "*.devices")
            ),
            what="the remote device service registered",
        )
        reply = _command(
            daemon, f"{REMOTE}.fake.devices", action="level", device="hall", value=70
        )
        assert reply["reading"]["value"] == 70
        wait_until(lambda: _value(tree, hall) == 70, what="the remote dimmer at 70 %")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    assert _value(tree, f"{hostname()}.fake.rtc") is not None  # the hub's own too


def test_raspy_poller_reads_onewire_sensors_from_its_config(
    daemon: Daemon, tree: CloneClient, tmp_path: Path
) -> None:
    """`--service onewire --config FILE`: the sysfs base directory and a named sensor
    come from the file's [devices] table; SIGINT ends it cleanly too."""
    w1 = FakeW1Tree(tmp_path / "sys")
    w1.add_celsius("28-0000000000e1", 22.75)
    config = tmp_path / "poller.toml"
    config.write_text(
        f'[devices]\nonewire_base_dir = "{w1.base_dir}"\n'
        "onewire_poll_interval_s = 0.5\n"
        '[[devices.onewire]]\nname = "cellar"\nsensor_id = "28-0000000000e1"\n',
        encoding="utf-8",
    )
    args = ("--service", "onewire", "--config", str(config), "--hostname", REMOTE)
    with running_poller(daemon.endpoint, tmp_path / "poller.log", *args) as process:
        cellar = f"{REMOTE}.onewire.cellar"
        wait_until(lambda: _value(tree, cellar) == 22.75, what="the cellar at 22.75")
        w1.set_celsius("28-0000000000e1", 23.5)
        wait_until(lambda: _value(tree, cellar) == 23.5, what="the cellar at 23.5")
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=15) == 0


def test_raspy_poller_started_before_the_hub_publishes_once_the_hub_is_up(
    tmp_path: Path,
) -> None:
    """A second board may boot first: its readings wait (latest per key) until the
    hub's collector listens (docs/protocols.md §1.6), then show in the tree."""
    hub = Daemon(tmp_path / "data", port_base=free_port_base())
    args = ("--service", "fake", "--hostname", "early-board")
    with running_poller(hub.endpoint, tmp_path / "poller.log", *args) as process:
        try:
            hub.start()
            with CloneClient(hub.endpoint, b"/device/") as tree:
                wait_until(
                    lambda: _value(tree, "early-board.fake.lamp", "unit") == "",
                    what="the early board's lamp in the tree",
                    timeout_s=15,
                )
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=15) == 0
        finally:
            hub.kill()


@pytest.mark.parametrize(
    "args",
    [
        ["--connect", "not-an-endpoint", "--service", "fake"],
        ["--connect", "tcp://127.0.0.1:5514", "--service", "zigbee"],
    ],
    ids=["bad_endpoint", "unknown_service"],
)
def test_raspy_poller_refuses_bad_usage_with_one_line_and_exit_2(
    args: list[str],
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "raspy.cli.poller", *args],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("raspy-poller: ")


def _raspy_device(daemon: Daemon, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "raspy.cli.raspy", "device", *args]
    return subprocess.run(
        [*command, "--server", daemon.endpoint],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_raspy_device_commands_a_device_by_its_full_name(
    daemon: Daemon, tree: CloneClient
) -> None:
    """`raspy device NAME ACTION [VALUE]`: the request a user would write by hand
    for `raspy call`, sent once; the device's answer printed as NAME = VALUE."""
    hall = f"{hostname()}.fake.hall"
    done = _raspy_device(daemon, hall, "level", "40")
    assert (done.returncode, done.stdout, done.stderr) == (0, f"{hall} = 40\n", "")
    wait_until(lambda: _value(tree, hall) == 40, what="the dimmer at 40 %")
    got = _raspy_device(daemon, hall, "get", "--json")
    assert got.returncode == 0, got.stderr
    assert json.loads(got.stdout)["reading"]["value"] == 40


@pytest.mark.parametrize(
    ("name", "status", "says"),
    [
        (f"{hostname()}.fake.nosuch", 2, "(unknown_device)"),
        (f"{hostname()}.fake.hall", 2, "(unknown_action)"),  # a dimmer has no toggle
        ("lamp", 2, "NAME: expected a device's full name"),
        ("no-such-board.fake.lamp", 1, "no worker serves no-such-board.fake.devices"),
    ],
    ids=["unknown-device", "no-such-action", "not-a-full-name", "no-such-service"],
)
def test_raspy_device_refusals_are_one_line(
    daemon: Daemon, name: str, status: int, says: str
) -> None:
    done = _raspy_device(daemon, name, "toggle", "--timeout", "0.5")
    assert done.returncode == status, done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert done.stderr.startswith("raspy device: ")
    assert says in done.stderr


def test_raspy_device_sends_nothing_to_a_board_that_is_away(
    daemon: Daemon, tree: CloneClient, tmp_path: Path
) -> None:
    """A command to a board that is away used to wait in the broker for a worker
    (up to `broker.request_ttl_s`, 30 s) after `raspy device` had said it failed:
    the board, back a few seconds later, switched the lamp on. The broker is asked
    first: nothing is sent, and the lamp stays off when the board comes."""
    board = "e2e-away"
    done = _raspy_device(daemon, f"{board}.fake.lamp", "on", "--timeout", "2")
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == (
        f"raspy device: {board}.fake.lamp: no worker serves {board}.fake.devices now"
        " (its board away, or no such service): nothing was sent\n"
    )
    config = tmp_path / "board.toml"
    config.write_text('[devices]\n[[devices.fake]]\nname = "lamp"\noid = "switch"\n')
    args = ("--service", "fake", "--hostname", board, "--config", str(config))
    with running_poller(daemon.endpoint, tmp_path / "board.log", *args):
        wait_until(
            lambda: _value(tree, f"{board}.fake.lamp") is not None,
            what="the board's lamp in the tree",
            timeout_s=15,
        )
        reply = _command(daemon, f"{board}.fake.devices", action="state", device="lamp")
        assert reply["reading"]["value"] is False
