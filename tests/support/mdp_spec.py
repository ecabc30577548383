"""Raw MDP peers for the conformance audit: every frame written out from RFC 7, RFC 18,
RFC 8 and the majortomo dialect (docs/protocols.md §2-§4), never produced by raspy's
codec, so that the broker is judged as an outside tester would judge it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Final

import pykka
import zmq

from raspy.actors import edge as edge_mod
from raspy.actors.messages import GetStats
from raspy.cores.broker import BrokerCore
from raspy.cores.broker_settings import BrokerSettings
from raspy.stats import Stats
from support.clock import FakeClock
from support.wait import wait_until
from support.zmqctx import dealer, recv

Context = zmq.Context[zmq.Socket[bytes]]
Frames = list[bytes]

V01, V02, VMJ = "0.1", "0.2", "majortomo"
DIALECTS = (V01, V02, VMJ)

# ---------------------------------------------------------------- worker frames (peer view)
_WORKER_HEAD = {
    V01: [b"", b"MDPW01"],
    V02: [b"MDPW02"],
    VMJ: [b"", b"MDPW02"],
}
_COMMANDS = {  # READY, REQUEST, PARTIAL, FINAL/REPLY, HEARTBEAT, DISCONNECT
    V01: {"ready": 1, "request": 2, "final": 3, "heartbeat": 4, "disconnect": 5},
    V02: {"ready": 1, "request": 2, "partial": 3, "final": 4, "heartbeat": 5,
          "disconnect": 6},
    VMJ: {"ready": 1, "request": 2, "partial": 3, "final": 4, "heartbeat": 5,
          "disconnect": 6},
}  # fmt: skip


def worker_command(dialect: str, name: str, *rest: bytes) -> Frames:
    """A worker <-> broker command: header, command byte, then `rest`."""
    command = bytes([_COMMANDS[dialect][name]])
    return [*_WORKER_HEAD[dialect], command, *rest]


def ready(dialect: str, service: bytes) -> Frames:
    return worker_command(dialect, "ready", service)


def heartbeat(dialect: str) -> Frames:
    return worker_command(dialect, "heartbeat")


def disconnect(dialect: str) -> Frames:
    return worker_command(dialect, "disconnect")


def final(dialect: str, client: bytes, *body: bytes) -> Frames:
    """REPLY (0.1) or FINAL (0.2, majortomo) to `client`."""
    return worker_command(dialect, "final", client, b"", *body)


def partial(dialect: str, client: bytes, *body: bytes) -> Frames:
    return worker_command(dialect, "partial", client, b"", *body)


def split_request(dialect: str, frames: Frames) -> tuple[bytes, Frames]:
    """(client address, body) of a broker -> worker REQUEST, checking its layout."""
    head = worker_command(dialect, "request")
    assert frames[: len(head)] == head, frames
    client, delimiter, *body = frames[len(head) :]
    assert delimiter == b"", frames
    assert body, frames
    return client, body


# ---------------------------------------------------------------- client frames (peer view)
def client_request(dialect: str, service: bytes, *body: bytes) -> Frames:
    if dialect == V01:
        return [b"", b"MDPC01", service, *body]
    if dialect == V02:
        return [b"MDPC02", b"\x01", service, *body]
    return [b"", b"MDPC02", b"\x02", service, *body]


def client_final(dialect: str, service: bytes, *body: bytes) -> Frames:
    """What a client of `dialect` must receive as the (final) reply."""
    if dialect == V01:
        return [b"", b"MDPC01", service, *body]
    if dialect == V02:
        return [b"MDPC02", b"\x03", service, *body]
    return [b"", b"MDPC02", b"\x04", *body]  # majortomo: no service frame


def client_partial(dialect: str, service: bytes, *body: bytes) -> Frames:
    if dialect == V02:
        return [b"MDPC02", b"\x02", service, *body]
    assert dialect == VMJ, "MDP/0.1 has no PARTIAL"
    return [b"", b"MDPC02", b"\x03", *body]


# ---------------------------------------------------------------- probes
def mmi_service(ctx: Context, endpoint: str, service: bytes) -> bytes:
    """The RFC 8 status code for `service`, asked on a fresh RFC 18 DEALER."""
    probe = dealer(ctx, endpoint)
    try:
        probe.send_multipart([b"MDPC02", b"\x01", b"mmi.service", service])
        reply = recv(probe)
        assert reply[:3] == [b"MDPC02", b"\x03", b"mmi.service"], reply
        return reply[3]
    finally:
        probe.close()


def wait_status(ctx: Context, endpoint: str, service: bytes, status: bytes) -> None:
    wait_until(
        lambda: mmi_service(ctx, endpoint, service) == status,
        what=f"mmi.service {service!r} to answer {status!r}",
    )


_PROBED: Final = b"probe.nobody"  # a service no test registers: mmi.service says 404


def received_before_answer(sock: zmq.Socket[bytes], dialect: str = V02) -> list[Frames]:
    """What the broker sent this peer before the answer to a question it asks now.

    The peer asks mmi.service on its own connection, a worker's too (§3.5: the
    header classifies each message; a client request from a worker's routing id is
    answered like any other). The broker reads a peer's messages in order, and the
    ROUTER sends to a peer in order: all the broker sent this peer before it read
    the question comes before the answer. So once the test knows the broker took the
    step under test (the peer's own earlier message, or a round trip that needed
    it), `[]` proves that step sent the peer nothing; a short poll only showed that
    nothing had come yet.
    """
    sock.send_multipart(client_request(dialect, b"mmi.service", _PROBED))
    answer = client_final(dialect, b"mmi.service", b"404")
    before: list[Frames] = []
    while (frames := recv(sock)) != answer:
        before.append(frames)
        assert len(before) < 100, before[:3]
    return before


def nothing_within(sock: zmq.Socket[bytes], timeout_ms: int = 100) -> bool:
    """True if no message is waiting or arrives within timeout_ms.

    Only for a peer the broker answers nothing at all (received_before_answer
    cannot ask), once the broker has taken its messages.
    """
    return sock.poll(timeout_ms) == 0


# ---------------------------------------------------------------- an edge on a fake clock
@dataclass
class ClockedEdge:
    """A running edge whose BrokerCore reads `clock`; tick() moves it and runs timers."""

    ref: pykka.ActorRef[edge_mod.EdgeActor]
    endpoint: str
    context: Context
    clock: FakeClock

    def tick(self, seconds: float) -> None:
        """Advance the clock, then make sure the edge has run its timers at that time.

        Each ask wakes the runner, which runs its timers after the command; the
        second ask is answered only after the first turn's timers have run.
        """
        self.clock.advance(seconds)
        self.ref.ask(GetStats(), timeout=5)
        self.ref.ask(GetStats(), timeout=5)

    def heartbeat_from(self, worker: zmq.Socket[bytes], frames: Frames) -> None:
        """Send a worker HEARTBEAT and wait until the broker has taken it, so that
        the next tick() cannot overtake it."""
        before = self.stats()["broker.heartbeats_received"]
        worker.send_multipart(frames)
        wait_until(
            lambda: self.stats()["broker.heartbeats_received"] > before,
            what="the broker to take the HEARTBEAT",
        )

    def stats(self) -> dict[str, int]:
        stats = self.ref.ask(GetStats(), timeout=5)
        assert isinstance(stats, dict)
        return stats


@contextmanager
def clocked_edge(ctx: Context, settings: BrokerSettings) -> Iterator[ClockedEdge]:
    clock = FakeClock()
    ref, endpoint, _outbox = edge_mod.start_edge(
        ctx,
        edge_mod.EdgeSettings("tcp://127.0.0.1:*", linger_ms=0),
        BrokerCore(settings),
        clock,
        Stats(),
    )
    try:
        yield ClockedEdge(ref, endpoint, ctx, clock)
    finally:
        ref.stop(block=True, timeout=5)


class Dealers:
    """DEALER sockets a test opens (linger 0), all closed by close_all()."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._made: list[zmq.Socket[bytes]] = []

    def open(self, endpoint: str, routing_id: bytes = b"") -> zmq.Socket[bytes]:
        """A connected DEALER; routing_id, if given, is the one the peer chooses."""
        sock = dealer(self._ctx, endpoint, routing_id)
        self._made.append(sock)
        return sock

    def close_all(self) -> None:
        for sock in self._made:
            sock.close(linger=0)
        self._made.clear()


def registered(
    ctx: Context, endpoint: str, dealers: Dealers, dialect: str, service: bytes
) -> zmq.Socket[bytes]:
    """A DEALER worker of `dialect` that sent READY for `service`, once the broker
    answers mmi.service with 200 for it."""
    worker = dealers.open(endpoint)
    worker.send_multipart(ready(dialect, service))
    wait_status(ctx, endpoint, service, b"200")
    return worker
