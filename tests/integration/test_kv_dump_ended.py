"""raspy-kv dump -o FILE and backup ended by a kill (SIGTERM) or a hangup (the ssh
session gone) end as a Ctrl-C does, as restore does: exit 130, and the temp file
they were writing removed (before, it was left for the next run to remove a day
later). A signal ignored already (nohup) stays ignored: the dump is written.

The process is held mid-write deterministically: its progress bar goes to a
terminal whose output is stopped (XOFF), so its first write of the bar blocks
with the temp file open."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import termios
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from support.kv_cli import make_store
from support.wait import wait_until

from raspy.atomic_file import temp_target

_XOFF, _XON = b"\x13", b"\x11"


def _temps(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if temp_target(p.name) is not None]


def _stopped_terminal() -> tuple[int, int]:
    """A pty whose output flow control is on and stopped: a write to it blocks."""
    main_fd, side_fd = os.openpty()
    attrs = termios.tcgetattr(side_fd)
    attrs[0] |= termios.IXON
    termios.tcsetattr(side_fd, termios.TCSANOW, attrs)
    os.write(main_fd, _XOFF)
    return main_fd, side_fd


def _drain(main_fd: int) -> bytes:
    """What the process wrote to the terminal, until it closes its side."""
    shown = b""
    while select.select([main_fd], [], [], 10)[0]:
        try:
            chunk = os.read(main_fd, 65536)
        except OSError:  # EIO: the last holder of the other side is gone
            break
        if not chunk:
            break
        shown += chunk
    return shown


@contextmanager
def _held_writing(
    out_dir: Path, argv: list[str], ignore_hup: bool = False
) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """raspy-kv ARGV, given once its temp file in `out_dir` is there and its progress
    bar is blocked; killed if still running at the end."""
    main_fd, side_fd = _stopped_terminal()

    def ignored() -> None:
        signal.signal(signal.SIGHUP, signal.SIG_IGN)

    command = subprocess.Popen(
        [sys.executable, "-m", "raspy.cli.kv", *argv],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=side_fd,
        preexec_fn=ignored if ignore_hup else None,  # noqa: PLW1509  # no threads
    )
    os.close(side_fd)
    try:
        wait_until(lambda: _temps(out_dir), what="the temp file", timeout_s=30)
        yield command, main_fd
    finally:
        if command.poll() is None:
            command.kill()
            command.wait()
        os.close(main_fd)


def _argv(kind: str, data_dir: Path, out_dir: Path) -> list[str]:
    if kind == "dump":
        return ["dump", "--data-dir", str(data_dir), "-o", str(out_dir / "a.dump")]
    return ["backup", "--data-dir", str(data_dir), "--to", str(out_dir)]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("kind", ["dump", "backup"])
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_dump_killed_or_hung_up_on_ends_as_ctrl_c_leaving_no_temp_file(
    tmp_path: Path, kind: str, signum: signal.Signals
) -> None:
    data_dir, out_dir = tmp_path / "data", tmp_path / "out"
    make_store(data_dir)
    out_dir.mkdir()
    with _held_writing(out_dir, _argv(kind, data_dir, out_dir)) as (command, tty):
        command.send_signal(signum)
        os.write(tty, _XON)
        shown = _drain(tty)
        assert command.wait(timeout=30) == 130, shown
    assert f"raspy-kv {kind}: interrupted".encode() in shown
    assert list(out_dir.iterdir()) == []


@pytest.mark.timeout(60)
def test_a_dump_under_nohup_goes_on_through_a_hangup(tmp_path: Path) -> None:
    data_dir, out_dir = tmp_path / "data", tmp_path / "out"
    make_store(data_dir)
    out_dir.mkdir()
    argv = _argv("dump", data_dir, out_dir)
    with _held_writing(out_dir, argv, ignore_hup=True) as (command, tty):
        command.send_signal(signal.SIGHUP)
        os.write(tty, _XON)
        shown = _drain(tty)
        assert command.wait(timeout=30) == 0, shown
    assert [p.name for p in out_dir.iterdir()] == ["a.dump"]
