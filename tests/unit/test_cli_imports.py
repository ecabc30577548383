"""What a command-line tool imports is what its command needs: each run is a process
of its own, which pays every import again (about 0.3 s of CPU for `raspy-kv get` on a
PC, ten times that on a Pi 3; the suite starts some 500 of them). A live raspy-kv
command does not load the store (LMDB), a store command not the client (ZeroMQ), and
neither tool the reader of raspyd's configuration (raspy.config, TOML).

A command that talks to the hub loads no structlog (nor the asyncio it imports)
unless the client logs an event the command shows, only the client it uses (not the
Clone one, the Titanic one or the worker's code), and parsing (`--help`) loads no
ZeroMQ.

raspy-poller (a board, often a Pi Zero) loads what serves (pykka, ZeroMQ, LMDB,
structlog) only once its config holds, and the CURVE module only with keys."""

from __future__ import annotations

import json
import signal
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
    "raspy.web.login",  # web-token's hashing: hashlib, hmac, secrets (OpenSSL)
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


# what a board (raspy-poller, often a Pi Zero) loads only to serve
_BOARD_RUN = (
    "lmdb",
    "pykka",
    "raspy.config",
    "raspy.transport.curve",
    "structlog",
    "zmq",
)


@pytest.mark.timeout(90)
@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["--version"],
        ["--connect", "tcp://127.0.0.1:5500", "--service", "fake", "--log-level", "x"],
        ["--service", "fake"],
    ],
    ids=["help", "version", "bad-value", "missing-option"],
)
def test_raspy_poller_parses_without_what_a_board_runs(argv: list[str]) -> None:
    assert _loaded_by("poller", argv, _BOARD_RUN) == []


@pytest.mark.timeout(90)
@pytest.mark.parametrize("config", ["missing", "bad-device"])
def test_a_board_config_refused_loads_only_the_config_reader(
    tmp_path: Path, config: str
) -> None:
    path = tmp_path / "board.toml"
    if config == "bad-device":  # refused by the device register, after the file
        path.write_text('[devices]\nfake = [{kind = "nope", name = "x"}]\n')
    argv = ["--connect", "tcp://127.0.0.1:5500", "--service", "fake"]
    loaded = _loaded_by("poller", [*argv, "--config", str(path)], _BOARD_RUN)
    assert loaded == ["raspy.config"]


def test_raspy_poller_offers_the_services_the_registers_build() -> None:
    from raspy.cli.poller_config import SERVICES
    from raspy.devices import registries

    assert SERVICES == (registries.ONEWIRE, registries.FAKE)


@pytest.mark.timeout(120)
def test_a_board_serving_without_keys_loads_no_curve_nor_onewire(
    tmp_path: Path,
) -> None:
    """Started against a real raspyd, serving its fake devices, then SIGTERM: the
    CURVE module waits for keys and the 1-Wire modules for the onewire service."""
    from support.daemon import mmi_service, running_daemon
    from support.wait import wait_until

    watched = ("raspy.devices.onewire", "raspy.transport.curve", "zmq.auth")
    code = (
        "import json, sys\n"
        "from raspy.cli import poller\n"
        "status = poller.main(sys.argv[1:])\n"
        f"loaded = sorted(m for m in {watched!r} if m in sys.modules)\n"
        "print(json.dumps([status, loaded]), file=sys.stderr)\n"
    )
    with running_daemon(tmp_path / "hub") as daemon:
        argv = ["--connect", daemon.endpoint, "--service", "fake"]
        board = subprocess.Popen(
            [sys.executable, "-c", code, *argv, "--hostname", "lazyboard"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            wait_until(
                lambda: (
                    mmi_service(daemon.endpoint, b"lazyboard.fake.devices") == b"200"
                ),
                what="the board's service at the hub",
            )
            board.send_signal(signal.SIGTERM)
            _, stderr = board.communicate(timeout=30)
        finally:
            if board.poll() is None:
                board.kill()
                board.wait(timeout=10)
    assert json.loads(stderr.splitlines()[-1]) == [0, []]
