"""A ROUTER that closes while its peers leave must not abort the process: libzmq
4.3.5 does (EAGAIN in session_base_t::clean_pipes) when a peer's connection ends
just after its session let go of a pipe holding a message half sent to that peer,
which LINGER 0 did at once at close (raspy.transport.sockets.ROUTER_MIN_LINGER_MS).
Probabilistic. The snapshot's entries are keys of 500 B with values of 100 B, so
that a connection often ends inside an entry rather than in its last frame. Measured
on a loaded machine (load 5 to 7): with ROUTER_MIN_LINGER_MS = 0 the script aborted
in 4 runs of 4, most within 2 to 4 s; with 100 (the first fix) in about 5 of 16,
with 500 in 2 of 10; with 1000 in none of 23."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
SECONDS = 12  # rounds of under a second: on the code before, an abort all but always
MIN_ROUNDS = 3  # a round waits for the LINGER: fewer on a loaded machine


@pytest.mark.timeout(60)
def test_the_snapshot_router_stops_while_deaf_peers_leave_without_an_abort() -> None:
    env = {**os.environ, "PYTHONPATH": str(TESTS)}
    done = subprocess.run(
        [sys.executable, "-m", "support.deaf_leave_stop", str(SECONDS)],
        cwd=TESTS,
        env=env,
        capture_output=True,
        text=True,
        timeout=45,
        check=False,
    )
    assert done.returncode == 0, f"exit {done.returncode}: {done.stderr[-2000:]}"
    last = done.stdout.splitlines()[-1]  # after the server's log lines
    assert last.startswith("rounds=")
    assert int(last.removeprefix("rounds=")) >= MIN_ROUNDS  # enough to have found it
