"""`raspy-kv watch`'s lines against a real Clone server: a deletion is told apart
from a value that is the very text of the deletion's mark."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path
from typing import IO

import pytest
import zmq
from support.clock import FakeClock
from support.clonesrv import clone_server
from support.net import free_port_base
from support.wait import wait_until

from raspy.config import CloneConfig, StoreConfig
from raspy.protocol import clone
from raspy.storage.store import Store

Context = zmq.Context[zmq.Socket[bytes]]


def _read(stream: IO[str], lines: list[str]) -> None:
    for line in stream:
        lines.append(line.rstrip("\n"))


@pytest.mark.timeout(60)
def test_a_value_that_reads_deleted_is_not_shown_as_a_deletion(
    zmq_context: Context, tmp_path: Path, clock: FakeClock
) -> None:
    """A value `(deleted)` was printed as the key's deletion is: it is shown as
    the bytes of a value that is not plain text are, in hex."""
    base = free_port_base()
    endpoints = clone.Endpoints.from_port_base("127.0.0.1", base)
    with (
        Store.open(tmp_path / "hub", StoreConfig(map_size_initial_mb=1)) as store,
        clone_server(
            zmq_context,
            store,
            clock,
            config=CloneConfig(hugz_interval_s=0.1),
            endpoints=endpoints,
        ) as hub,
    ):
        watcher = subprocess.Popen(
            [
                *(sys.executable, "-m", "raspy.cli.kv", "watch", "/w/"),
                *("--server", f"127.0.0.1:{base}"),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert watcher.stdout is not None
        lines: list[str] = []
        reader = threading.Thread(target=_read, args=(watcher.stdout, lines))
        reader.start()
        try:

            def seen_one() -> bool:  # the watcher is synced once it prints one
                if not lines:
                    hub.publisher.set(b"/w/a", b"(deleted)")
                return bool(lines)

            wait_until(seen_one, what="the watcher's first line", timeout_s=20)
            hub.publisher.delete(b"/w/a")
            hub.publisher.set(b"/w/z", b"end")  # published after the deletion
            wait_until(
                lambda: lines[-1].endswith(" /w/z end"),
                what="the line after the deletion's",
                timeout_s=20,
            )
        finally:
            if watcher.poll() is None:
                watcher.kill()
                watcher.wait()
            reader.join(timeout=10)
            watcher.stdout.close()
    # the sets made until the watcher was synced, then the deletion, alone
    *values, gone, _end = (line.split(" ", 1)[1] for line in lines)
    assert values
    assert set(values) == {"/w/a 0x" + b"(deleted)".hex()}
    assert gone == "/w/a (deleted)"
