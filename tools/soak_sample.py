"""The soak's samples of a raspyd: RSS, threads, open fds and sockets (/proc), the
store's used pages, the entries of every table and the Clone keys per top-level
subtree (a reader of its own), the log's size, and the gauges of its statistics
services. Imported by tools/soak.py (not installed)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import lmdb
from benchproc import rss_mb  # tools/ is not a package

from raspy.client import Client, ClientTimeout
from raspy.names import short_hostname

HOST = short_hostname()


@dataclass
class Sample:
    at: float
    values: dict[str, float]


def _threads_and_fds(pid: int) -> tuple[int, int]:
    threads = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            threads = int(line.split()[1])
    return threads, len(list(Path(f"/proc/{pid}/fd").iterdir()))


def _sockets(pid: int) -> int:
    count = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            count += "socket:" in str(fd.readlink())
        except OSError:
            continue
    return count


def _store(data_dir: Path) -> dict[str, float]:
    """Used pages, entries per table and Clone keys per top-level subtree, read
    through a reader of its own (LMDB readers work beside the writer)."""
    env = lmdb.open(
        str(data_dir), readonly=True, lock=True, max_dbs=16, subdir=True, create=False
    )
    try:
        values: dict[str, float] = {"store.pages": env.info()["last_pgno"] + 1}
        with env.begin() as txn:
            names = [bytes(key) for key, _ in txn.cursor()]
            for name in names:
                table = env.open_db(name, txn=txn, create=False)
                values[f"table.{name.decode()}"] = txn.stat(table)["entries"]
                if name == b"kv":
                    for key in txn.cursor(db=table).iternext(values=False):
                        top = bytes(key).split(b"/")[1].decode(errors="replace")
                        values[f"kv./{top}/"] = values.get(f"kv./{top}/", 0) + 1
        return values
    finally:
        env.close()


# gauges of raspyd's own statistics services worth following: what the broker and
# the Clone server hold in memory right now (Titanic's in-memory state shows in its
# tables: a request is in memory while it is stored)
GAUGES = {
    "edge": ("workers", "services", "queued"),
    "clone": ("ephemeral_keys",),
}


def _gauges(endpoint: str) -> dict[str, float]:
    found: dict[str, float] = {}
    for part, names in GAUGES.items():
        try:
            with Client(endpoint, timeout_s=2.0, retries=1) as client:
                reply = client.request(f"{HOST}.{part}.statistics", "all")
        except ClientTimeout:
            continue
        values = json.loads(reply[-1]) if reply[0] == b"200" else {}
        for name in names:
            if isinstance(values.get(name), dict):
                found[f"{part}.{name}"] = float(values[name]["value"])
    return found


def sample(pid: int, data_dir: Path, log_path: Path, endpoint: str) -> Sample:
    threads, fds = _threads_and_fds(pid)
    values = {
        "rss_mb": rss_mb(pid),
        "threads": threads,
        "fds": fds,
        "sockets": _sockets(pid),
        "log_kb": log_path.stat().st_size / 1024,
        **_store(data_dir),
        **_gauges(endpoint),
    }
    return Sample(time.monotonic(), values)
