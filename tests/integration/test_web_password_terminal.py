"""`raspy web-password FILE` typed at a terminal: Ctrl-D at its prompt (nothing
more to type) is one line and status 2, as an empty password piped in is; it was
"internal error: EOFError ... a bug in raspy" and 70."""

from __future__ import annotations

import fcntl
import os
import select
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(60)


def _controlling(follower: int) -> None:
    """In the child: the pseudo-terminal is its terminal (/dev/tty, which getpass
    opens), as a shell's is."""
    os.setsid()
    fcntl.ioctl(follower, termios.TIOCSCTTY, 0)


def _read_until(leader: int, text: bytes, timeout_s: float = 30.0) -> bytes:
    seen = b""
    deadline = time.monotonic() + timeout_s
    while text not in seen:
        left = deadline - time.monotonic()
        assert left > 0, f"no {text!r} on the terminal; it showed {seen!r}"
        if select.select([leader], [], [], left)[0]:
            seen += os.read(leader, 4096)
    return seen


@pytest.mark.parametrize("prompt", [b"web password: ", b"again: "])
def test_ctrl_d_at_a_prompt_is_one_line_and_status_2(
    tmp_path: Path, prompt: bytes
) -> None:
    leader, follower = os.openpty()
    try:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "raspy.cli.raspy",
                "web-password",
                str(tmp_path / "h"),
            ],
            stdin=follower,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            preexec_fn=lambda: _controlling(follower),  # noqa: PLW1509  # no threads
        )
        _read_until(leader, b"web password: ")
        if prompt == b"again: ":
            os.write(leader, b"a-long-secret\n")
            _read_until(leader, b"again: ")
        os.write(leader, b"\x04")  # Ctrl-D: end of input
        out, err = process.communicate(timeout=30)
    finally:
        os.close(follower)
        os.close(leader)
    assert (process.returncode, out, err.decode()) == (
        2,
        b"",
        "raspy web-password: no password typed (Ctrl-D)\n",
    )
    assert not (tmp_path / "h").exists()
