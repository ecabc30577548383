"""Run raspy's processes as their systemd units would, for the end-to-end tests of
the units' sandboxes (tests/e2e/test_units_sandbox_e2e.py): a command exec'd by
unit_sandbox.py under a unit's SystemCallFilter= and RestrictAddressFamilies=, told a
notify socket and a watchdog as Type=notify does, and what such a socket is sent."""

from __future__ import annotations

import ctypes
import shutil
import signal
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import zmq.auth

import raspy
from raspy.transport.sockets import CurveKeys
from support import unit_sandbox
from support.daemon import Daemon
from support.wait import wait_until

DEFAULTS = Path(raspy.__file__).parent / "defaults"
RASPYD = DEFAULTS / "raspyd.service"
POLLER = DEFAULTS / "raspy-poller.service"
BACKUP = DEFAULTS / "raspy-backup.service"
WATCHDOG_USEC = 400_000  # a ping every 0.2 s


def sandbox_tools() -> bool:
    """Whether this machine can load a unit's filters (libseccomp, systemd-analyze)."""
    try:
        ctypes.CDLL("libseccomp.so.2")
    except OSError:
        return False
    return shutil.which("systemd-analyze") is not None


def sandboxed(unit: Path, command: list[str], notify: str = "") -> list[str]:
    """`command` exec'd by unit_sandbox.py once `unit`'s filters are loaded; with
    `notify`, told systemd's notify socket and a watchdog, as Type=notify does."""
    if notify:
        told = [f"NOTIFY_SOCKET={notify}", f"WATCHDOG_USEC={WATCHDOG_USEC}"]
        command = ["/usr/bin/env", *told, *command]
    return [sys.executable, unit_sandbox.__file__, str(unit), *command]


class SandboxedDaemon(Daemon):
    """raspyd as raspyd.service runs it; `notify`: as sandboxed() says."""

    def __init__(self, data_dir: Path, notify: str, **kwargs: Any) -> None:
        super().__init__(data_dir, **kwargs)
        self.notify = notify

    def args(self) -> list[str]:
        return sandboxed(RASPYD, super().args(), self.notify)


@contextmanager
def notify_socket() -> Iterator[tuple[set[bytes], str]]:
    """systemd's notify socket (an abstract name) and every line sent to it so far
    (READY=1, WATCHDOG=1, ...), read as they come: a full queue drops datagrams."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    name = f"@raspy-unit-test-{uuid.uuid4().hex}"
    server.bind(b"\0" + name[1:].encode())
    server.settimeout(0.1)
    told: set[bytes] = set()
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            with suppress(TimeoutError):
                told.update(server.recv(4096).split(b"\n"))

    reader = threading.Thread(target=read, name="notify-socket", daemon=True)
    reader.start()
    try:
        yield told, name
    finally:
        done.set()
        reader.join(timeout=5)
        server.close()


def died(process: subprocess.Popen[bytes] | None) -> str:
    """How a process ended, its signal named (SIGSYS: a call its unit lacks)."""
    assert process is not None
    code = process.poll()
    if code is None:
        return "running"
    return signal.Signals(-code).name if code < 0 else f"exit {code}"


def until(daemon: Daemon, check: Callable[[], bool], what: str) -> None:
    """Wait for `check`; a process its sandbox killed meanwhile is said at once."""
    wait_until(
        lambda: check() or died(daemon.process) != "running", what=what, timeout_s=20
    )
    assert died(daemon.process) == "running", (
        what,
        died(daemon.process),
        daemon.log_text()[-3000:],
    )


def run(command: list[str]) -> subprocess.CompletedProcess[str]:
    """A command to its end (a minute at most), its output kept."""
    return subprocess.run(
        command, capture_output=True, text=True, timeout=60, check=False
    )


@contextmanager
def sandboxed_poller(
    folder: Path,
    hub: Daemon,
    service: str,
    devices: str,
    options: list[str],
    notify: str,
) -> Iterator[subprocess.Popen[bytes]]:
    """raspy-poller as its unit runs it: board `folder.name` serving `service`."""
    folder.mkdir(exist_ok=True)
    config = folder / "poller.toml"
    config.write_text(devices, encoding="utf-8")
    command = [sys.executable, "-m", "raspy.cli.poller", "--connect", hub.endpoint]
    command += ["--service", service, "--config", str(config)]
    command += ["--hostname", folder.name, "--data-dir", str(folder / "data")]
    command += ["--log-format", "json", *options]
    with (folder / "poller.log").open("ab") as log_file:
        process = subprocess.Popen(
            sandboxed(POLLER, command, notify),
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def curve_keys(tmp_path: Path) -> tuple[str, list[str], CurveKeys]:
    """[security] for the hub, the board's key options, and a client's keys."""
    made, allowed = tmp_path / "keys", tmp_path / "authorized"
    made.mkdir()
    allowed.mkdir()
    server_public, server_secret = zmq.auth.create_certificates(made, "hub")
    board_public, board_secret = zmq.auth.create_certificates(made, "board")
    (allowed / "board.key").write_bytes(Path(board_public).read_bytes())
    server_key, _ = zmq.auth.load_certificate(server_public)
    public, secret = zmq.auth.load_certificate(board_secret)
    assert secret is not None
    security = (
        "[security]\n"
        f'curve_secret_key_file = "{server_secret}"\n'
        f'authorized_keys_dir = "{allowed}"\n'
    )
    options = ["--server-key", server_public, "--client-cert", board_secret]
    return security, options, CurveKeys(public, secret, server_key=server_key)
