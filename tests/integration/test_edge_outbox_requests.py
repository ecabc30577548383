"""In-process clients' requests through the edge's outbox, one at a time and batched
(Titanic's dispatch): each good one reaches the broker and its reply comes back to
its owner, in order; each fault is counted as edge.outbox.rejected."""

from __future__ import annotations

import queue
from collections.abc import Callable

import zmq
from support.clock import FakeClock
from support.recording_actor import QueueRecorder

from raspy.actors import messages as msgs
from raspy.actors.edge import EdgeLoop, EdgeSettings
from raspy.actors.worker import local_peer_id
from raspy.cores.broker import BrokerCore
from raspy.protocol import mdp
from raspy.stats import Stats
from raspy.transport.outbox import MDP_REQUEST_CHANNEL, pack_patience


class _Registrations:
    """The runner's register() only: the test turns the loop by hand."""

    def __init__(self) -> None:
        self.handlers: list[Callable[[int], None]] = []

    def register(self, _source: object, handler: Callable[[int], None]) -> None:
        self.handlers.append(handler)


def _ask(service: bytes) -> list[bytes]:
    """An mmi.service request: the broker answers it at once (404 here)."""
    return mdp.encode(mdp.ClientRequest(mdp.Version.V02, b"mmi.service", (service,)))


_ANSWER = (b"MDPC02", b"\x03", b"mmi.service", b"404")


def test_good_requests_are_answered_in_order_and_each_fault_counted(
    zmq_context: zmq.Context[zmq.Socket[bytes]],
) -> None:
    stats = Stats()
    loop = EdgeLoop(
        zmq_context, EdgeSettings("tcp://127.0.0.1:*"), BrokerCore(), FakeClock(), stats
    )
    loop.open(_Registrations())  # type: ignore[arg-type]  # register() is all it uses
    seen: queue.Queue[object] = queue.Queue()
    ref = QueueRecorder.start(seen)
    try:
        loop.execute(msgs.AttachLocal(local_peer_id("caller"), ref))
        one, two, three = (local_peer_id("caller", f"r{n}") for n in (1, 2, 3))
        outbox, patience = loop.outbox, pack_patience(5.0)
        outbox.send_mdp_request(one, _ask(b"a"), 5.0)
        outbox.send([MDP_REQUEST_CHANNEL, three, b"not a patience", *_ask(b"x")])
        outbox.send([MDP_REQUEST_CHANNEL, three])  # cut before its patience
        outbox.send_mdp_batch(
            [
                *(two, patience, b"%d" % len(_ask(b"b")), *_ask(b"b")),
                *(three, b"bad", b"%d" % len(_ask(b"y")), *_ask(b"y")),
                *(three, patience, b"9", b"cut short"),
            ]
        )
        assert loop.execute(msgs.Settle()) is None
        assert seen.get(timeout=5) == msgs.MdpFrames(_ANSWER, one)
        assert seen.get(timeout=5) == msgs.MdpFrames(_ANSWER, two)
        assert stats.counters() == {"edge.outbox.rejected": 4}
        ref.stop()  # after what it was told: nothing for the faulty ones
        assert seen.empty()
    finally:
        ref.stop()
        loop.close()
