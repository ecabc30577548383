"""A tool run with its stdout closed (`>&-`, as a careless cron line does): it
still answers in one line and its own status, never "a bug in raspy" (exit 70) or
a traceback while it loads (structlog's default logger took sys.stdout, None)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.kv_cli import CONTENT, make_store

from raspy.storage.dump import parse

pytestmark = pytest.mark.timeout(60)
TOOLS = Path(sys.executable).parent


def _closed_stdout(tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(TOOLS / tool), *args],
        stdin=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        timeout=50,
        check=False,
        preexec_fn=lambda: os.close(1),  # as the shell's >&-
    )


def test_raspy_kv_check_with_stdout_closed_says_what_it_says(tmp_path: Path) -> None:
    found = _closed_stdout("raspy-kv", "check", "--data-dir", str(tmp_path))
    assert (found.returncode, found.stderr) == (
        2,
        f"raspy-kv check: no store in {tmp_path}\n",
    )


def test_raspy_kv_dump_to_a_closed_stdout_says_so(tmp_path: Path) -> None:
    """It was "a bug in raspy" (exit 70): stdout, None, has no buffer."""
    make_store(tmp_path / "data")
    for argv in ((), ("-o", "-")):
        found = _closed_stdout(
            "raspy-kv", "dump", "--data-dir", str(tmp_path / "data"), *argv
        )
        assert (found.returncode, found.stderr) == (
            2,
            "raspy-kv dump: stdout is closed: the dump has nowhere to go; name a FILE"
            " with -o\n",
        )


def test_raspy_kv_dump_with_stderr_closed_writes_the_dump_alone(tmp_path: Path) -> None:
    """`dump > FILE 2>&-`: its lines went to stdout, print()'s default for a None
    stderr, into the dump (and the progress bar failed on None: exit 70)."""
    make_store(tmp_path / "data")
    with (tmp_path / "x.dump").open("wb") as out:
        found = subprocess.run(
            [str(TOOLS / "raspy-kv"), "dump", "--data-dir", str(tmp_path / "data")],
            stdin=subprocess.DEVNULL,
            stdout=out,
            timeout=50,
            check=False,
            preexec_fn=lambda: os.close(2),  # as the shell's 2>&-
        )
    assert found.returncode == 0
    assert len(parse((tmp_path / "x.dump").read_bytes()).records) == len(CONTENT)


def test_raspyd_check_config_with_stdout_closed_checks_it(tmp_path: Path) -> None:
    config = tmp_path / "raspyd.toml"
    config.write_text("[network]\nport_base = 70000\n", encoding="utf-8")
    found = _closed_stdout("raspyd", "--check-config", str(config))
    assert found.returncode == 2, found.stderr
    assert "port_base" in found.stderr
    assert "Traceback" not in found.stderr
    assert "a bug in raspy" not in found.stderr


def test_a_web_token_nobody_would_see_does_not_replace_the_one_in_use(
    tmp_path: Path,
) -> None:
    """stdout closed: print() writes nowhere and raises nothing, so the new token's
    hash replaced the working one and nobody ever saw the new token."""
    before = _closed_stdout("raspy", "web-token", "--data-dir", str(tmp_path))
    assert before.returncode == 2, before.stderr
    assert before.stderr == (
        "raspy web-token: stdout is closed: nobody would see the token "
        "(the one in use stays valid)\n"
    )
    assert not (tmp_path / "web-token").exists()


def test_an_empty_backup_folder_is_refused_not_taken_for_the_current_one(
    tmp_path: Path,
) -> None:
    """`--to "$BACKUP"` with BACKUP unset wrote (and pruned) backups where it ran."""
    found = subprocess.run(
        [str(TOOLS / "raspy-kv"), "backup", "--data-dir", str(tmp_path), "--to", ""],
        capture_output=True,
        text=True,
        timeout=50,
        check=False,
        cwd=tmp_path,
    )
    assert found.returncode == 2
    assert "--to: expected a path, got an empty one" in found.stderr


def test_with_stdout_and_stderr_closed_no_file_takes_their_numbers(
    tmp_path: Path,
) -> None:
    """`>&- 2>&-`: the /dev/null that stood for stderr took descriptor 1, and the
    next file opened (a dump) took 2, stderr's number: whatever wrote to stderr at
    the C level (libzmq, LMDB) would have written into it."""
    script = (
        "import os, sys\n"
        "from raspy.cli.last_resort import guarded\n"
        "def run():\n"
        "    fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o600)\n"
        "    os.write(fd, str(fd).encode())\n"
        "    return 0\n"
        "sys.exit(guarded('t', run))\n"
    )
    opened = tmp_path / "opened"
    found = subprocess.run(
        [sys.executable, "-c", script, str(opened)],
        stdin=subprocess.DEVNULL,
        timeout=50,
        check=False,
        preexec_fn=_close_stdout_and_stderr,
    )
    assert found.returncode == 0
    assert int(opened.read_text()) > 2


def _close_stdout_and_stderr() -> None:
    """As the shell's `>&- 2>&-`."""
    os.close(1)
    os.close(2)
