"""Subscribers that connect and leave at once while the Clone server publishes
updates of every size (issue 18's byte budget): the server must live through it.

libzmq 4.3 crashes its I/O thread if SNDHWM is set on an XPUB while a subscriber's
pipe is half closed (raspy.cores.clone_pacing); the server once did that on every
subscription and on every change of message size, and died within a second of this
churn. The churn runs in a child process, so a crash is this test's failure and not
the end of the test run.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(120)

TESTS = Path(__file__).parents[1]  # where `support` is a package


def test_the_clone_server_lives_through_subscribers_coming_and_going(
    tmp_path: Path,
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "support.clone_churn", str(tmp_path / "data"), "3"],
        cwd=TESTS,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert done.returncode == 0, f"exit {done.returncode}: {done.stderr[-2000:]}"
    came_and_went = int(done.stdout.split("subscribers=")[1])
    assert came_and_went >= 20  # the churn really happened
