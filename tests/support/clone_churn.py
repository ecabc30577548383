"""Subscribers that come and go while a real Clone server publishes: run as a child
process by tests/integration/test_clone_subscriber_churn.py, so a crash in libzmq's
I/O thread shows as this process's exit status instead of taking pytest down.

Usage: python clone_churn.py DATA_DIR SECONDS. Exits 0 after SECONDS of churn once the
server has stopped cleanly; prints how many subscribers came and went.
"""

from __future__ import annotations

import itertools
import sys
import threading
import time
from pathlib import Path

import zmq

from raspy.actors import messages as msgs
from raspy.actors.clone.server import ClonePublisher, CloneServerActor
from raspy.clock import SystemClock
from raspy.config import CloneConfig, StoreConfig
from raspy.protocol import clone
from raspy.stats import Stats
from raspy.storage.store import Store
from raspy.transport.outbox import Outbox

ANY_PORT = clone.Endpoints(
    "tcp://127.0.0.1:*", "tcp://127.0.0.1:*", "tcp://127.0.0.1:*"
)
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
    ref = CloneServerActor.start(
        context,
        store,
        CloneConfig(hugz_interval_s=0.05),
        ANY_PORT,
        clock=SystemClock(),
        stats=Stats(),
        linger_ms=0,
    )
    counts: list[int] = []
    try:
        endpoints = ref.ask(msgs.GetCloneEndpoints(), timeout=10)
        outbox = ref.ask(msgs.GetPublishOutbox(), timeout=5)
        assert isinstance(endpoints, clone.Endpoints)
        assert isinstance(outbox, Outbox)
        publisher = ClonePublisher(outbox)
        until = time.monotonic() + seconds
        churners = [
            threading.Thread(
                target=lambda: counts.append(
                    _churn(context, endpoints.publisher, until)
                ),
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
            publisher.set(b"/churn/%d" % (index % 50), body)
            if index % 20 == 0:
                ref.ask(msgs.GetStats(), timeout=10)  # let the loop keep up
        for thread in churners:
            thread.join(timeout=30)
    finally:
        ref.stop(block=True, timeout=15)
        store.close()
        context.term()
    sys.stdout.write(f"subscribers={sum(counts)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), float(sys.argv[2])))
