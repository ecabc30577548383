"""raspyd under systemd's contract: READY, WATCHDOG, STOPPING on a real datagram socket
from a real raspyd; the shipped unit file passes `systemd-analyze verify`."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.daemon import Daemon

import raspy

UNIT = Path(raspy.__file__).parent / "defaults" / "raspyd.service"


def _receive_until(server: socket.socket, wanted: bytes, seen: list[bytes]) -> None:
    """Collect datagrams until one holds the line `wanted` (bounded by the timeout)."""
    while not any(wanted in message.split(b"\n") for message in seen):
        seen.append(server.recv(4096))


@pytest.fixture(params=["path", "abstract"])
def notify_socket(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[socket.socket, str]]:
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.settimeout(20)
    if request.param == "path":
        name = str(tmp_path / "notify")
        server.bind(name)
    else:
        name = f"@raspy-test-{uuid.uuid4().hex}"
        server.bind(b"\0" + name[1:].encode())
    try:
        yield server, name
    finally:
        server.close()


def test_raspyd_sends_ready_watchdog_and_stopping(
    tmp_path: Path, notify_socket: tuple[socket.socket, str]
) -> None:
    server, name = notify_socket
    daemon = Daemon(tmp_path / "data")
    env = {**os.environ, "NOTIFY_SOCKET": name, "WATCHDOG_USEC": "400000"}
    with daemon.log_path.open("wb") as log_file:
        proc = subprocess.Popen(
            daemon.args(), stdout=log_file, stderr=subprocess.STDOUT, env=env
        )
    try:
        seen: list[bytes] = []
        _receive_until(server, b"READY=1", seen)
        ready = next(m for m in seen if b"READY=1" in m.split(b"\n"))
        assert f"MAINPID={proc.pid}".encode() in ready.split(b"\n")
        assert b"STATUS=serving on tcp://127.0.0.1:" in ready
        for _ in range(2):  # it keeps pinging while the supervisor works
            start = len(seen)
            while b"WATCHDOG=1" not in seen[start:]:
                seen.append(server.recv(4096))
        proc.send_signal(signal.SIGTERM)
        _receive_until(server, b"STOPPING=1", seen)
        assert proc.wait(timeout=10) == 0
    finally:
        proc.kill()
        proc.wait(timeout=10)


_ANALYZE = shutil.which("systemd-analyze")


@pytest.mark.skipif(
    _ANALYZE is None,
    reason="systemd-analyze is not installed here (Debian: apt-get install systemd)",
)
def test_the_unit_file_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    """`verify` warns (exit 0) about unknown keys and bad values: no output at all is
    the bar. ExecStart must exist, so it points at this environment's raspyd, as
    `make install-service` points it at the installed one."""
    assert _ANALYZE is not None
    raspyd = Path(sys.executable).parent / "raspyd"
    unit = tmp_path / "raspyd.service"
    unit.write_text(UNIT.read_text().replace("/opt/raspy/bin/raspyd", str(raspyd)))
    result = subprocess.run(
        [_ANALYZE, "verify", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_the_unit_is_a_hardened_notify_service_with_a_watchdog() -> None:
    lines = set(UNIT.read_text().splitlines())
    assert {
        "Type=notify",
        "WatchdogSec=30s",
        "User=raspy",
        "StateDirectory=raspy",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "Restart=on-failure",
    } <= lines
