"""BrokerCore survives any sequence of frames from several peers, invariants intact.

Issue 3: "It must survive any sequence of frames, which the hypothesis tests show."
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from raspy.cores.broker import BrokerCore
from raspy.cores.broker_output import (
    BrokerOutput,
    Rejected,
    RequestDropped,
    Send,
    ServiceAvailability,
    WorkerRegistered,
    WorkerRemoved,
)
from raspy.cores.broker_settings import BrokerSettings
from raspy.cores.broker_state import LOCAL_PREFIX
from raspy.errors import MalformedMessage
from raspy.protocol import mdp, mdp_decode
from raspy.protocol.frames import FrameLimits

W1 = b"\x00\x80\x00\x00\x11"
W2 = b"\x00\x80\x00\x00\x12"
C1 = b"\x00\x80\x00\x00\x01"
C2 = b"\x00\x80\x00\x00\x02"
L1 = LOCAL_PREFIX + b"local"
PEERS = [W1, W2, C1, C2, L1]
SERVICES = [b"a", b"b", b"mmi.service", b"mmi.workers", b"mmi.x"]
SETTINGS = BrokerSettings(
    heartbeat_interval_s=1.0,
    heartbeat_liveness=3,
    busy_timeout_s=5.0,
    request_ttl_s=4.0,
    max_queue_per_service=3,
    queue_bytes_per_service=900,  # about three small requests (Pending.size)
    queue_bytes_total=1500,
    max_services=2,
    max_workers=2,
    limits=FrameLimits(max_frames=10, max_frame_bytes=64, max_message_bytes=256),
)

versions = st.sampled_from(list(mdp.Version))
bodies = st.lists(st.binary(max_size=4), min_size=1, max_size=4).map(tuple)


@st.composite
def worker_replies(draw: st.DrawFn) -> mdp.WorkerReply:
    version = draw(versions)
    final = True if version is mdp.Version.V01 else draw(st.booleans())
    return mdp.WorkerReply(version, draw(st.sampled_from(PEERS)), draw(bodies), final)


messages = st.one_of(
    st.builds(mdp.ClientRequest, versions, st.sampled_from(SERVICES), bodies),
    st.builds(mdp.Ready, versions, st.sampled_from(SERVICES)),
    worker_replies(),
    st.builds(mdp.Heartbeat, versions),
    st.builds(mdp.Disconnect, versions),
    st.builds(mdp.WorkerRequest, versions, st.sampled_from(PEERS), bodies),
).map(mdp.encode)
garbage = st.lists(
    st.one_of(
        st.sampled_from([b"", b"MDPC01", b"MDPW01", b"MDPC02", b"MDPW02", b"\x01"]),
        st.binary(max_size=6),
    ),
    max_size=12,
)
delays = st.sampled_from([0.0, 0.0, 0.1, 0.5, 1.0, 2.5, 4.0, 6.0])
Step = tuple[bytes | None, list[bytes], float]
steps: st.SearchStrategy[list[Step]] = st.lists(
    st.one_of(
        st.tuples(
            st.sampled_from(PEERS), st.one_of(messages, messages, garbage), delays
        ),
        st.tuples(st.none(), st.just(list[bytes]()), delays),
    ),
    max_size=40,
)


@dataclass
class Model:
    """What the outputs said so far: registered workers and known clients."""

    workers: dict[bytes, tuple[bytes, mdp.Version]] = field(default_factory=dict)
    clients: set[bytes] = field(default_factory=set)

    def apply(
        self,
        outputs: list[BrokerOutput],
        sender: bytes | None,
        *,
        shutdown: bool = False,
    ) -> None:
        for out in outputs:
            match out:
                case Send(peer=peer, frames=frames):
                    self.check_send(peer, frames, sender, shutdown=shutdown)
                case WorkerRegistered(service=service, worker=worker, version=version):
                    assert worker not in self.workers
                    assert worker == sender
                    self.workers[worker] = (service, version)
                case WorkerRemoved(service=service, worker=worker):
                    assert self.workers.pop(worker)[0] == service
                case ServiceAvailability(service=service, available=available):
                    live = any(s == service for s, _ in self.workers.values())
                    assert live is available
                case RequestDropped(client=client):
                    assert client in self.clients
                case Rejected(peer=peer):
                    assert peer == sender

    def check_send(
        self, peer: bytes, frames: list[bytes], sender: bytes | None, *, shutdown: bool
    ) -> None:
        for version in mdp.Version:
            try:
                command = mdp_decode.decode_at_worker(frames, version)
            except MalformedMessage:
                continue
            if isinstance(command, mdp.Disconnect):
                # only to the peer that just spoke, or to everyone at shutdown
                assert peer == sender or (shutdown and peer in self.workers)
            else:
                # never a REQUEST or HEARTBEAT after DISCONNECT or expiry
                assert self.workers[peer][1] is version
            return
        replies = []
        for version in mdp.Version:
            try:
                replies.append(mdp_decode.decode_at_client(frames, version))
            except MalformedMessage:
                continue
        assert replies, f"undecodable send {frames!r}"
        assert peer in self.clients


def check_counts(core: BrokerCore, model: Model) -> None:
    counts = core.worker_counts()
    assert sum(c.idle + c.busy for c in counts.values()) == len(model.workers)
    assert sum(c.v01 + c.v02 + c.majortomo for c in counts.values()) == len(
        model.workers
    )
    assert core.stats()["workers"] == len(model.workers)
    external = [w for w in model.workers if w[:1] != LOCAL_PREFIX]
    assert len(external) <= SETTINGS.max_workers
    assert core.stats()["queued_bytes"] >= 0
    assert (core.stats()["queued"] == 0) is (core.stats()["queued_bytes"] == 0)
    live = sorted({service for service, _ in model.workers.values()})
    assert core.services() == live
    for service in SERVICES:
        assert core.has_workers(service) is (service in live)


def check_deadline_is_never_late(core: BrokerCore, now: float) -> None:
    """Just before next_deadline() (or long after, if None) a tick has nothing to do."""
    deadline = core.next_deadline()
    probe_at = now + 1000.0 if deadline is None else deadline - 1e-6
    if probe_at >= now:
        assert copy.deepcopy(core).on_tick(probe_at) == []


@given(steps)
@settings(max_examples=200, deadline=None)
def test_broker_survives_any_multi_peer_sequence_and_keeps_its_invariants(
    sequence: list[Step],
) -> None:
    """docs/protocols.md §2.7, §2.8: nothing stops the broker or reaches a lost worker."""
    core = BrokerCore(SETTINGS)
    model = Model()
    now = 100.0
    for peer, frames, delay in sequence:
        now += delay
        if peer is None:
            model.apply(core.on_tick(now), None)
            deadline = core.next_deadline()
            assert deadline is None or deadline > now
        else:
            if _is_client_request(frames):
                model.clients.add(peer)
            model.apply(core.on_frames(peer, frames, now), peer)
        check_counts(core, model)
        check_deadline_is_never_late(core, now)
    # Far in the future every external worker has expired and every queue is empty.
    now += 1000.0
    model.apply(core.on_tick(now), None)
    check_counts(core, model)
    assert all(worker[:1] == LOCAL_PREFIX for worker in model.workers)
    assert core.stats()["queued"] == 0
    assert core.stats()["queued_bytes"] == 0
    assert core.next_deadline() is None
    model.apply(core.shutdown(), None, shutdown=True)
    assert model.workers == {}
    assert core.services() == []


def _is_client_request(frames: list[bytes]) -> bool:
    try:
        decoded = mdp_decode.decode_at_broker(frames)
    except MalformedMessage:
        return False
    return isinstance(decoded, mdp.ClientRequest)
