"""BrokerCore when a peer is gone without a word: a worker the ROUTER can no longer
reach (peer_gone, docs/protocols.md §1.3), the in-process workers of an actor that
died or detached (forget_local)."""

from __future__ import annotations

from support.broker_frames import (
    C1,
    C2,
    SVC,
    T0,
    V01,
    V02,
    W1,
    W2,
    core_fixture,  # noqa: F401  # fixture `core`
    heartbeat,
    ready,
    reply,
    request,
    sends,
)

from raspy.cores.broker import BrokerCore
from raspy.cores.broker_output import (
    Send,
    ServiceAvailability,
    WorkerRegistered,
    WorkerRemoved,
)
from raspy.cores.broker_state import LOCAL_PREFIX


def _job() -> list[bytes]:
    """The REQUEST of C1's "switch on" to a 0.2 worker."""
    return [b"MDPW02", b"\x02", C1, b"", b"switch on"]


def test_a_request_sent_to_an_unreachable_worker_waits_for_the_next_one(
    core: BrokerCore,
) -> None:
    """A board rebooted without DISCONNECT: its REQUEST could not be sent. The
    worker was kept busy until its busy timeout (900 s), then the request went to
    the board's new worker, a command carried out 15 minutes late; now the worker
    is forgotten at once and the request waits for the next worker."""
    core.on_frames(W1, ready(V02), T0)
    assert core.on_frames(C1, request(V02, b"switch on"), T0 + 1) == [Send(W1, _job())]
    assert core.peer_gone(W1, T0 + 1) == [
        WorkerRemoved(SVC, W1, "unreachable"),
        ServiceAvailability(SVC, False),
    ]
    assert core.worker_counts() == {}
    assert core.stats()["queued"] == 1
    assert core.on_frames(W2, ready(V02), T0 + 20) == [
        WorkerRegistered(SVC, W2, V02),
        ServiceAvailability(SVC, True),
        Send(W2, _job()),
    ]
    stats = core.stats()
    assert stats["unreachable_workers"] == 1
    assert stats["redispatched"] == 1


def test_a_request_sent_to_an_unreachable_worker_goes_to_an_idle_one_at_once(
    core: BrokerCore,
) -> None:
    core.on_frames(W1, ready(V02), T0)
    core.on_frames(W2, ready(V01), T0)
    assert sends(core.on_frames(C1, request(V02, b"switch on"), T0 + 1)) == [
        Send(W1, _job())
    ]
    assert core.peer_gone(W1, T0 + 1) == [
        WorkerRemoved(SVC, W1, "unreachable"),
        Send(W2, [b"", b"MDPW01", b"\x02", C1, b"", b"switch on"]),
    ]
    assert core.on_frames(W2, [b"", b"MDPW01", b"\x03", C1, b"", b"on"], T0 + 2) == [
        Send(C1, [b"MDPC02", b"\x03", SVC, b"on"])
    ]


def test_an_idle_unreachable_worker_is_forgotten(core: BrokerCore) -> None:
    """Its HEARTBEAT could not be sent: it gets no request any more, and its
    service is gone from MMI at once, not after the silence."""
    core.on_frames(W1, ready(V02), T0)
    assert core.on_tick(T0 + 2.5) == [Send(W1, heartbeat(V02))]
    assert core.peer_gone(W1, T0 + 2.5) == [
        WorkerRemoved(SVC, W1, "unreachable"),
        ServiceAvailability(SVC, False),
    ]
    assert not core.has_workers(SVC)
    assert core.on_tick(T0 + 10) == []  # no HEARTBEAT, no expiry: nothing to do


def test_requests_that_never_reached_their_workers_are_not_dropped_as_workers_lost(
    core: BrokerCore,
) -> None:
    """A REQUEST that could not be sent did not end its worker (MAX_WORKERS_LOST
    guards against requests that do): four boards gone, the fifth serves it."""
    workers = [bytes([0, 0, 0, 0, n]) for n in range(1, 6)]
    for worker in workers:
        core.on_frames(worker, ready(V02), T0)
    out = core.on_frames(C1, request(V02, b"switch on"), T0 + 1)
    for gone in workers[:4]:
        assert Send(gone, _job()) in out
        out = core.peer_gone(gone, T0 + 1)
    assert Send(workers[4], _job()) in out
    assert core.stats()["unreachable_workers"] == 4
    assert "dropped.workers_lost" not in core.stats()


def test_a_worker_unreachable_after_its_request_went_out_counts_as_lost(
    core: BrokerCore,
) -> None:
    """A HEARTBEAT that cannot be sent after the REQUEST went out: the worker may
    have died of the request, so it counts towards MAX_WORKERS_LOST."""
    workers = [bytes([0, 0, 0, 0, n]) for n in range(1, 4)]
    core.on_frames(C1, request(V02, b"poison"), T0)
    now = T0
    for worker in workers:
        assert Send(worker, [b"MDPW02", b"\x02", C1, b"", b"poison"]) in (
            core.on_frames(worker, ready(V02), now)
        )
        now += 2.5
        assert Send(worker, heartbeat(V02)) in core.on_tick(now)
        out = core.peer_gone(worker, now)
    assert core.stats()["dropped.workers_lost"] == 1
    assert [o for o in out if isinstance(o, Send)] == []


def test_a_client_that_is_gone_changes_nothing(core: BrokerCore) -> None:
    """Its reply could not be delivered (it retried on a new socket): the edge
    counts it, the broker has nothing to undo."""
    core.on_frames(W1, ready(V02), T0)
    core.on_frames(C1, request(V02, b"job"), T0)
    core.on_frames(W1, reply(V02, C1, b"done"), T0 + 1)
    before = (core.stats(), core.worker_counts())
    assert core.peer_gone(C1, T0 + 1) == []
    assert core.peer_gone(C2, T0 + 1) == []
    assert (core.stats(), core.worker_counts()) == before


# ---------------------------------------------------------------- in-process owners

OWNER = LOCAL_PREFIX + b"titanic.1"
OWNED = [OWNER + b"/w0", OWNER + b"/w1", OWNER + b"/w2"]
OTHER = LOCAL_PREFIX + b"titanic.10/w0"  # `owner` is no prefix of its id
LIVE = LOCAL_PREFIX + b"live"


def test_the_workers_of_a_dead_actor_are_forgotten_and_their_request_sent_again(
    core: BrokerCore,
) -> None:
    """An actor that died without DISCONNECT (an on_start that failed after READY)
    left in-process workers, which never expire, each to take a request for ever:
    they are forgotten with its owner id, and a request held by one goes to a live
    worker, neither to another of the dead actor's nor dropped as workers lost."""
    for worker in [*OWNED, OWNER, OTHER, LIVE]:
        core.on_frames(worker, ready(V02), T0)
    assert sends(core.on_frames(C1, request(V02, b"switch on"), T0 + 1)) == [
        Send(OWNED[0], _job())
    ]
    out = core.forget_local(OWNER, "owner_dead", T0 + 2)
    removed = [o for o in out if isinstance(o, WorkerRemoved)]
    assert sorted(o.worker for o in removed) == sorted([*OWNED, OWNER])
    assert {o.reason for o in removed} == {"owner_dead"}
    assert sends(out) == [Send(OTHER, _job())]
    assert core.worker_counts()[SVC].busy == 1
    assert core.worker_counts()[SVC].idle == 1  # LIVE
    assert core.stats()["redispatched"] == 1


def test_forgetting_an_owner_without_workers_changes_nothing(
    core: BrokerCore,
) -> None:
    core.on_frames(LIVE, ready(V02), T0)
    assert core.forget_local(OWNER, "detached", T0) == []
    assert core.worker_counts()[SVC].idle == 1
