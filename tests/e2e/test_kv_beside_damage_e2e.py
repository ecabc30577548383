"""`raspy-kv check`, `dump` and `backup` beside a running raspyd on a store with a
damaged page: the open walks no page while raspyd writes the file, and LMDB's
cursor aborted the process on the page (exit 134, an assertion on stderr, the temp
file of the dump left behind). The pages of the snapshot the command's read txn
pinned are walked before any cursor runs (at the open too: the tables' names and the
schema version are read there): one line, exit 1, nothing left behind."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from support.daemon import running_daemon
from support.damaged_store import (
    COMMAND_TIMEOUT_S,
    copy_store,
    leaf_flag_flipped,
    make_store,
)

from raspy.storage.damage import DATA_FILE

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("pristine") / "data"
    make_store(data_dir)
    return data_dir


def _kv(data_dir: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "raspy.cli.kv", argv[0], "--data-dir"]
    return subprocess.run(
        [*command, str(data_dir), *argv[1:]],
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_S,
        check=False,
    )


@pytest.mark.parametrize("owner", [b"kv", b"meta", b"(main)"], ids=bytes.decode)
@pytest.mark.parametrize("command", ["check", "dump", "backup"])
def test_a_damaged_page_beside_raspyd_is_one_line_not_an_abort(
    pristine: Path, tmp_path: Path, command: str, owner: bytes
) -> None:
    data_dir = copy_store(pristine, tmp_path / "data")
    out = tmp_path / "out"
    out.mkdir()
    argv = {
        "check": ["check"],
        "dump": ["dump", "-o", str(out / "raspy.dump")],
        "backup": ["backup", "--to", str(out)],
    }[command]
    with running_daemon(data_dir):
        assert _kv(data_dir, *argv).returncode == 0  # sound, beside raspyd
        for name in [p.name for p in out.iterdir()]:
            (out / name).unlink()
        leaf_flag_flipped(owner)(data_dir)
        result = _kv(data_dir, *argv)
    assert result.returncode == 1, result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    where = (
        f"raspy-kv {command}: {data_dir / DATA_FILE}: database '{owner.decode()}' page"
    )
    assert lines[0].startswith(where), lines[0]
    assert "keep it and restore the newest backup" in lines[0]
    assert list(out.iterdir()) == []
