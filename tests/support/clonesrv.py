"""A real Clone server for tests: CloneServerActor over a real Store, checked cleanup.

Binds tcp://127.0.0.1:* for all three sockets (LAST_ENDPOINT tells where), unless a
port base is given. HUGZ every 0.1 s keeps client start-up quick.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pykka
import zmq

from raspy.actors import messages as msgs
from raspy.actors.clone.server import ClonePublisher, CloneServerActor
from raspy.clock import Clock
from raspy.config import CloneConfig, LimitsConfig
from raspy.protocol import clone
from raspy.stats import Stats
from raspy.storage.store import Store
from raspy.transport.outbox import Outbox

ANY_PORT = clone.Endpoints(
    "tcp://127.0.0.1:*", "tcp://127.0.0.1:*", "tcp://127.0.0.1:*"
)
FAST = CloneConfig(hugz_interval_s=0.1)
ZERO = b"\x00" * 8  # a KVSET's sequence frame: the server numbers it


def seq(number: int) -> bytes:
    """A sequence frame as RFC 12 writes it: 8 bytes in network order."""
    return struct.pack("!Q", number)


@dataclass
class CloneServer:
    ref: pykka.ActorRef[CloneServerActor]
    endpoints: clone.Endpoints
    publisher: ClonePublisher
    stats: Stats

    def counter(self, name: str) -> float:
        return self.stats.get(name)

    def turn(self) -> None:
        """Let the I/O loop run two full turns (each answer comes mid-turn)."""
        for _ in range(2):
            self.ref.ask(msgs.GetStats(), timeout=5)


@dataclass
class ChpSockets:
    """A raw clone agent's three sockets (zguide model 6 style): a SUB on the
    publisher (its subtree and HUGZ), a DEALER on the snapshot port, a PUB on the
    collector; every one with linger 0."""

    subscriber: zmq.Socket[bytes]
    snapshot: zmq.Socket[bytes]
    publisher: zmq.Socket[bytes]

    @classmethod
    def connect(
        cls,
        context: zmq.Context[zmq.Socket[bytes]],
        server: CloneServer,
        subtree: bytes,
    ) -> ChpSockets:
        made = cls(
            context.socket(zmq.SUB),
            context.socket(zmq.DEALER),
            context.socket(zmq.PUB),
        )
        for sock in (made.subscriber, made.snapshot, made.publisher):
            sock.setsockopt(zmq.LINGER, 0)
        made.subscriber.setsockopt(zmq.SUBSCRIBE, subtree)
        made.subscriber.setsockopt(zmq.SUBSCRIBE, b"HUGZ")
        made.subscriber.connect(server.endpoints.publisher)
        made.snapshot.connect(server.endpoints.snapshot)
        made.publisher.connect(server.endpoints.collector)
        return made


@contextmanager
def clone_server(
    context: zmq.Context[zmq.Socket[bytes]],
    store: Store,
    clock: Clock,
    *,
    config: CloneConfig = FAST,
    endpoints: clone.Endpoints = ANY_PORT,
    stats: Stats | None = None,
    limits: LimitsConfig | None = None,
) -> Iterator[CloneServer]:
    stats = Stats() if stats is None else stats
    ref = CloneServerActor.start(
        context,
        store,
        config,
        endpoints,
        clock=clock,
        stats=stats,
        linger_ms=0,
        limits=limits,
    )
    try:
        bound = ref.ask(msgs.GetCloneEndpoints(), timeout=10)
        assert isinstance(bound, clone.Endpoints)
        publish_outbox = ref.ask(msgs.GetPublishOutbox(), timeout=5)
        assert isinstance(publish_outbox, Outbox)
        publisher = ClonePublisher(publish_outbox)
        yield CloneServer(ref, bound, publisher, stats)
    finally:
        ref.stop(block=True, timeout=15)


def subscriber(
    context: zmq.Context[zmq.Socket[bytes]], endpoint: str, prefix: bytes = b""
) -> zmq.Socket[bytes]:
    """A SUB on the publisher, returned once its subscription is live (a HUGZ came)."""
    sub = context.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.setsockopt(zmq.SUBSCRIBE, prefix)
    if prefix:
        sub.setsockopt(zmq.SUBSCRIBE, clone.HUGZ)
    sub.connect(endpoint)
    for _ in range(100):
        if not sub.poll(3000):
            break
        if sub.recv_multipart()[0] == clone.HUGZ:
            return sub
    sub.close()
    raise AssertionError("no HUGZ on the publisher")


def next_update(sub: zmq.Socket[bytes], timeout_ms: int = 3000) -> list[bytes]:
    """The next non-HUGZ message on a SUB."""
    for _ in range(1000):
        if not sub.poll(timeout_ms):
            break
        frames = sub.recv_multipart()
        if frames[0] != clone.HUGZ:
            return frames
    raise AssertionError(f"no update within {timeout_ms} ms")


def snapshot(
    context: zmq.Context[zmq.Socket[bytes]], endpoint: str, subtree: bytes = b""
) -> list[list[bytes]]:
    """ICANHAZ? on a fresh DEALER; every message up to and including KTHXBAI."""
    dealer = context.socket(zmq.DEALER)
    dealer.setsockopt(zmq.LINGER, 0)
    try:
        dealer.connect(endpoint)
        dealer.send_multipart([clone.ICANHAZ, subtree])
        received: list[list[bytes]] = []
        while True:
            if not dealer.poll(5000):
                raise AssertionError(f"snapshot stopped after {len(received)} messages")
            frames = dealer.recv_multipart()
            received.append(frames)
            if frames[0] == clone.KTHXBAI:
                return received
    finally:
        dealer.close()
