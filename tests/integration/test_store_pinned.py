"""A reader of another process that holds an old snapshot (a `raspy-kv dump` whose
stdout nobody reads) keeps the pages freed since from being reused: the store fills.
The writer names it, in the store-full error and in a warning of its reader check
(storage.pins)."""

from __future__ import annotations

import fcntl
import signal
import struct
import subprocess
import sys
import termios
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs
from support.store_fixtures import (
    data_dir_fixture,  # noqa: F401  # fixture `data_dir`
)
from support.wait import wait_until

from raspy.config import StoreConfig
from raspy.errors import StoreFullError
from raspy.storage import pins, writer
from raspy.storage.store import Put, Store, Table

SMALL = StoreConfig(map_size_initial_mb=1, map_size_max_mb=4)
VALUE = b"v" * 10_000


def _churn(store: Store, round_: int) -> None:
    """One commit that rewrites 20 values: ~200 KB of pages freed each time."""
    store.commit(
        [Put(Table.CRON, b"k%02d" % i, VALUE + b"%d" % round_) for i in range(20)]
    )


def _pipe_bytes(fd: int) -> int:
    raw = fcntl.ioctl(fd, termios.FIONREAD, struct.pack("i", 0))
    count: int = struct.unpack("i", raw)[0]
    return count


@pytest.fixture(name="stalled_dump")
def stalled_dump_fixture(data_dir: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A real `raspy-kv dump` to a pipe nobody reads, blocked in its read txn."""
    with capture_logs(), Store.open(data_dir, SMALL) as store:
        _churn(store, 0)
    dump = subprocess.Popen(
        [sys.executable, "-m", "raspy.cli.kv", "dump", "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert dump.stdout is not None
        # the pipe is full (64 KB of ~200 KB): the dump waits in its write, txn open
        wait_until(
            lambda: _pipe_bytes(dump.stdout.fileno()) >= 60_000,  # type: ignore[union-attr]
            what="the dump to fill its pipe",
            timeout_s=20,
        )
        yield dump
    finally:
        if dump.poll() is None:
            dump.kill()
        dump.communicate()


@pytest.mark.timeout(60)
def test_the_store_full_error_names_the_dump_that_pins_it_and_room_comes_back_when_it_dies(
    data_dir: Path, stalled_dump: subprocess.Popen[bytes]
) -> None:
    with capture_logs(), Store.open(data_dir, SMALL) as store:

        def fill() -> None:
            for round_ in range(1, 200):  # 4 MB at ~200 KB a commit: ~20 commits
                _churn(store, round_)

        with pytest.raises(StoreFullError) as caught:
            fill()
        message = str(caught.value)
        assert message.startswith(
            f"store in {data_dir} is full: the map reached its maximum of 4 MB "
            "(store.map_size_max_mb); but a reader keeps the pages freed since its"
            f" snapshot from being reused: pid {stalled_dump.pid} (raspy.cli.kv dump"
            f" --data-dir {data_dir}"
        ), message
        assert " commits old. End it (a `raspy-kv dump` whose output nobody reads," in (
            message
        )
        stalled_dump.send_signal(signal.SIGKILL)  # its reader slot stays, stale
        stalled_dump.wait(timeout=10)
        _churn(store, 500)  # the dead reader's slot cleared: the freed pages reused
        assert f" {stalled_dump.pid} " not in store._env._env.readers()  # cleared


@pytest.mark.timeout(60)
def test_the_reader_check_warns_once_of_a_reader_that_holds_a_snapshot_for_long(
    data_dir: Path,
    stalled_dump: subprocess.Popen[bytes],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(writer, "_READER_CHECK_INTERVAL_S", 0.05)
    monkeypatch.setattr(pins, "LONG_HELD_S", 0.3)
    with capture_logs() as logs, Store.open(data_dir, SMALL) as store:
        env = store._env
        checks = [0]
        looked = env.pinning_readers

        def counted() -> list[pins.Pin]:
            checks[0] += 1
            return looked()

        monkeypatch.setattr(env, "pinning_readers", counted)
        _churn(store, 1)  # the dump's snapshot is now one commit behind

        def warned() -> list[MutableMapping[str, Any]]:
            return [e for e in logs if e["event"] == "store_reader_holds_old_snapshot"]

        first = wait_until(warned, what="the warning", timeout_s=10)[0]
        later = checks[0] + 5
        wait_until(lambda: checks[0] >= later, what="five more reader checks")
    assert len(warned()) == 1  # once for that snapshot, not at every check
    command = f"raspy.cli.kv dump --data-dir {data_dir}"
    assert (first["pid"], first["command"], first["commits_behind"]) == (
        stalled_dump.pid,
        command,
        1,
    )
    assert first["text"] == (
        f"pid {stalled_dump.pid} ({command}) holds a snapshot 1 commit old"
    )
