"""What a command-line tool imports is what its command needs: each run is a process
of its own, which pays every import again (about 0.3 s of CPU for `raspy-kv get` on a
PC, ten times that on a Pi 3; the suite starts some 500 of them). A live raspy-kv
command does not load the store (LMDB), a store command not the client (ZeroMQ), and
neither tool the reader of raspyd's configuration (raspy.config, TOML).

A command that talks to the hub loads no structlog (nor the asyncio it imports)
unless the client logs an event the command shows, only the client it uses (not the
Clone one, the Titanic one or the worker's code), and parsing (`--help`) loads no
ZeroMQ."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from support.net import free_port_base

_WATCHED = ("lmdb", "zmq", "raspy.storage.store", "raspy.client", "raspy.config")
# what a command to a hub leaves out (a port nothing listens on: retries, a timeout)
_HEAVY = (
    "asyncio",
    "structlog",
    "raspy.client.clone",
    "raspy.client.titanic",
    "raspy.client.worker",
    "raspy.config_messaging",
    "raspy.transport.curve",
    "zmq.asyncio",
)


def _loaded_by(
    module: str, argv: list[str], watched: tuple[str, ...] = _WATCHED
) -> list[str]:
    """The watched modules loaded once `module`'s main(argv) has run."""
    code = (
        "import json, sys\n"
        f"from raspy.cli import {module} as tool\n"
        "try:\n"
        f"    tool.main({argv!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        f"watched = {watched!r}\n"
        "loaded = sorted(m for m in watched if m in sys.modules)\n"
        "print(json.dumps(loaded), file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    loaded: list[str] = json.loads(result.stderr.splitlines()[-1])
    return loaded


@pytest.mark.timeout(90)
def test_a_live_raspy_kv_command_loads_neither_the_store_nor_the_config() -> None:
    server = f"127.0.0.1:{free_port_base()}"  # nothing answers: a quick timeout
    argv = ["get", "/a", "--server", server, "--timeout", "0.05"]
    assert _loaded_by("kv", argv) == ["raspy.client", "zmq"]


@pytest.mark.timeout(90)
def test_a_store_command_of_raspy_kv_loads_neither_the_client_nor_zmq(
    tmp_path: Path,
) -> None:
    argv = ["dump", "--data-dir", str(tmp_path / "none")]
    assert _loaded_by("kv", argv) == ["lmdb", "raspy.storage.store"]


@pytest.mark.timeout(90)
def test_raspy_loads_neither_the_store_nor_raspyds_config_nor_zmq_to_parse() -> None:
    assert _loaded_by("raspy", ["call", "--help"]) == []


@pytest.mark.timeout(90)
@pytest.mark.parametrize(
    ("module", "argv", "loaded"),
    [
        ("raspy", ["call", "echo", "x"], ["raspy.client"]),
        ("raspy", ["scenario", "list"], ["raspy.client"]),
        ("raspy", ["status"], ["raspy.client"]),
        ("kv", ["get", "/a"], ["raspy.client", "raspy.client.clone"]),
    ],
    ids=["call", "scenario-list", "status", "kv-get"],
)
def test_a_command_to_a_hub_loads_no_structlog_and_one_client(
    module: str, argv: list[str], loaded: list[str]
) -> None:
    """Its retries are warnings, which the command does not show: structlog is not
    loaded for them (nor the asyncio and ssl it imports)."""
    base = free_port_base()  # nothing answers: retries, then a quick timeout
    server = f"127.0.0.1:{base}" if module == "kv" else f"tcp://127.0.0.1:{base}"
    given = [*argv, "--server", server, "--timeout", "0.05"]
    assert _loaded_by(module, given, ("raspy.client", *_HEAVY)) == loaded
