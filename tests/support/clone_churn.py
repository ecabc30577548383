"""Subscribers that come and go while a real Clone server publishes: run as a child
process by tests/integration/test_clone_subscriber_churn.py, so a crash in libzmq's
I/O thread shows as this process's exit status instead of taking pytest down.

Usage, from tests/: python -m support.clone_churn DATA_DIR SECONDS. Exits 0 after SECONDS of churn once the
server has stopped cleanly; prints how many subscribers came and went.
"""

from __future__ import annotations

import itertools
import sys
import threading
import time
from pathlib import Path

import zmq

from raspy.clock import SystemClock
from raspy.config import CloneConfig, StoreConfig
from raspy.storage.store import Store
from support.clonesrv import clone_server

# every size class, so a server that followed the sizes would change its SNDHWM
SIZES = (16, 4096, 60_000, 32, 1024)


def _churn(context: zmq.Context[zmq.Socket[bytes]], endpoint: str, until: float) -> int:
    """Connect, subscribe, read a little, leave; again and again. Own sockets only."""
    count = 0
    while time.monotonic() < until:
        sub = context.socket(zmq.SUB)
        sub.setsockopt(zmq.LINGER, 0)
        sub.setsockopt(zmq.SUBSCRIBE, b"")
        sub.connect(endpoint)
        if sub.poll(5):
            sub.recv_multipart()
        sub.close()
        count += 1
    return count


def main(data_dir: Path, seconds: float) -> int:
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    store = Store.open(data_dir, StoreConfig(map_size_initial_mb=4))
    counts: list[int] = []
    try:
        quick = CloneConfig(hugz_interval_s=0.05)
        with clone_server(context, store, SystemClock(), config=quick) as server:
            until = time.monotonic() + seconds
            endpoint = server.endpoints.publisher
            churners = [
                threading.Thread(
                    target=lambda: counts.append(_churn(context, endpoint, until)),
                    name=f"churn-{index}",
                )
                for index in range(4)
            ]
            for thread in churners:
                thread.start()
            for index in itertools.count():
                if time.monotonic() >= until:
                    break
                body = b"v" * SIZES[index % len(SIZES)]
                server.publisher.set(b"/churn/%d" % (index % 50), body)
                if index % 20 == 0:
                    server.turn()  # let the loop keep up
            for thread in churners:
                thread.join(timeout=30)
    finally:
        store.close()
        context.term()
    sys.stdout.write(f"subscribers={sum(counts)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), float(sys.argv[2])))
