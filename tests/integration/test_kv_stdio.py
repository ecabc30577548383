"""`raspy-kv dump -o -` and `raspy-kv restore -`: `-` is stdout and stdin, as Unix
tools have it. Before, `dump -o -` wrote a file named `-` and said `dumped 7 records`
(nothing on stdout), and `restore -` looked for a file named `-`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from support.kv_cli import TIME, make_store, records

from raspy.storage.dump import parse
from raspy.storage.tables import DATA_TABLES

_KV = (sys.executable, "-m", "raspy.cli.kv")


def _kv(
    *argv: str, cwd: Path, stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [*_KV, *argv],
        input=stdin,
        capture_output=True,
        cwd=cwd,
        timeout=30,
        check=False,
    )


@pytest.mark.timeout(60)
def test_dump_dash_writes_to_stdout_and_its_line_to_stderr(tmp_path: Path) -> None:
    make_store(tmp_path / "a")
    done = _kv("dump", "--data-dir", "a", "-o", "-", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "-").exists()
    assert len(parse(done.stdout).records) == 7  # the whole dump, nothing else
    assert re.fullmatch(
        f"raspy-kv dump: dumped 7 records from {len(DATA_TABLES)} dbs in {TIME}\n",
        done.stderr.decode(),
    )


@pytest.mark.timeout(60)
def test_restore_dash_reads_stdin(tmp_path: Path) -> None:
    make_store(tmp_path / "a")
    dumped = _kv("dump", "--data-dir", "a", cwd=tmp_path)
    assert dumped.returncode == 0, dumped.stderr
    done = _kv("restore", "--data-dir", "b", "-", cwd=tmp_path, stdin=dumped.stdout)
    assert done.returncode == 0, done.stderr
    assert done.stdout == b""
    assert re.fullmatch(
        f"raspy-kv restore: restored 7 records into {len(DATA_TABLES)} dbs in {TIME}\n",
        done.stderr.decode(),
    )
    assert records(tmp_path / "b") == records(tmp_path / "a")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]


@pytest.mark.timeout(60)
def test_restore_dash_names_stdin_in_a_refusal_and_writes_nothing(
    tmp_path: Path,
) -> None:
    make_store(tmp_path / "a")
    dumped = _kv("dump", "--data-dir", "a", cwd=tmp_path).stdout
    cut = dumped[: len(dumped) - 40]  # no end line: a dump cut short
    done = _kv("restore", "--data-dir", "b", "-", cwd=tmp_path, stdin=cut)
    assert done.returncode == 1
    err = done.stderr.decode()
    assert err.startswith("raspy-kv restore: stdin line "), err
    assert err.count("\n") == 1
    assert not (tmp_path / "b").exists()


@pytest.mark.timeout(60)
def test_restore_dash_from_a_terminal_is_refused_not_waited_for(
    tmp_path: Path,
) -> None:
    """A restore that would wait for a dump typed in: refused at once, as usage."""
    script = (
        "import os, pty, sys\n"
        "from raspy.cli import kv\n"
        "parent, child = pty.openpty()\n"
        "os.dup2(child, 0)\n"
        "sys.stdin = open(0, closefd=False)\n"
        "sys.exit(kv.main(['restore', '--data-dir', 'b', '-']))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        cwd=tmp_path,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.decode() == (
        "raspy-kv restore: stdin (FILE -) is a terminal, not a dump: pipe one in, or "
        "name the dump FILE instead of -\n"
    )
    assert not (tmp_path / "b").exists()


@pytest.mark.timeout(60)
def test_dump_dash_whose_reader_left_ends_with_1_and_nothing_said(
    tmp_path: Path,
) -> None:
    """`raspy-kv dump -o - | head -1`: the reader leaves; as `dump | head`."""
    make_store(tmp_path / "a")
    process = subprocess.Popen(
        [*_KV, "dump", "--data-dir", "a", "-o", "-"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    process.stdout.close()  # the reader is gone before the first line
    try:
        _, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert (process.returncode, err) == (1, b"")
    assert not (tmp_path / "-").exists()


_RESTORE_STDIN_WITH_FILE_LIMIT = """
import resource, signal, sys
# no .pyc written under the size limit: cut short, it is the run's bytecode folder's
# for every later process (support/bytecode.py), which then cannot import it
sys.dont_write_bytecode = True
from raspy.cli import kv
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG)
resource.setrlimit(resource.RLIMIT_FSIZE, (200, 200))
sys.exit(kv.main(["restore", "--data-dir", "b", "-"]))
"""


@pytest.mark.timeout(60)
def test_restore_dash_without_room_for_stdin_says_where_and_what_helps(
    tmp_path: Path,
) -> None:
    """The dump on stdin is kept in a temp file (a restore reads it twice): a temp
    dir without room is named, with what helps, and nothing is left there."""
    make_store(tmp_path / "a")
    dumped = _kv("dump", "--data-dir", "a", cwd=tmp_path).stdout
    (temp := tmp_path / "tmp").mkdir()
    done = subprocess.run(
        [sys.executable, "-c", _RESTORE_STDIN_WITH_FILE_LIMIT],
        input=dumped,
        capture_output=True,
        cwd=tmp_path,
        env={**os.environ, "TMPDIR": str(temp)},
        timeout=30,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.decode() == (
        f"raspy-kv restore: cannot keep stdin in {temp} for the restore (it reads its dump"
        " twice: checked, then written): File too large; set TMPDIR to a directory"
        " with room, or name the dump FILE instead of -\n"
    )
    assert list(temp.iterdir()) == []
    assert not (tmp_path / "b").exists()


@pytest.mark.timeout(60)
def test_restore_of_a_file_that_is_a_pipe_reads_it_once(tmp_path: Path) -> None:
    """A dump FILE that is a pipe (`restore <(ssh hub raspy-kv dump …)`, which
    names /dev/fd/N, or a `mkfifo`) can be read only once, as stdin: it is kept in
    a temp file as stdin is. Before, the second reading found the pipe empty and
    the restore said the dump `changed during the restore`, and a named pipe hung
    it for good, waiting for a second writer."""
    make_store(tmp_path / "a")
    dumped = _kv("dump", "--data-dir", "a", cwd=tmp_path).stdout
    (temp := tmp_path / "tmp").mkdir()
    env = {**os.environ, "TMPDIR": str(temp)}
    done = subprocess.run(
        [*_KV, "restore", "--data-dir", "b", "/dev/stdin"],
        input=dumped,  # a pipe: /dev/stdin names it, as /dev/fd/63 names <(…)
        capture_output=True,
        cwd=tmp_path,
        env=env,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(
        f"raspy-kv restore: restored 7 records into {len(DATA_TABLES)} dbs in {TIME}\n",
        done.stderr.decode(),
    )
    assert records(tmp_path / "b") == records(tmp_path / "a")
    assert list(temp.iterdir()) == []  # the temp copy is gone

    fifo = tmp_path / "dump.fifo"
    os.mkfifo(fifo)
    process = subprocess.Popen(
        [*_KV, "restore", "--data-dir", "c", str(fifo)],
        stderr=subprocess.PIPE,
        cwd=tmp_path,
        env=env,
    )
    with fifo.open("wb") as writer:  # one writer, once, as a pipe has it
        writer.write(dumped)
    try:
        _, err = process.communicate(timeout=20)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == 0, err
    assert records(tmp_path / "c") == records(tmp_path / "a")
    assert list(temp.iterdir()) == []
