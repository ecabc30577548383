"""A data dir whose lock file cannot be opened (a folder in its place, a link to
nowhere; as EACCES, EROFS or EIO would, and in a form that fails for root too):
raspy-kv and raspyd say which file and what the OS said, in one line with status 1
(a runtime failure), not "internal error" and status 70."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.kv_cli import make_store, run
from support.net import free_port_base

pytestmark = pytest.mark.timeout(60)


def _spoil(data_dir: Path, kind: str) -> str:
    """The lock file made unusable; what raspy says of it, after `data dir D: `."""
    lock = data_dir / "lock"
    lock.unlink(missing_ok=True)
    if kind == "folder":
        lock.mkdir()
        return f"cannot open its lock file {lock}: {os.strerror(errno.EISDIR)}"
    # never followed (O_NOFOLLOW): a link planted there could aim a root's open at
    # any file (storage/lock.py)
    lock.symlink_to(data_dir / "gone" / "lock")
    return (
        f"its lock file {lock} is a symbolic link; refusing to use it "
        "(remove it: raspy makes a new one)"
    )


@pytest.mark.parametrize("kind", ["folder", "dangling-link"])
def test_raspy_kv_names_a_lock_file_it_cannot_open(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    data_dir = tmp_path / "data"
    make_store(data_dir)
    assert (
        run(["dump", "--data-dir", str(data_dir), "-o", str(tmp_path / "d")], capsys)[0]
        == 0
    )
    said = _spoil(data_dir, kind)
    status, out, err = run(
        ["restore", "--data-dir", str(data_dir), str(tmp_path / "d")], capsys
    )
    assert (status, out) == (1, "")
    assert err == f"raspy-kv restore: data dir {data_dir}: {said}\n"


def test_raspyd_names_a_lock_file_it_cannot_open(tmp_path: Path) -> None:
    """Before: `raspyd: cannot start: [Errno 21] Is a directory: '…/lock'`, the OS
    error as Python prints it."""
    data_dir = tmp_path / "data"
    make_store(data_dir)
    said = _spoil(data_dir, "folder")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "raspy.cli.raspyd",
            "--data-dir",
            str(data_dir),
            "--port-base",
            str(free_port_base()),
            "--allow-root",
            "--log-level",
            "error",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 1, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("raspyd:")]
    assert lines == [f"raspyd: data dir {data_dir}: {said}"], done.stderr
    assert "Traceback" not in done.stderr
