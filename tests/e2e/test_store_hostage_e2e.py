"""No reader holds the store hostage (issue 18): a snapshot client that reads slowly
(about 80 messages a second) keeps its read view for [limits] snapshot_max_s at most,
and the map grows ahead of need, so Clone writes and titanic.request go on meanwhile.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import zmq
from support.daemon import running_daemon
from support.wait import wait_until

from raspy.client.clone import CloneClient
from raspy.client.titanic import TitanicClient
from raspy.protocol import clone

pytestmark = pytest.mark.timeout(120)

CONFIG = """
[store]
map_size_initial_mb = 1

[limits]
snapshot_max_s = 3.0
# this test is about readers of the store, not the publisher's budget: the writer,
# subscribed to what it writes, must not be cut off by its own burst
clone_subscriber_queue_bytes = 268435456
"""
KEYS = 3000  # 12 MB: more than the socket buffers hold; 40 s at 80 messages a second
FILL = 4096
BIG = 16 * 1024
WRITES = 300  # 16 KiB each: the 1 MB map must grow a few times
_PACE = threading.Event()  # never set: the slow reader's pause between messages


@contextmanager
def slow_snapshot_reader(endpoint: str, stop: threading.Event) -> Iterator[list[int]]:
    """A DEALER that asks for the whole tree and reads ~80 messages a second.

    The reader's thread owns the DEALER (made, read and closed there): this thread
    only signals it and joins, and leaves socket and context alone if it is stuck.
    """
    received = [0]
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()

    def read() -> None:
        dealer = context.socket(zmq.DEALER)
        try:
            dealer.setsockopt(zmq.RCVHWM, 10)
            dealer.setsockopt(zmq.RCVBUF, 4096)
            dealer.setsockopt(zmq.LINGER, 0)
            dealer.connect(endpoint)
            dealer.send_multipart(clone.encode_icanhaz(b""))
            while not stop.is_set():
                if dealer.poll(100):
                    dealer.recv_multipart()
                    received[0] += 1
                    _PACE.wait(1 / 80)
        finally:
            dealer.close()

    thread = threading.Thread(target=read, name="slow-reader", daemon=True)
    thread.start()
    try:
        yield received
    finally:
        stop.set()
        thread.join(timeout=5)
        if thread.is_alive():
            raise AssertionError(
                "the slow reader did not stop within 5 s; its socket and context "
                "are left open"
            )
        context.term()


def test_a_slow_snapshot_reader_stops_neither_clone_writes_nor_titanic(
    tmp_path: Path,
) -> None:
    with running_daemon(tmp_path / "data", config_text=CONFIG) as daemon:
        endpoints = clone.Endpoints.from_port_base("127.0.0.1", daemon.port_base)
        with CloneClient(daemon.endpoint) as client:
            for index in range(KEYS):
                # confirmed every 25 (100 KiB): under load, unconfirmed sets coalesce
                # into commits so large that one takes the map from under
                # GROW_AHEAD_AT to full, and then it only ever grows as "full"
                confirm = 10.0 if index % 25 == 24 else None
                key = b"/app/fill/%04d" % index
                client.set(key, b"v" * FILL, confirm_timeout_s=confirm)
            client.set(b"/app/fill/done", b"1", confirm_timeout_s=10.0)
            stop = threading.Event()
            with slow_snapshot_reader(endpoints.snapshot, stop) as received:
                wait_until(lambda: received[0] > 0, what="the snapshot to begin")
                titanic = TitanicClient(daemon.endpoint, timeout_s=5.0, retries=1)
                try:
                    for index in range(WRITES):
                        client.set(
                            b"/app/big/%04d" % index,
                            bytes([index % 256]) * BIG,
                            confirm_timeout_s=10.0,
                        )
                        if index % 30 == 0:
                            titanic.submit("nobody.here", b"%d" % index)
                finally:
                    titanic.disconnect()
                # its view was closed (the map had to grow, or too long): the
                # writes above never waited for it
                wait_until(
                    lambda: '"event": "clone_snapshot_abandoned"' in daemon.log_text(),
                    what="the slow snapshot to be cut off",
                    timeout_s=10.0,
                )
                assert received[0] < KEYS
            # with no write to make room for, a slow reader is cut off in time too
            with slow_snapshot_reader(endpoints.snapshot, threading.Event()):
                wait_until(
                    lambda: '"reason": "too_long"' in daemon.log_text(),
                    what="snapshot_max_s to cut the second slow reader off",
                    timeout_s=15.0,
                )
        log = daemon.log_text()
    assert '"reason": "ahead"' in log  # the map grew before a write needed it
