"""A raspy-kv restore caught in its second pass, the records being written inside
its txn: for the tests of what ends it there, or meets it there."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import termios
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from raspy.storage.dump import Header, Record
from raspy.storage.store import Table
from raspy.storage.tables import DATA_TABLES, encode_kv
from support.kv_cli import write_dump
from support.wait import wait_until

_XOFF = b"\x13"


def _many(count: int, body_bytes: int) -> tuple[Record, ...]:
    return tuple(
        Record(
            Table.KV,
            b"/device/k%06d" % i,
            encode_kv(i, os.urandom(body_bytes), {}, None),
        )
        for i in range(count)
    )


@contextmanager
def restore_writing(
    tmp_path: Path, target: Path, *flags: str, held: bool = False
) -> Iterator[subprocess.Popen[bytes]]:
    """A raspy-kv restore of a long dump into `target`, on a terminal (its progress
    bar), given once its second pass writes the records; killed if still running.
    `held`: the terminal's output is stopped (XOFF) then, so that the restore's
    next step blocks inside its txn, the data dir's lock held, deterministically."""
    dump = write_dump(
        tmp_path / "big.dump", Header(1, "now", DATA_TABLES), _many(30_000, 200)
    )
    main_fd, side_fd = os.openpty()
    if held:
        attrs = termios.tcgetattr(side_fd)
        attrs[0] |= termios.IXON
        termios.tcsetattr(side_fd, termios.TCSANOW, attrs)
    command = ["restore", *flags, "--data-dir", str(target), str(dump)]
    restore = subprocess.Popen(
        [sys.executable, "-m", "raspy.cli.kv", *command],
        stdin=subprocess.DEVNULL,
        stderr=side_fd,
    )
    os.close(side_fd)
    shown = b""

    def writing() -> bool:
        nonlocal shown
        if select.select([main_fd], [], [], 0.05)[0]:
            shown += os.read(main_fd, 65536)
        return b"restore [" in shown

    try:
        wait_until(writing, what="the second pass's progress bar", timeout_s=30)
        if held:
            os.write(main_fd, _XOFF)
        yield restore
    finally:
        if restore.poll() is None:
            restore.kill()
            restore.wait()
        os.close(main_fd)
