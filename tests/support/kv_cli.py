"""Run raspy-kv in-process, and build and read data dirs and dump files, for the
raspy-kv tests (tests/integration/test_kv_cli*.py)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from raspy import packing
from raspy.cli import kv
from raspy.storage.dump import Header, Record, dump_lines
from raspy.storage.store import Delete, Put, Store, Table
from raspy.storage.tables import (
    LAST_SEQ_KEY,
    TitanicRequestRecord,
    encode_kv,
    encode_seq,
    encode_titanic_request,
    queue_key,
)

UUID = b"0123456789abcdef0123456789abcdef"
TIME = r"\d+\.\d\d s"
CONTENT = [
    Put(Table.KV, b"/device/pi.fake.t1", encode_kv(4, b"21.5", {"unit": "C"}, None)),
    Put(Table.KV, b"\x00\xffbinary", encode_kv(5, b"\x00\x01", {}, 30.0)),
    Put(Table.KV_META, LAST_SEQ_KEY, encode_seq(5)),
    Put(
        Table.TITANIC_REQUESTS,
        UUID,
        encode_titanic_request(TitanicRequestRecord(b"echo", (b"hi", b"\xfe"), 1.5)),
    ),
    Put(Table.TITANIC_QUEUE, queue_key(1, UUID), UUID),
    Put(Table.SCENARIO, b"scenario.main.conf", packing.pack({"enabled": True})),
    Put(Table.CRON, b"job\x07", packing.pack([1, 2.5, None])),
]


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    capsys.readouterr()
    with capture_logs():  # the store's log lines are not part of the output
        status = kv.run(argv)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def make_store(data_dir: Path, ops: Sequence[Put | Delete] = CONTENT) -> None:
    with capture_logs(), Store.open(data_dir) as store:
        store.commit(ops)


def records(data_dir: Path) -> dict[tuple[Table, bytes], bytes]:
    with capture_logs(), Store.open(data_dir, readonly=True) as store:
        return {(t, k): v for t in Table for k, v in store.scan(t)}


def write_dump(path: Path, header: Header, recs: tuple[Record, ...]) -> Path:
    path.write_bytes(b"".join(dump_lines(header, recs)))
    return path


def kv_process(port_base: int, *args: str, check: bool = True) -> str:
    """raspy-kv as a user runs it, against the hub at `port_base`: its output (it
    must succeed, if `check`)."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "raspy.cli.kv",
            *args,
            "--server",
            f"127.0.0.1:{port_base}",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=check,
    ).stdout
