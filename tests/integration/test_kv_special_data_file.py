"""A data.mdb that is a FIFO, a device or a socket has size 0, as an empty file has:
it was taken for a lost store, and a restore into its data dir (which the refusal
itself advised) hung on the FIFO, or wrote into the device. It is named for what it
is, by every raspy-kv command, and left where it is."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from support.kv_cli import make_store, run, write_dump

from raspy.storage.damage import DATA_FILE
from raspy.storage.dump import Header
from raspy.storage.tables import Table

pytestmark = pytest.mark.timeout(30)


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _device(path: Path) -> None:
    path.symlink_to("/dev/null")


def _socket(path: Path) -> None:
    with socket.socket(socket.AF_UNIX) as bound:
        bound.bind(str(path))


@pytest.mark.parametrize(
    ("make", "kind"),
    [(_fifo, "a FIFO"), (_device, "a character device"), (_socket, "a socket")],
)
@pytest.mark.parametrize("command", ["restore", "check", "dump"])
def test_a_data_file_that_is_no_file_is_named_and_left_alone(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    make: Callable[[Path], None],
    kind: str,
    command: str,
) -> None:
    make_store(data_dir := tmp_path / "data")
    (data_dir / DATA_FILE).unlink()
    make(data_file := data_dir / DATA_FILE)
    dump = write_dump(tmp_path / "x.dump", Header(2, "now", (Table.KV,)), ())
    argv = [command, "--data-dir", str(data_dir)]
    status, out, err = run([*argv, str(dump)] if command == "restore" else argv, capsys)
    assert (status, out) == (1, "")
    assert err == (
        f"raspy-kv {command}: {data_file} is {kind}, not a file: no store is in it,"
        " and none can be written into it; move it aside, then restore a dump with"
        f" `raspy-kv restore --data-dir {data_dir} FILE`\n"
    )
    assert data_file.is_symlink() or not data_file.is_file()  # still there, as it was
