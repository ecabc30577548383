"""A ROUTER that closes while its peers leave must not abort the process: libzmq
4.3.5 does (EAGAIN in session_base_t::clean_pipes) when a peer's connection ends
just after its session let go of a pipe holding a message half sent to that peer,
which LINGER 0 did at once at close (raspy.transport.sockets.ROUTER_MIN_LINGER_MS).
Probabilistic: on the code before (ROUTER_MIN_LINGER_MS = 0) a round aborts now and
then, one in five to one in fifteen as the machine is loaded; 12 s is some 10 to 15
rounds (the store filled once, a stall of 0.1 s). Measured with the fix reverted: the
script alone aborted in 10 runs of 10, this test under a loaded machine in 6 of 10:
it catches the old bug often, not always."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
SECONDS = 12  # rounds of under a second: on the code before, an abort all but always
MIN_ROUNDS = 5


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
