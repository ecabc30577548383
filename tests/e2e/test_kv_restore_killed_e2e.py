"""The real raspyd on a data dir whose first restore was SIGKILLed in its txn: it
refuses to start, in one line naming the stopped restore, instead of starting on an
empty store as if all were well; the restore run again makes the whole store."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
from support.damaged_store import COMMAND_TIMEOUT_S, run_raspyd
from support.restore_writing import restore_writing

from raspy.storage.staging import STAGING_DIR


@pytest.mark.timeout(120)
def test_raspyd_refuses_the_data_dir_of_a_restore_killed_in_its_txn(
    tmp_path: Path,
) -> None:
    target = tmp_path / "data"
    with restore_writing(tmp_path, target, held=True) as restore:
        restore.send_signal(signal.SIGKILL)
        assert restore.wait(timeout=10) == -signal.SIGKILL
    refused = run_raspyd(target)
    assert refused.returncode == 1, refused.stderr
    assert refused.stderr == (
        f"raspyd: {target}: a restore into it was stopped before its store was in"
        f" place ({STAGING_DIR} is what it left; nothing of it counts): restore the"
        f" dump again with `raspy-kv restore --data-dir {target} FILE`, or start"
        " raspyd with --init for an empty store\n"
    )
    again = subprocess.run(
        [sys.executable, "-m", "raspy.cli.kv", "restore", "--data-dir", str(target),
         str(tmp_path / "big.dump")],
        capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S, check=False,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    checked = subprocess.run(
        [sys.executable, "-m", "raspy.cli.kv", "check", "--data-dir", str(target)],
        capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S, check=False,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout
