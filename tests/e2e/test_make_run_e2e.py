"""`make run` itself, as a newcomer runs it (the Makefile's recipe, the real raspyd):
its web login made at the first run only and kept by later ones (a login lasts
across restarts), none made while a raspyd runs on its data dir (a second `make run`
beside the first once logged out the first one's browsers), and PORT_BASE moving
every port and the address it prints.

It runs in a folder of its own: `raspy/` linked there (run.toml and the preloaded
scenarios), this test's venv as VENV, its stamp taken as made (`-o`).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.net import free_port_base
from support.wait import wait_until

import raspy
from raspy.storage.lock import lock_holder
from raspy.web.login import parse_hash, verify

REPO = Path(raspy.__file__).resolve().parents[1]
VENV = Path(sys.executable).parent.parent
FACE = "raspy web face: "

pytestmark = pytest.mark.skipif(
    shutil.which("make") is None, reason="make is not installed here"
)


def _make(port_base: int) -> list[str]:
    return [
        "make", "--no-print-directory", "-f", str(REPO / "Makefile"),
        "-o", f"{VENV}/.stamp", f"VENV={VENV}", f"PORT_BASE={port_base}", "run",
    ]  # fmt: skip


class MakeRun:
    """One `make run` in the background, its standard output read line by line."""

    def __init__(self, folder: Path, port_base: int) -> None:
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            _make(port_base),
            cwd=folder,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            start_new_session=True,  # Ctrl-C reaches make and raspyd, as in a terminal
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def said(self, start: str) -> str | None:
        return next((line for line in self.lines if line.startswith(start)), None)

    def stop(self) -> None:
        """Ctrl-C, as a terminal sends it: to make and raspyd both."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
        try:
            self.process.wait(timeout=30)
        finally:
            if self.process.poll() is None:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self._reader.join(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "raspy").symlink_to(REPO / "raspy")
    return tmp_path


@pytest.fixture
def runs() -> Iterator[list[MakeRun]]:
    started: list[MakeRun] = []
    yield started
    for run in started:
        run.stop()


def _serving(folder: Path, run: MakeRun, port_base: int) -> str:
    """Wait for its address line and for raspyd on the data dir and the web port."""
    line = wait_until(lambda: run.said(FACE), what="make run's address", timeout_s=60)
    assert line is not None  # wait_until returns only a true value
    wait_until(
        lambda: lock_holder(folder / "var" / "raspy"), what="raspyd", timeout_s=60
    )

    def web_port_open() -> bool:
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", port_base + 4)) == 0

    wait_until(web_port_open, what="the web face's port", timeout_s=60)
    return line


@pytest.mark.timeout(240)
def test_make_run_keeps_its_login_and_leaves_a_running_hub_alone(
    folder: Path, runs: list[MakeRun]
) -> None:
    base = free_port_base(5)
    data_dir = folder / "var" / "raspy"
    first = MakeRun(folder, base)
    runs.append(first)
    line = _serving(folder, first, base)
    web = f"http://127.0.0.1:{base + 4}/"
    assert line.startswith(f"{FACE}{web} - log in with the token "), first.lines
    token = line.rsplit(" ", 1)[1]
    stored = (data_dir / "web-token").read_bytes()
    assert verify(token, parse_hash(stored.decode()))

    # a second make run beside it: refused before any token is made
    second = subprocess.run(
        _make(free_port_base(5)),
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    holder = lock_holder(data_dir)
    assert (second.returncode != 0, FACE in second.stdout) == (True, False)
    assert (
        f"raspy web-token: data dir var/raspy is in use by another process "
        f"(pid {holder}): no token made (the one in use stays valid)"
    ) in second.stderr
    assert (data_dir / "web-token").read_bytes() == stored

    # a restart: the first token still works, and is not replaced
    first.stop()
    assert lock_holder(data_dir) is None
    again = MakeRun(folder, base)
    runs.append(again)
    assert _serving(folder, again, base) == (
        f"{FACE}{web} - log in with the token the last make run (or raspy web-token)"
        " printed: it still works"
    )
    assert (data_dir / "web-token").read_bytes() == stored


@pytest.mark.timeout(60)
def test_make_run_refuses_a_port_base_that_is_no_number(folder: Path) -> None:
    done = subprocess.run(
        [*_make(1)[:-2], "PORT_BASE=65x", "run"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "make run: PORT_BASE: expected a port number, got '65x'" in done.stderr
    assert not (folder / "var").exists()


@pytest.mark.timeout(60)
@pytest.mark.parametrize("port_base", ["65532", "65533", "1000000"])
def test_make_run_refuses_a_port_base_with_no_room_for_its_ports(
    folder: Path, port_base: str
) -> None:
    """`PORT_BASE=65533` made and printed a token and an address on port 65537,
    then raspyd refused it; its web face needs PORT_BASE + 4, so 65531 is the
    last it takes. Now nothing is made."""
    done = subprocess.run(
        [*_make(1)[:-2], f"PORT_BASE={port_base}", "run"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stdout) == (2, "")
    assert (
        f"make run: PORT_BASE: expected 1..65531 (the web face listens on "
        f"PORT_BASE + 4), got '{port_base}'"
    ) in done.stderr
    assert not (folder / "var").exists()
