"""In-process peers that go (LocalPeers): an actor that detaches, or dies without a
word, has its workers forgotten by the broker (in-process workers never expire)."""

from __future__ import annotations

import queue

import pytest
from support.recording_actor import QueueRecorder

from raspy.actors import messages as msgs
from raspy.actors.edge.local import LocalPeers
from raspy.actors.worker import local_peer_id
from raspy.cores.broker import BrokerCore
from raspy.cores.broker_output import BrokerOutput, Send, WorkerRemoved
from raspy.protocol import mdp
from raspy.stats import Stats

SERVICE = b"svc"
OWNER = local_peer_id("owner")
WORKER = local_peer_id("owner", "w0")
READY = mdp.encode(mdp.Ready(mdp.Version.V02, SERVICE))


def test_an_actor_that_detaches_leaves_no_worker_behind() -> None:
    """A worker it did not DISCONNECT first would take a request for ever."""
    core, applied = BrokerCore(), list[BrokerOutput]()
    peers = LocalPeers(core, Stats(), applied.extend, lambda peer: None)
    ref = QueueRecorder.start(queue.Queue())
    try:
        assert peers.command(msgs.AttachLocal(OWNER, ref), 0.0)
        core.on_frames(WORKER, READY, 0.0)
        assert peers.command(msgs.DetachLocal(OWNER), 1.0)
        assert WorkerRemoved(SERVICE, WORKER, "detached") in applied
        assert core.worker_counts() == {}
    finally:
        ref.stop()


@pytest.mark.parametrize("batched", [False, True], ids=["told", "batched"])
def test_an_actor_found_dead_is_passed_on_to_be_forgotten(batched: bool) -> None:
    """Its route goes and the edge is told (it tells the broker once the outputs
    in hand are carried out): once, counted."""
    core, stats, gone = BrokerCore(), Stats(), list[bytes]()
    peers = LocalPeers(core, stats, lambda outputs: None, gone.append)
    ref = QueueRecorder.start(queue.Queue())
    assert peers.command(msgs.AttachLocal(OWNER, ref, batched=batched), 0.0)
    ref.stop()
    core.on_frames(WORKER, READY, 0.0)
    request = mdp.encode(mdp.ClientRequest(mdp.Version.V02, SERVICE, (b"x",)))
    (send,) = core.on_frames(b"\x00client", request, 1.0)
    assert isinstance(send, Send)
    peers.deliver(send.peer, send.frames)
    peers.flush()
    peers.deliver(send.peer, send.frames)  # the route is gone: not told again
    peers.flush()
    assert gone == [OWNER]
    assert stats.counters() == {"edge.local_dead": 1, "edge.local_unroutable": 1}
