"""A raspy-kv read of a store on a read-only mount (systemd's ReadOnlyPaths=, the
backup unit at boot): LMDB reads it without a reader slot, so a raspyd that starts
meanwhile could reuse the pages being read. The read holds the data dir's lock
shared for as long as it lasts: raspyd's start waits for it to end."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import termios
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from structlog.testing import capture_logs
from support.daemon import Daemon
from support.wait import wait_until

from raspy import packing
from raspy.cli import start_wait
from raspy.errors import StoreBeingReadError
from raspy.storage import lock as lock_mod
from raspy.storage.damage import LMDB_LOCK_FILE
from raspy.storage.store import Put, Store, Table

# the data dir read-only in a private mount namespace, then the command
_READ_ONLY = """
mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" || exit 99
shift && exec "$@"
"""


def _read_only_mount_works() -> bool:
    unshare = shutil.which("unshare")
    if unshare is None:
        return False
    probe = subprocess.run(
        [unshare, "-m", "sh", "-c", "mount --bind / / && mount -o remount,bind,ro / /"],
        capture_output=True,
        timeout=10,
        check=False,
    )
    return probe.returncode == 0


needs_mounts = pytest.mark.skipif(
    not _read_only_mount_works(),
    reason="needs a private mount namespace (unshare -m, as root) for a read-only bind",
)


def _make_store(data_dir: Path) -> None:
    """~200 KB of records: more than a pipe holds, so a dump nobody reads stalls."""
    with capture_logs(), Store.open(data_dir) as store:
        value = packing.pack({"v": "x" * 10_000})
        store.commit([Put(Table.CRON, b"k%02d" % i, value) for i in range(20)])


def _pipe_bytes(fd: int) -> int:
    raw = fcntl.ioctl(fd, termios.FIONREAD, struct.pack("i", 0))
    count: int = struct.unpack("i", raw)[0]
    return count


@contextmanager
def _stalled_read_only_dump(data_dir: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`raspy-kv dump` of the read-only data dir into a pipe nobody reads: it waits
    in its write, its read txn (without a reader slot) open."""
    command = [
        "unshare", "-m", "sh", "-c", _READ_ONLY, "sh", str(data_dir),
        sys.executable, "-m", "raspy.cli.kv", "dump", "--data-dir", str(data_dir),
    ]  # fmt: skip
    dump = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert dump.stdout is not None
        out = dump.stdout.fileno()
        wait_until(
            lambda: _pipe_bytes(out) >= 60_000 or dump.poll() is not None,
            what="the dump to fill its pipe",
            timeout_s=20,
        )
        assert dump.poll() is None, dump.communicate()
        yield dump
    finally:
        if dump.poll() is None:
            dump.kill()
        dump.communicate()


def _events(log_path: Path, event: str) -> list[dict[str, object]]:
    """raspyd's JSON log lines of `event`."""
    lines = log_path.read_text(encoding="utf-8", errors="replace").splitlines()
    found: list[dict[str, object]] = []
    for line in lines:
        with contextlib.suppress(ValueError):
            entry = json.loads(line)
            if isinstance(entry, dict) and entry.get("event") == event:
                found.append(entry)
    return found


def _datagrams(server: socket.socket, seen: list[bytes]) -> list[bytes]:
    """`seen`, with what came on the notify socket since the last call."""
    while True:
        try:
            seen.append(server.recv(4096))
        except BlockingIOError:
            return seen


def _said(seen: list[bytes], line: bytes) -> bool:
    return any(line in message.split(b"\n") for message in seen)


@needs_mounts
@pytest.mark.timeout(90)
@pytest.mark.parametrize("lock_mdb", ["read-only", "missing"])
def test_raspyd_waits_for_a_read_without_a_reader_slot_then_starts(
    tmp_path: Path, lock_mdb: str
) -> None:
    """It exited "in use" naming the pid the last raspyd left in the lock file, and
    systemd's restarts (5 s apart, 5 in 10 minutes) ran out under a read of half a
    minute: raspyd stayed down. It waits (systemd's start timeout pushed back), writes
    nothing while the read lasts, and starts once it ends, the same process."""
    _make_store(data_dir := tmp_path / "data")
    (data_dir / lock_mod.LOCK_NAME).write_text("4242\n")  # a raspyd long gone
    if lock_mdb == "missing":  # LMDB cannot make it on the read-only mount
        (data_dir / LMDB_LOCK_FILE).unlink()
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(str(tmp_path / "notify"))
    server.setblocking(False)
    daemon = Daemon(data_dir)
    env = {**os.environ, "NOTIFY_SOCKET": str(tmp_path / "notify")}
    seen: list[bytes] = []
    extend = b"EXTEND_TIMEOUT_USEC=%d" % (start_wait.EXTEND_BY_S * 1_000_000)
    try:
        with _stalled_read_only_dump(data_dir) as dump:
            with daemon.log_path.open("wb") as log_file:
                daemon.process = subprocess.Popen(
                    daemon.args(), stdout=log_file, stderr=subprocess.STDOUT, env=env
                )
            wait_until(
                lambda: _said(_datagrams(server, seen), extend),
                what="raspyd to push back systemd's start timeout",
                timeout_s=20,
            )
            assert daemon.process.poll() is None, daemon.log_text()
            assert [
                (entry["data_dir"], entry["why"])
                for entry in _events(daemon.log_path, "start_waits_for_reader")
            ] == [(str(data_dir), start_wait.WHY)]
            assert not _said(seen, b"READY=1")
            with capture_logs(), pytest.raises(StoreBeingReadError) as refused:
                Store.open(data_dir)
            assert str(refused.value) == lock_mod.being_read(data_dir)
            assert dump.stdout is not None
            while dump.stdout.read(65536):  # the dump goes on to its end
                pass
            assert dump.wait(timeout=20) == 0
        wait_until(
            lambda: _said(_datagrams(server, seen), b"READY=1"),
            what="raspyd to start once the read ended",
            timeout_s=30,
        )
        ready = next(m for m in seen if b"READY=1" in m.split(b"\n"))
        assert f"MAINPID={daemon.process.pid}".encode() in ready.split(b"\n")
        assert len(_events(daemon.log_path, "start_waits_for_reader")) == 1
        assert daemon.terminate(timeout_s=15) == 0
    finally:
        daemon.kill()
        server.close()


@needs_mounts
@pytest.mark.timeout(60)
def test_a_read_without_a_reader_slot_is_refused_beside_a_writer_lock_mdb_missing(
    tmp_path: Path,
) -> None:
    """A lock.mdb gone from under a running raspyd counts as one that cannot be
    written: the read would take no slot."""
    _make_store(data_dir := tmp_path / "data")
    (data_dir / LMDB_LOCK_FILE).unlink()
    with capture_logs():
        holder = lock_mod.DataDirLock(data_dir)
    try:
        done = subprocess.run(
            [
                "unshare",
                "-m",
                "sh",
                "-c",
                _READ_ONLY,
                "sh",
                str(data_dir),
                sys.executable,
                "-m",
                "raspy.cli.kv",
                "check",
                "--data-dir",
                str(data_dir),
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    finally:
        holder.release()
    lock_file = data_dir / LMDB_LOCK_FILE
    assert (done.returncode, done.stderr) == (
        1,
        f"raspy-kv check: {lock_file} cannot be written, and raspyd (pid {os.getpid()})"
        " writes this store: LMDB would read it without a reader slot, so raspyd"
        f" could reuse the pages being read; make {lock_file} writable (systemd:"
        " ReadWritePaths=) or stop raspyd\n",
    )


@pytest.mark.timeout(30)
def test_a_filesystem_without_flock_is_no_writer_to_lock_holder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """flock's ENOLCK (an NFS mount without its lock daemon) escaped raspy-kv as an
    internal error: no writer can hold a flock there either."""
    (tmp_path / lock_mod.LOCK_NAME).write_text("123\n")

    def no_locks(fd: int, operation: int) -> None:
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    monkeypatch.setattr(fcntl, "flock", no_locks)  # the module lock.py uses
    assert lock_mod.lock_holder(tmp_path) is None
    guard = lock_mod.ReadLock(tmp_path)
    assert guard.writer is None
    guard.release()
