"""raspy.file_head: a named file's first bytes; a pipe read while something comes."""

from __future__ import annotations

import errno
import os
import threading
from pathlib import Path

import pytest

from raspy.file_head import read_head


def test_a_file_is_read_up_to_its_limit(tmp_path: Path) -> None:
    path = tmp_path / "a.toml"
    path.write_bytes(b"x" * 100)
    assert read_head(str(path), 1000) == b"x" * 100
    assert read_head("/dev/zero", 10) == b"\0" * 10


def test_a_pipe_is_read_to_its_writers_close(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)

    def write() -> None:
        with fifo.open("wb", buffering=0) as out:  # waits for the reader's open
            for number in range(3):
                out.write(b"%d\n" % number)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    try:
        assert read_head(str(fifo), 1000, silent_s=5.0) == b"0\n1\n2\n"
    finally:
        writer.join(5)


def test_a_pipe_nobody_writes_is_an_error_past_its_silence(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(OSError, match=r"nothing came through it within 0\.2 s") as err:
        read_head(str(fifo), 1000, silent_s=0.2)
    assert err.value.errno == errno.ETIMEDOUT


def test_a_pipe_written_but_left_open_is_an_error_too() -> None:
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, b"hostname = 'hub'\n")
        with pytest.raises(OSError, match="did not close it"):
            read_head(f"/dev/fd/{read_end}", 1000, silent_s=0.2)
    finally:
        os.close(read_end)
        os.close(write_end)
