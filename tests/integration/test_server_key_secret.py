"""A hub's secret certificate given as a board's or a client's --server-key: it holds
the public key too, so it works, and it was taken without a word, which invites
copying the hub's secret onto every board. raspy, raspy-kv and raspy-poller, run as
processes, say so in one line naming the file and its public half."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import zmq.auth
from support.cli_process import finish_text as finish
from support.daemon import complete_text, running_poller
from support.net import free_port_base
from support.wait import wait_until

pytestmark = pytest.mark.timeout(60)


def certificates(folder: Path) -> tuple[str, str]:
    """The hub's secret certificate (given where its public one belongs) and this
    client's."""
    zmq.auth.create_certificates(str(folder), "hub")
    _, mine = zmq.auth.create_certificates(str(folder), "me")
    return str(folder / "hub.key_secret"), mine


# what a tool with keys adds when the hub is silent (it may not know this client)
_CURVE_HINT = (
    " (is raspyd running there, is --server-key its public key, and is this"
    " client's public key in its [security] authorized_keys_dir?)"
)


def warning(folder: Path) -> str:
    return (
        f"--server-key {folder}/hub.key_secret holds the hub's secret key: give the "
        f"public certificate ({folder}/hub.key) instead and keep the secret one on "
        "the hub alone"
    )


def test_raspy_warns_and_goes_on(tmp_path: Path) -> None:
    """Nobody listens: the command goes on to its usual timeout line."""
    hub_secret, mine = certificates(tmp_path)
    endpoint = f"tcp://127.0.0.1:{free_port_base(1)}"
    process = subprocess.Popen(
        [
            sys.executable, "-m", "raspy.cli.raspy", "status", "--server", endpoint,
            "--timeout", "0.2", "--server-key", hub_secret, "--client-cert", mine,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    assert finish(process) == (
        1,
        "",
        f"raspy status: warning: {warning(tmp_path)}\n"
        f"raspy status: {endpoint}: no reply from service 'mmi.services' in 0.2 s"
        f"{_CURVE_HINT}\n",
    )


def test_raspy_kv_warns_and_goes_on(tmp_path: Path) -> None:
    hub_secret, mine = certificates(tmp_path)
    base = free_port_base()
    process = subprocess.Popen(
        [
            sys.executable, "-m", "raspy.cli.kv", "ls", "--server",
            f"127.0.0.1:{base}", "--timeout", "0.2", "--server-key", hub_secret,
            "--client-cert", mine,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    assert finish(process) == (
        1,
        "",
        f"raspy-kv ls: warning: {warning(tmp_path)}\n"
        f"raspy-kv ls: no snapshot from tcp://127.0.0.1:{base + 1} in 0.2 s"
        f"{_CURVE_HINT}\n",
    )


def test_raspy_poller_logs_it_and_goes_on(tmp_path: Path) -> None:
    hub_secret, mine = certificates(tmp_path)
    log_path = tmp_path / "poller.log"
    hub = f"tcp://127.0.0.1:{free_port_base()}"
    args = ("--service", "fake", "--hostname", "shed")
    curve = ("--server-key", hub_secret, "--client-cert", mine)
    with running_poller(hub, log_path, *args, *curve) as process:
        lines = wait_until(
            lambda: [
                event
                for line in complete_text(
                    log_path.read_text(encoding="utf-8")
                ).splitlines()
                if (event := json.loads(line))["event"] == "server_key_is_secret"
            ],
            what="the warning",
            timeout_s=20,
        )
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    assert [{k: v for k, v in e.items() if k != "timestamp"} for e in lines] == [
        {
            "component": "raspy-poller",
            "event": "server_key_is_secret",
            "path": hub_secret,
            "reason": warning(tmp_path),
            "level": "warning",
        }
    ]
