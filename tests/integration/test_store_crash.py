"""Crash safety with a real process (issue #4 "Tests"): a child writes under load and
is SIGKILLed at random moments, twenty times; after each kill the store opens,
`raspy-kv check` passes, and every acknowledged write is present."""

from __future__ import annotations

import os
import random
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from structlog.testing import capture_logs
from support.store_writer import body_for

from raspy.cli import kv
from raspy.storage.store import Store, Table
from raspy.storage.tables import decode_kv, decode_titanic_request

WRITER = Path(__file__).resolve().parent.parent / "support" / "store_writer.py"
CYCLES = 20
ACK_DEADLINE_S = 3.0


def _read_lines(fd: int, wanted: int, deadline: float) -> tuple[list[str], bytes]:
    """Complete lines from the child until `wanted` of them or the deadline."""
    lines: list[str] = []
    pending = b""
    while len(lines) < wanted and (remaining := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([fd], [], [], remaining)
        chunk = os.read(fd, 65536) if ready else b""
        if not chunk:
            break
        *complete, pending = (pending + chunk).split(b"\n")
        lines.extend(line.decode() for line in complete)
    return lines, pending


def _run_and_kill(data_dir: Path, prefix: str, acks_before_kill: int) -> list[str]:
    """Start the writer, SIGKILL it after that many acks (-1: while it starts up);
    returns every complete line it printed, including those still in the pipe."""
    with subprocess.Popen(
        [sys.executable, str(WRITER), str(data_dir), prefix], stdout=subprocess.PIPE
    ) as child:
        assert child.stdout is not None
        fd = child.stdout.fileno()
        lines: list[str] = []
        pending = b""
        if acks_before_kill >= 0:
            deadline = time.monotonic() + ACK_DEADLINE_S
            lines, pending = _read_lines(fd, acks_before_kill + 1, deadline)
        child.kill()
        child.wait(timeout=10)
        rest = pending + child.stdout.read()
    complete = rest.split(b"\n")[:-1]  # a line cut by the kill proves nothing
    return [line for line in lines + [c.decode() for c in complete] if line != "ready"]


def _check_passes(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()  # drop what came before
    with capture_logs():  # keep the store's log lines out of the report
        status = kv.run(["check", "--data-dir", str(data_dir)])
    out = capsys.readouterr().out
    assert status == 0, out
    assert re.fullmatch(
        rf"raspy-kv check: checked \d+ records in {len(Table)} dbs \(the schema's too\):"
        rf" ok in \d+\.\d\d s\n",
        out,
    ), out


def _assert_present(data_dir: Path, acked: list[str]) -> None:
    with Store.open(data_dir, readonly=True) as store:
        for line in acked:
            kind, name = line.split(" ", 1)
            if kind == "kv":
                stored = store.get(Table.KV, name.encode())
                assert stored is not None, f"acknowledged {line} is missing"
                assert decode_kv(stored).body == body_for(name.encode()), line
            else:
                stored = store.get(Table.TITANIC_REQUESTS, name.encode())
                assert stored is not None, f"acknowledged {line} is missing"
                assert decode_titanic_request(stored).body == (body_for(name.encode()),)


@pytest.mark.timeout(120)
def test_acknowledged_writes_survive_sigkill_at_random_moments(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue #4: after each kill the store opens, check passes, and every write that
    had been acknowledged before the kill is present."""
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    data_dir = tmp_path / "data"
    acked: list[str] = []
    for cycle in range(CYCLES):
        acks_before_kill = rng.choice([-1, rng.randint(0, 30), rng.randint(30, 200)])
        lines = _run_and_kill(data_dir, f"c{cycle}", acks_before_kill)
        acked.extend(lines)
        if not (data_dir / "data.mdb").exists():
            continue  # killed before it created the store
        try:
            _check_passes(data_dir, capsys)
            _assert_present(data_dir, acked)
        except AssertionError as exc:
            raise AssertionError(f"seed {seed}, cycle {cycle}: {exc}") from exc
    assert len(acked) > CYCLES, f"seed {seed}: the writer barely wrote"
