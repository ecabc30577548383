"""Another process that holds a data dir for writing, as a running raspyd would."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_HOLDER = """
import sys
from raspy import log
from raspy.storage.store import Store, Put, Table
log.configure("warning")
store = Store.open(sys.argv[1])
store.commit([Put(Table(sys.argv[2]), sys.argv[3].encode(), b"1")])
print("ready", flush=True)
sys.stdin.readline()
store.close()
"""


@contextmanager
def holding_store(data_dir: Path, table: str, key: bytes) -> Iterator[int]:
    """Yield the pid of a process that wrote `key` = b"1" and keeps the store open;
    on exit it closes the store and must exit 0 (so the lock went with it)."""
    with subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(data_dir), table, key.decode()],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    ) as holder:
        assert holder.stdout is not None
        assert holder.stdin is not None
        assert holder.stdout.readline() == b"ready\n"
        yield holder.pid
        holder.stdin.write(b"\n")
        holder.stdin.flush()
        assert holder.wait(timeout=10) == 0
