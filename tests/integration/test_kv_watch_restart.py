"""`raspy-kv watch` across a hub that goes away and comes back on an older store: one
stderr line when it is lost, one when it is back, and stdout as always (the
differences as changes, their sequence numbers lower than before)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import IO

import pytest
import zmq
from support.clock import FakeClock
from support.clonesrv import CloneServer, clone_server
from support.net import free_port_base
from support.wait import wait_until

from raspy.config import CloneConfig, StoreConfig
from raspy.protocol import clone
from raspy.storage.store import Put, Store
from raspy.storage.tables import LAST_SEQ_KEY, Table, encode_kv, encode_seq

Context = zmq.Context[zmq.Socket[bytes]]
FAST = CloneConfig(hugz_interval_s=0.1)


class _Lines:
    """A stream of the watcher's, read a line at a time on a thread of its own."""

    def __init__(self, stream: IO[str]) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(stream,))
        self._thread.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.append(line.rstrip("\n"))

    def join(self) -> None:
        self._thread.join(timeout=10)


@contextmanager
def _started(
    context: Context, store: Store, clock: FakeClock, endpoints: clone.Endpoints
) -> Iterator[CloneServer]:
    """A Clone server on these endpoints; tried again while the last one's ports are
    still being released."""
    deadline = time.monotonic() + 10
    while True:
        stack = ExitStack()
        try:
            server = stack.enter_context(
                clone_server(context, store, clock, config=FAST, endpoints=endpoints)
            )
        except Exception:  # a bind that fails: the port is not free yet
            stack.close()
            if time.monotonic() >= deadline:
                raise
            threading.Event().wait(0.1)
            continue
        with stack:
            yield server
        return


@pytest.mark.timeout(60)
def test_watch_says_when_the_hub_is_lost_and_when_it_is_back(
    zmq_context: Context, tmp_path: Path, clock: FakeClock
) -> None:
    base = free_port_base()
    endpoints = clone.Endpoints.from_port_base("127.0.0.1", base)
    older = Store.open(tmp_path / "older", StoreConfig(map_size_initial_mb=1))
    newer = Store.open(tmp_path / "newer", StoreConfig(map_size_initial_mb=1))
    older.commit(
        [
            Put(Table.KV, b"/w/a", encode_kv(1, b"old", {}, None)),
            Put(Table.KV_META, LAST_SEQ_KEY, encode_seq(1)),
        ]
    )
    watcher = subprocess.Popen(
        [
            *(sys.executable, "-m", "raspy.cli.kv", "watch", "/w/"),
            *("--server", f"127.0.0.1:{base}", "--timeout", "20"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert watcher.stdout is not None
    assert watcher.stderr is not None
    out, err = _Lines(watcher.stdout), _Lines(watcher.stderr)
    try:
        with _started(zmq_context, newer, clock, endpoints) as hub:

            def seen_one() -> bool:  # the watcher is synced once it prints one
                if not out.lines:
                    hub.publisher.set(b"/w/a", b"new")
                return bool(out.lines)

            wait_until(seen_one, what="the watcher's first line", timeout_s=20)
        assert err.lines == []  # nothing said while the hub was there
        wait_until(
            lambda: err.lines,
            what="a line saying the hub is lost",
            timeout_s=15,  # the client's 5 s of silence, and its poll
        )
        assert err.lines == [
            f"raspy-kv watch: lost the hub at tcp://127.0.0.1:{base + 2}; waiting for it "
            "to come back"
        ]
        printed = len(out.lines)
        with _started(zmq_context, older, clock, endpoints):
            wait_until(
                lambda: len(err.lines) == 2 and len(out.lines) > printed,
                what="a line saying the hub is back, then its differences",
                timeout_s=20,
            )
        assert err.lines[1] == (
            "raspy-kv watch: the hub is back: the tree was read again (seq 1); what "
            "changed meanwhile follows"
        )
        assert out.lines[printed:] == ["1 /w/a old"]  # stdout's format unchanged
        assert all(line.endswith(" /w/a new") for line in out.lines[:printed])
    finally:
        watcher.terminate()
        watcher.wait(timeout=10)
        out.join()
        err.join()
        watcher.stdout.close()
        watcher.stderr.close()
        older.close()
        newer.close()
