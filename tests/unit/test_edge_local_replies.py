"""A local handler's answers (LocalPeers.replies): each goes straight to its client,
in-process or over the ROUTER, and the broker hears that one handed request is done;
a handler that died is forgotten."""

from __future__ import annotations

import queue

from support.recording_actor import QueueRecorder

from raspy.actors import messages as msgs
from raspy.actors.edge.local import LocalPeers
from raspy.actors.worker import local_peer_id
from raspy.cores.broker import BrokerCore
from raspy.cores.broker_output import LocalRequest
from raspy.protocol import mdp
from raspy.stats import Stats
from raspy.transport.outbox import LOCAL_REPLY_CHANNEL

SERVICE = b"titanic.request"
REMOTE = b"\x00\x80\x00\x00\x01"


def test_answers_go_to_their_clients_and_a_cut_record_is_counted() -> None:
    core, stats = BrokerCore(), Stats()
    core.handle_locally(SERVICE, 4, 0.0)
    peers = LocalPeers(core, stats, lambda outputs: None, lambda peer: None)
    seen: queue.Queue[object] = queue.Queue()
    ref = QueueRecorder.start(seen)
    try:
        owner = local_peer_id("caller")
        assert peers.command(msgs.AttachLocal(owner, ref), 0.0)
        local = local_peer_id("caller", "1")
        sent: list[tuple[bytes, list[bytes]]] = []
        message = [
            LOCAL_REPLY_CHANNEL,
            *(SERVICE, local, b"2", b"a", b"b"),
            *(SERVICE, REMOTE, b"1", b"c"),
            *(SERVICE, REMOTE, b"9", b"cut"),  # says 9 frames, has 1
        ]
        peers.replies(message, lambda peer, frames: sent.append((peer, frames)), 0.0)
        assert sent == [(REMOTE, [b"c"])]
        assert seen.get(timeout=5) == msgs.MdpFrames((b"a", b"b"), local)
        assert stats.counters() == {"edge.outbox.rejected": 1}
    finally:
        ref.stop()


def test_a_dead_handler_is_forgotten_and_its_service_falls_back_to_workers() -> None:
    core, stats = BrokerCore(), Stats()
    peers = LocalPeers(core, stats, lambda outputs: None, lambda peer: None)
    ref = QueueRecorder.start(queue.Queue())
    assert peers.command(msgs.HandleLocally(SERVICE, ref, 4), 0.0)
    ref.stop()
    request = mdp.encode(mdp.ClientRequest(mdp.Version.V02, SERVICE, (b"x",)))
    (handed,) = core.on_frames(REMOTE, request, 0.0)
    assert isinstance(handed, LocalRequest)
    peers.hand(handed)
    peers.flush()  # the tell fails: nobody will answer
    assert stats.counters() == {"edge.local_unroutable": 1}
    assert core.on_frames(REMOTE, request, 0.0) == []  # queued for a worker now
    assert core.stats()["queued"] == 1
