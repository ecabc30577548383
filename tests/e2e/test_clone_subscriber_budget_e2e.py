"""The Clone publisher's queue per subscriber is bounded in bytes (issue 18): a
subscriber that never reads holds at most about [limits] clone_subscriber_queue_bytes
of raspyd's memory, the others keep receiving, and one that fell behind is cut off,
counted, logged, and (our own client) recovers through a new snapshot (RFC 12).
"""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import struct
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from support.daemon import Daemon, running_daemon
from support.wait import wait_until

from raspy.client.clone import CloneClient
from raspy.protocol import clone

pytestmark = pytest.mark.timeout(180)

BIG = 16 * 1024
VALUES = 3000  # 48 MB: six times the default budget of 8 MiB
MB = 1024 * 1024


def anon_rss_bytes(pid: int) -> int:
    """The process's anonymous resident memory (the mapped store file left out)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no RssAnon in /proc status")


@contextmanager
def stuck_subscriber(port: int) -> Iterator[socket.socket]:
    """A ZMTP 3.0 SUB peer that subscribes to everything, then never reads."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(5.0)
    sock.connect(("127.0.0.1", port))
    greeting = b"\xff" + bytes(8) + b"\x7f" + bytes([3, 1]) + b"NULL".ljust(20, b"\0")
    sock.sendall(greeting + bytes(32))
    _read_exactly(sock, 64)  # the server's greeting
    ready = b"\x05READY\x0bSocket-Type" + struct.pack(">I", 3) + b"SUB"
    sock.sendall(bytes([0x04, len(ready)]) + ready)
    flags, size = _read_exactly(sock, 2)  # the server's READY command
    assert flags == 0x04
    _read_exactly(sock, size)
    sock.sendall(b"\x00\x01\x01")  # a message: subscribe to every key
    try:
        yield sock
    finally:
        sock.close()


def _read_exactly(sock: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        assert chunk, "the publisher closed the connection"
        data += chunk
    return data


def _publish(daemon: Daemon, prefix: bytes, count: int) -> dict[bytes, bytes]:
    written: dict[bytes, bytes] = {}
    with CloneClient(daemon.endpoint) as writer:
        for index in range(count):
            key = prefix + b"%05d" % index
            written[key] = bytes([index % 256]) * BIG
            # a confirmation comes once the writer's own snapshot is in (16 MB after
            # the first burst, while the resumed client takes one too): generous
            confirm = 30.0 if index % 100 == 99 or index == count - 1 else None
            writer.set(key, written[key], confirm_timeout_s=confirm)
    return written


def test_a_never_reading_subscriber_holds_a_bounded_amount_and_others_keep_up(
    tmp_path: Path,
) -> None:
    """Twice 48 MB go out while a peer reads nothing: raspyd's heap grows by about
    the budget (8 MiB) at most, where a count limit let it hold all of it."""
    with running_daemon(tmp_path / "data") as daemon:
        assert daemon.process is not None
        pid = daemon.process.pid
        endpoints = clone.Endpoints.from_port_base("127.0.0.1", daemon.port_base)
        port = int(endpoints.publisher.rsplit(":", 1)[1])
        with CloneClient(daemon.endpoint, b"/app/") as watcher:
            watcher.wait_synced(timeout_s=10.0)
            for _ in range(2):  # the allocator and the store reach their size
                _publish(daemon, b"/app/big/", VALUES)
            before = anon_rss_bytes(pid)
            with stuck_subscriber(port):
                for _ in range(2):
                    written = _publish(daemon, b"/app/big/", VALUES)
                grown = anon_rss_bytes(pid) - before
            last = max(written)
            wait_until(
                lambda: watcher.get(last) == written[last],
                what="the reading subscriber to get the last value",
                timeout_s=30.0,
            )
            assert all(watcher.get(key) == body for key, body in written.items())
        assert grown < 3 * 8 * MB, f"raspyd grew by {grown / MB:.1f} MB"
        wait_until(
            lambda: '"event": "clone_subscriber_cut_off"' in daemon.log_text(),
            what="the cut-off to be logged",
        )


CHILD = """
import hashlib, sys
from raspy.client.clone import CloneClient
with CloneClient(sys.argv[1]) as client:  # the whole tree: gaps show (§6.7)
    client.wait_synced(timeout_s=10.0)
    print("ready", flush=True)
    for line in sys.stdin:
        items = client.items(b"/app/")
        digest = hashlib.sha256(repr(sorted(items)).encode()).hexdigest()
        print(len(items), digest, client.stats()["gaps"], flush=True)
"""


def test_our_clone_client_cut_off_while_stopped_recovers_by_a_new_snapshot(
    tmp_path: Path,
) -> None:
    """A client paused (SIGSTOP) while 16 MB go out falls behind by more than the
    budget, misses updates, sees the gap and re-snapshots (RFC 12)."""
    with running_daemon(tmp_path / "data") as daemon:
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, daemon.endpoint],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdin is not None
        assert child.stdout is not None
        try:
            assert child.stdout.readline() == "ready\n"
            os.kill(child.pid, signal.SIGSTOP)
            try:
                written = _publish(daemon, b"/app/big/", 1000)
            finally:
                os.kill(child.pid, signal.SIGCONT)
            # the next update shows the gap (HUGZ carries no sequence, §6.5)
            written.update(_publish(daemon, b"/app/next/", 1))
            expected = hashlib.sha256(repr(sorted(written.items())).encode())

            def child_state() -> list[str]:
                child.stdin.write("dump\n")  # type: ignore[union-attr]  # checked above
                child.stdin.flush()  # type: ignore[union-attr]  # checked above
                return child.stdout.readline().split()  # type: ignore[union-attr]  # checked above

            def caught_up() -> list[str] | None:
                state = child_state()
                return state if state[1] == expected.hexdigest() else None

            state = wait_until(
                caught_up, what="the paused client to catch up", timeout_s=30.0
            )
            assert state is not None
            assert int(state[0]) == 1001
            assert int(state[2]) >= 1  # it saw a sequence gap: it was cut off
        finally:
            child.kill()
            child.communicate(timeout=5)  # closes its pipes
