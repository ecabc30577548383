"""A raspy-kv restore into a data dir that another restore is writing: refused,
naming that restore as what writes it (it said "stop raspyd", which was not there).

The first restore is held in its second pass deterministically: its progress bar
goes to a terminal whose output is stopped (XOFF) once the bar of that pass shows,
so its next step blocks inside the restore's txn, the data dir's lock held."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import termios
from pathlib import Path

import pytest
from support.kv_cli import make_store, records, run, write_dump
from support.wait import wait_until

from raspy.storage.dump import Header, Record
from raspy.storage.store import Table
from raspy.storage.tables import DATA_TABLES, encode_kv

_XOFF, _XON = b"\x13", b"\x11"


def _many(count: int) -> tuple[Record, ...]:
    return tuple(
        Record(Table.KV, b"/device/k%06d" % i, encode_kv(i, b"x" * 200, {}, None))
        for i in range(count)
    )


@pytest.mark.timeout(60)
def test_a_restore_beside_another_restore_names_that_restore(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "b"
    make_store(target)
    before = records(target)
    big = write_dump(
        tmp_path / "big.dump", Header(1, "now", DATA_TABLES), _many(30_000)
    )
    small = write_dump(tmp_path / "small.dump", Header(1, "now", (Table.KV,)), ())
    main_fd, side_fd = os.openpty()
    attrs = termios.tcgetattr(side_fd)
    attrs[0] |= termios.IXON
    termios.tcsetattr(side_fd, termios.TCSANOW, attrs)
    first = subprocess.Popen(
        [
            *(sys.executable, "-m", "raspy.cli.kv", "restore"),
            *("--replace", "--data-dir", str(target), str(big)),
        ],
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
        os.write(main_fd, _XOFF)  # its next step blocks, inside its txn
        status, out, err = run(
            ["restore", "--data-dir", str(target), str(small)], capsys
        )
        assert first.poll() is None, "the first restore ended: nothing held"
        assert (status, out, err) == (
            1,
            "",
            f"raspy-kv restore: data dir {target} is in use by another process"
            f" (pid {first.pid}): another raspy-kv restore is writing it; let that"
            " restore end, then restore again\n",
        )
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
        os.close(main_fd)
    assert records(target) == before  # the first one, killed, wrote nothing either
