"""A flood of KVSETs on the collector does not grow an in-process subscriber's inbox
without bound: while one is behind, the Clone server stops reading its collector
(raspy.cores.clone_backlog), and the sockets' high-water marks bound what waits."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pykka
import pytest
import zmq
from support.clock import FakeClock
from support.clonesrv import clone_server, snapshot
from support.wait import wait_until

from raspy.actors import messages as msgs
from raspy.actors.clone.intake import DRAIN_BATCH
from raspy.actors.clone.publisher import inbox_length
from raspy.config import StoreConfig
from raspy.cores.clone_backlog import BACKLOG_LIMIT
from raspy.protocol import clone
from raspy.storage.store import Store

Context = zmq.Context[zmq.Socket[bytes]]
FLOOD = 50_000
HELD_S = 60.0  # the subscriber's first message waits this long at most


class Held(pykka.ThreadingActor):
    """A subscriber held at its first message until `release` is set; remembers the
    last key it was told."""

    def __init__(self, release: threading.Event) -> None:
        super().__init__()
        self.release = release
        self.last_key = b""

    def on_receive(self, message: Any) -> None:
        self.release.wait(HELD_S)
        if isinstance(message, msgs.KeyChanged):
            self.last_key = message.key


@pytest.mark.timeout(120)
def test_a_flood_on_the_collector_waits_for_a_subscriber_that_is_behind(
    zmq_context: Context, tmp_path: Path, clock: FakeClock
) -> None:
    store = Store.open(
        tmp_path / "data", StoreConfig(map_size_initial_mb=1, coalesce_interval_s=0.0)
    )
    release = threading.Event()
    held = Held.start(release)
    writer = zmq_context.socket(zmq.XPUB)
    writer.setsockopt(zmq.LINGER, 0)
    try:
        with clone_server(zmq_context, store, clock) as running:
            running.ref.ask(msgs.CloneSubscribe(b"/flood/", held), timeout=5)
            writer.connect(running.endpoints.collector)
            assert writer.recv() == b"\x01"  # the collector listens now
            samples = [0]
            for index in range(FLOOD):
                key = b"/flood/%03d" % (index % 500)
                frames = clone.kvset(key, b"%d" % index, index.to_bytes(16, "big"))
                writer.send_multipart(frames)  # past its high-water mark: dropped
                if index % 250 == 0:
                    samples.append(inbox_length(held))

            def settled() -> bool:
                """Paused, and what was accepted is all told (the inbox grows no
                more), or already past the bound (it would grow on)."""
                samples.append(inbox_length(held))
                if samples[-1] > BACKLOG_LIMIT + DRAIN_BATCH:
                    return True
                stats = running.ref.ask(msgs.GetStats(), timeout=5)
                assert isinstance(stats, dict)
                # GetStats: the last number given; the gauge: the last published
                accepted = stats["clone.last_seq"]
                published = running.counter("clone.last_seq")
                paused = running.counter("clone.collector.paused") >= 1
                return paused and accepted == published

            wait_until(settled, what="the collector paused", timeout_s=30)
            held_back = inbox_length(held)
            assert max(samples) <= BACKLOG_LIMIT + DRAIN_BATCH
            assert held_back > BACKLOG_LIMIT // 2  # it was behind, and is still

            # released, it catches up; the server reads on and serves
            release.set()
            last = clone.kvset(b"/flood/last", b"end", bytes(16))

            def arrived() -> bool:
                """Sent again until it comes (as raspy's client does: same UUID, a
                resend is dropped): the writer's queue may still be full."""
                writer.send_multipart(last)
                return bool(held.proxy().last_key.get(timeout=5) == b"/flood/last")

            wait_until(arrived, what="the write after the flood", timeout_s=60)
            wait_until(lambda: inbox_length(held) == 0, what="the subscriber caught up")
            got = snapshot(zmq_context, running.endpoints.snapshot, b"/flood/")
            assert got[-1][0] == clone.KTHXBAI
            keys = {frames[0] for frames in got[:-1]}
            assert b"/flood/last" in keys
            assert len(keys) == 501  # the flood's 500 keys, the last one
    finally:
        release.set()
        writer.close()
        held.stop()
        store.close()
