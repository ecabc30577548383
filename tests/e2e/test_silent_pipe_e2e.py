"""A config or a scenario file named by a pipe that nobody writes.

`raspyd --check-config FIFO` (or /dev/stdin on such a pipe) waited in its open or
its read for ever, without a word: a check run by hand, or by a unit's
ExecStartPre, hung. A pipe is read while something comes through it (`<(...)`, a
FIFO fed by another process work as before); one silent for 10 s is one line and
exit 2, as a file that cannot be read is.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from raspy.file_head import PIPE_SILENT_S

_SILENT = "nothing came through it within 10 s, or its writer did not close it"


def _tool(module: str, *args: str, stdin: int | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", module, *args],
        stdin=subprocess.DEVNULL if stdin is None else stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _ended(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    try:
        out, err = process.communicate(timeout=PIPE_SILENT_S + 20)
    finally:
        process.kill()
        process.wait(timeout=10)
    return process.returncode, out, err


@pytest.mark.timeout(60)
def test_a_pipe_nobody_writes_is_named_not_waited_on_for_ever(tmp_path: Path) -> None:
    fifo = tmp_path / "raspyd.toml"
    os.mkfifo(fifo)
    scenario_fifo = tmp_path / "scenario.yaml"
    os.mkfifo(scenario_fifo)
    read_end, write_end = os.pipe()  # held open, never written: /dev/stdin
    try:
        tools = [  # all at once: each waits out the same 10 s
            _tool("raspy.cli.raspyd", "--check-config", str(fifo)),
            _tool("raspy.cli.raspyd", "--check-config", "/dev/stdin", stdin=read_end),
            _tool("raspy.cli.raspy", "scenario", "validate", str(scenario_fifo)),
        ]
        ended = [_ended(tool) for tool in tools]
    finally:
        os.close(read_end)
        os.close(write_end)
    assert ended[0] == (
        2,
        "",
        f"raspyd: cannot read config {fifo}: a pipe: {_SILENT}\n",
    )
    assert ended[1] == (
        2,
        "",
        f"raspyd: cannot read config /dev/stdin: a pipe: {_SILENT}\n",
    )
    status, out, err = ended[2]
    assert (status, out) == (2, "")
    assert err.endswith(f"cannot read {scenario_fifo}: a pipe: {_SILENT}\n"), err


@pytest.mark.timeout(60)
def test_a_pipe_that_is_written_and_closed_is_read_as_a_file(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "raspy.cli.raspyd", "--check-config", "/dev/stdin"],
        input="[titanic]\nretention_s = 60.0\n",
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "/dev/stdin: ok\n", "")
